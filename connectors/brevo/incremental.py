"""Incremental reads over offset-paged windows: which records are new, and the state that resumes a window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canalis.sdk import StreamState, format_cursor, parse_cursor_datetime


@dataclass
class CursorFilter:
    """Tells whether a record is new relative to the stored cursor, its look-back and the keys seen at it."""

    cursor: datetime | None
    lookback: timedelta
    boundary: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: StreamState, lookback: timedelta) -> CursorFilter:
        """The filter of a stored state."""
        return cls(state.cursor_datetime(), lookback, frozenset(state.extra.get("boundary", [])))

    def since(self) -> datetime | None:
        """The lower bound to ask the API for."""
        return None if self.cursor is None else self.cursor - self.lookback

    def wanted(self, moment: datetime, key: str) -> bool:
        """New, inside the look-back window, or at the cursor but not stored there yet."""
        if self.cursor is None or moment > self.cursor or moment > self.cursor - self.lookback:
            return True
        return moment == self.cursor and key not in self.boundary


@dataclass
class WindowProgress:
    """How far one read window has gone: its offset, when it started and the highest value seen in it."""

    offset: int = 0
    started: datetime | None = None
    highest: datetime | None = None
    keys_at_highest: set[str] = field(default_factory=set)
    params: dict[str, Any] = field(default_factory=dict)

    def saw(self, moment: datetime, key: str) -> None:
        """Record one record's cursor value."""
        if self.highest is None or moment > self.highest:
            self.highest, self.keys_at_highest = moment, {key}
        elif moment == self.highest:
            self.keys_at_highest.add(key)

    def to_extra(self) -> dict[str, Any]:
        """The window as JSON for the stream state."""
        return {
            "offset": self.offset,
            "started": _text(self.started),
            "highest": _text(self.highest),
            "keys_at_highest": sorted(self.keys_at_highest),
            "params": self.params,
        }

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> WindowProgress | None:
        """A window stored in the state, or None."""
        if not extra:
            return None
        return cls(
            offset=int(extra.get("offset", 0)),
            started=_moment(extra.get("started")),
            highest=_moment(extra.get("highest")),
            keys_at_highest=set(extra.get("keys_at_highest", [])),
            params=dict(extra.get("params", {})),
        )


def in_window(state: StreamState, window: WindowProgress) -> StreamState:
    """The state after a page: cursor unchanged, the window's progress kept for a resume."""
    return StreamState(cursor=state.cursor, cursor_kind="datetime", extra={**state.extra, "window": window.to_extra()})


def window_done(state: StreamState, window: WindowProgress, **extra: Any) -> StreamState:
    """The state once a window is read: the cursor moves to the highest value seen, capped at the window's start.

    The cap keeps rows changed while the window was being read (possibly behind the offset) in the next read.
    """
    kept = {key: value for key, value in state.extra.items() if key != "window"} | extra
    current = state.cursor_datetime()
    highest = window.highest
    if highest is None or (current is not None and highest < current):
        return StreamState(cursor=state.cursor, cursor_kind="datetime", extra=kept)
    if window.started is not None and highest > window.started:
        capped = window.started if current is None else max(current, window.started)
        return StreamState(cursor=format_cursor(capped, "datetime"), extra={**kept, "boundary": []})
    boundary = set(window.keys_at_highest)
    if current is not None and highest == current:
        boundary |= set(state.extra.get("boundary", []))
    return StreamState(cursor=format_cursor(highest, "datetime"), extra={**kept, "boundary": sorted(boundary)})


def parse_moment(value: Any) -> datetime | None:
    """A record's timestamp as aware UTC, or None when it is missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_cursor_datetime(value)
    except ValueError:
        return None


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else format_cursor(moment, "datetime")


def _moment(text: Any) -> datetime | None:
    return parse_moment(text) if text else None
