"""Column types shared by every table: UTC timestamps, exact money, JSON documents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Numeric, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

from canalis.sdk import jsoncodec


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _in_utc(value)
        if dialect.name in ("sqlite", "mysql", "mariadb"):
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect: Dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_utc_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in_utc(value: datetime) -> datetime:
    """An aware timestamp in UTC; a naive one is refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: Canalis stores timezone-aware UTC")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """A timestamp as SQLite stores it (the text SQLAlchemy's SQLite DATETIME writes), in one step."""
    if value is None:
        return None
    return _in_utc(value).isoformat(" ", "microseconds")[:26]  # without the "+00:00" of the UTC offset


class CalendarDate(TypeDecorator[date]):
    """A calendar date (a birth date), written on SQLite as SQLAlchemy's DATE writes it, in one step."""

    impl = Date
    cache_ok = True

    def bind_processor(self, dialect: Dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        general = Date().dialect_impl(dialect).bind_processor(dialect)

        def process(value: date | None) -> str | None:
            if type(value) is date:
                return value.isoformat()  # the YYYY-MM-DD that SQLAlchemy writes, for years 1 to 9999
            return general(value)  # None, and the values SQLAlchemy itself reads otherwise (date subclasses)

        return process


class Money(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on server databases, text on SQLite so no float ever touches it."""

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("float refused for a money column: use Decimal")
        number = Decimal(value)
        if dialect.name == "sqlite":
            return format(number, "f")
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class JSONDoc(TypeDecorator[Any]):
    """A JSON document (dict or list); text on SQLite, native JSON elsewhere. Decimals and datetimes encode as text."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, JSONText):
            return str(value) if dialect.name == "sqlite" else loads(value)
        if dialect.name == "sqlite":
            return dumps(value)
        return loads(dumps(value))

    def bind_processor(self, dialect: Dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_json_text

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return loads(value)
        return value


def _sqlite_json_text(value: Any) -> str | None:
    """A JSON document as SQLite stores it (what process_bind_param gives), without the decorator's wrapping."""
    if value is None:
        return None
    if isinstance(value, JSONText):
        return str(value)
    if type(value) is dict and not value:
        return "{}"  # most attribute and id columns hold nothing
    return dumps(value)


class JSONText(str):
    """A value already encoded with `dumps`, stored as it is (saves encoding large payloads twice)."""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def dumps(value: Any) -> str:
    """Encode a value as compact, key-sorted JSON (stable, so hashes of it are comparable)."""
    return jsoncodec.dumps(value, default=_default)


loads = jsoncodec.loads
