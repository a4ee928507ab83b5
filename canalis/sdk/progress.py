"""Where a declarative read stands: the bounds it asked for, the page it asks for next and the newest cursor seen.

Kept in the stream state's `extra["read"]` while a read is under way, so a read that stops halfway resumes at
the page that was not stored, with the same lower bound; dropped once the read reaches the end, when the
cursor moves to the newest value seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canalis.sdk.base import dig
from canalis.sdk.state import CursorKind, StreamState, compare_cursors, format_cursor

PROGRESS_KEY = "read"


@dataclass
class ReadProgress:
    """One declarative read under way."""

    since: str | None
    started: str
    position: dict[str, Any]
    partition: dict[str, Any] | None = None
    highest: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def resume_or_start(
        cls, state: StreamState, *, since: datetime | str | None, now: datetime, position: dict[str, Any]
    ) -> ReadProgress:
        """The read stored in the state when one was under way, else a new one from `since`."""
        stored = state.extra.get(PROGRESS_KEY)
        if isinstance(stored, dict) and "position" in stored and "started" in stored:
            return cls(
                since=stored.get("since"),
                started=str(stored["started"]),
                position=dict(stored.get("position") or {}),
                partition=stored.get("partition"),
                highest=stored.get("highest"),
                extra=dict(stored.get("extra") or {}),
            )
        since_text = None if since is None else format_cursor(since, state.cursor_kind)
        return cls(since=since_text, started=format_cursor(now, "datetime"), position=position)

    def to_extra(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "started": self.started,
            "position": self.position,
            "partition": self.partition,
            "highest": self.highest,
            "extra": self.extra,
        }

    def saw(self, values: Iterable[Any], kind: CursorKind) -> None:
        """Remember the newest of these cursor values (unreadable ones are skipped)."""
        for value in values:
            text = cursor_text(value, kind)
            if text is not None and (self.highest is None or compare_cursors(text, self.highest, kind) > 0):
                self.highest = text

    def page_state(self, state: StreamState, *, advance: bool) -> StreamState:
        """The state after a page that is not the last: this progress kept; the cursor moved when `advance`."""
        extra = {**state.extra, PROGRESS_KEY: self.to_extra()}
        cursor_state = state.advanced(self.highest) if advance and self.highest is not None else state
        return StreamState(cursor=cursor_state.cursor, cursor_kind=state.cursor_kind, extra=extra)

    def final_state(self, state: StreamState, *, incremental: bool, cap_at_start: bool) -> StreamState:
        """The state once the read reached its end: no progress kept, the cursor at the newest value seen.

        With `cap_at_start` (records not read in cursor order) the cursor stops at the time the read started,
        so rows changed while it ran, possibly behind the page being read, are read again next time.
        """
        extra = {key: value for key, value in state.extra.items() if key != PROGRESS_KEY}
        done = StreamState(cursor=state.cursor, cursor_kind=state.cursor_kind, extra=extra)
        if not incremental or self.highest is None:
            return done
        newest = self.highest
        if cap_at_start and state.cursor_kind == "datetime" and compare_cursors(newest, self.started, "datetime") > 0:
            newest = self.started
        return done.advanced(newest)


def cursor_text(value: Any, kind: CursorKind) -> str | None:
    """A record's cursor value as comparable text, or None when it is missing or unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return format_cursor(value, kind)
    except (TypeError, ValueError):
        return None


def newer_than(records: list[Any], cursor_field: str, since: str | None, kind: CursorKind) -> list[Any]:
    """The records whose cursor is at or after `since` (all of them without one).

    APIs that ignore or round their lower-bound parameter still never hand back what the state already holds;
    records without a readable cursor are kept (record validation decides about them).
    """
    if since is None:
        return records
    kept = []
    for record in records:
        text = cursor_text(dig(record, cursor_field), kind) if isinstance(record, dict) else None
        if text is None or compare_cursors(text, since, kind) >= 0:
            kept.append(record)
    return kept


def cursor_values(records: list[Any], cursor_field: str) -> list[Any]:
    """The cursor value of each record."""
    return [dig(record, cursor_field) for record in records if isinstance(record, dict)]
