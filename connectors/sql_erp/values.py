"""Database values as record values: Decimal stays Decimal, datetimes become aware UTC, dates ISO text."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from canalis.sdk import CursorKind, parse_cursor_datetime


def record_value(value: Any, zone: tzinfo) -> Any:
    """One column value as it goes into a raw record."""
    if value is None or isinstance(value, bool | int | float | str | Decimal | dict | list):
        return value
    if isinstance(value, datetime):
        return aware_utc(value, zone)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def aware_utc(value: datetime, zone: tzinfo) -> datetime:
    """A datetime in UTC; a naive one is read in `zone` (the database's time zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def cursor_value(value: Any, kind: CursorKind, zone: tzinfo) -> Any:
    """A cursor column value as the Python value it compares as (aware datetime, int or str)."""
    if value is None:
        return None
    if kind == "datetime":
        if isinstance(value, datetime):
            return aware_utc(value, zone)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)
        text = str(value).strip()
        parsed = parse_cursor_datetime(text)
        if not _has_zone(text):
            parsed = parsed.replace(tzinfo=zone).astimezone(UTC)
        return parsed
    if kind == "integer":
        return int(value)
    return str(value)


def _has_zone(text: str) -> bool:
    tail = text[10:]
    return tail.endswith("Z") or "+" in tail or "-" in tail


def bind_datetime(value: datetime, *, naive: bool, zone: tzinfo) -> datetime:
    """A cursor datetime as bound in a query: naive in the database's zone for zone-less columns."""
    if naive:
        return value.astimezone(zone).replace(tzinfo=None)
    return value


def key_value(value: Any) -> Any:
    """A primary key value as kept in the stream state (JSON): ints and text as they are, others as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def restore_key(value: Any, python_type: type | None) -> Any:
    """A key value from the stream state turned back into the column's Python type, when known."""
    if value is None or python_type is None or isinstance(value, python_type):
        return value
    try:
        if python_type is Decimal:
            return Decimal(str(value))
        if python_type is int:
            return int(value)
        if python_type is datetime:
            return datetime.fromisoformat(str(value))
        if python_type is date:
            return date.fromisoformat(str(value))
        if python_type is uuid.UUID:
            return uuid.UUID(str(value))
    except (ValueError, ArithmeticError):
        return value
    return value
