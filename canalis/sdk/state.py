"""Stream state: the typed cursor a stream resumes from, stored only after the records it covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CursorKind = Literal["datetime", "integer", "string"]


class StreamState(BaseModel):
    """Where a stream stopped: the highest cursor value stored, and connector-specific extras."""

    model_config = ConfigDict(frozen=True)

    cursor: str | None = Field(default=None, description="highest cursor value stored, as text")
    cursor_kind: CursorKind = "datetime"
    extra: dict[str, Any] = Field(default_factory=dict, description="connector-specific resume data")

    @classmethod
    def empty(cls, cursor_kind: CursorKind = "datetime") -> StreamState:
        """The state before a stream's first read."""
        return cls(cursor_kind=cursor_kind)

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> StreamState:
        """Rebuild a state from its stored form."""
        return cls.model_validate(stored) if stored else cls()

    def to_stored(self) -> dict[str, Any]:
        """The state as a JSON-able dict."""
        return self.model_dump(mode="json")

    def cursor_datetime(self) -> datetime | None:
        """The cursor as an aware datetime (datetime cursors only)."""
        return parse_cursor_datetime(self.cursor) if self.cursor else None

    def since(self, lookback: timedelta = timedelta(0)) -> datetime | None:
        """The lower bound of the next incremental read, moved back by the look-back window."""
        value = self.cursor_datetime()
        return None if value is None else value - lookback

    def advanced(self, value: Any, **extra: Any) -> StreamState:
        """A new state whose cursor is the larger of the current one and `value`."""
        merged_extra = {**self.extra, **extra}
        if value is None or value == "":
            return self.model_copy(update={"extra": merged_extra})
        text = format_cursor(value, self.cursor_kind)
        if self.cursor is not None and compare_cursors(self.cursor, text, self.cursor_kind) >= 0:
            return self.model_copy(update={"extra": merged_extra})
        return StreamState(cursor=text, cursor_kind=self.cursor_kind, extra=merged_extra)


def parse_cursor_datetime(text: str) -> datetime:
    """Parse an ISO-8601 timestamp (Z, offsets, or a space separator) to an aware UTC datetime."""
    cleaned = text.strip().replace(" ", "T", 1)
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    if len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":" and "T" in cleaned:
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]  # +0000 -> +00:00
    value = datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_cursor(value: Any, kind: CursorKind) -> str:
    """Render a cursor value as text that compares correctly for its kind."""
    if kind == "datetime":
        moment = value if isinstance(value, datetime) else parse_cursor_datetime(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if kind == "integer":
        return str(int(value))
    return str(value)


def compare_cursors(a: str, b: str, kind: CursorKind) -> int:
    """-1, 0 or 1 as cursor a is below, equal to or above cursor b."""
    left: Any
    right: Any
    if kind == "datetime":
        left, right = parse_cursor_datetime(a), parse_cursor_datetime(b)
    elif kind == "integer":
        left, right = int(a), int(b)
    else:
        left, right = a, b
    return (left > right) - (left < right)
