"""Typed cursors: they only move forward, compare by type, and step back by the look-back window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from canalis.sdk.state import StreamState, compare_cursors, parse_cursor_datetime


def test_datetime_cursor_moves_forward_only() -> None:
    state = StreamState.empty().advanced("2026-01-02T10:00:00Z")
    assert state.advanced("2026-01-01T00:00:00Z").cursor == state.cursor
    later = state.advanced("2026-01-03T00:00:00+01:00")
    assert later.cursor_datetime() == datetime(2026, 1, 2, 23, 0, tzinfo=UTC)


def test_vendor_timestamp_formats_parse_to_utc() -> None:
    assert parse_cursor_datetime("2026-01-05T10:00:00.000+0000") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert parse_cursor_datetime("2026-01-05 10:00:00") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert parse_cursor_datetime("2026-01-05T12:00:00+02:00") == datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_integer_cursors_compare_numerically() -> None:
    assert compare_cursors("9", "10", "integer") == -1
    state = StreamState.empty("integer").advanced(9).advanced(10).advanced(2)
    assert state.cursor == "10"


def test_lookback_and_round_trip() -> None:
    state = StreamState.empty().advanced("2026-01-02T10:00:00Z", files={"a.csv": "h"})
    assert state.since(timedelta(minutes=30)) == datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    again = StreamState.from_stored(state.to_stored())
    assert again == state
    assert again.extra == {"files": {"a.csv": "h"}}
    assert StreamState.from_stored(None).cursor is None
