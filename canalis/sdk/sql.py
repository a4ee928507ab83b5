"""SqlStream and SqlConnector: a table read through SQLAlchemy in keyset pages, declared as a form.

    class Customers(SqlStream):
        name = "customers"
        table = "customers"
        primary_key = "id"
        cursor_field = "updated_at"       # rows come in (updated_at, id) order; the cursor moves with every page

A read never holds a table in memory: each page is one `SELECT ... WHERE (cursor, key) > (last seen) ORDER BY
cursor, key LIMIT n`, so a read that stops resumes after the last row stored, without gaps or repeats.
Values come back as JSON-friendly text where JSON has no type (datetimes in ISO-8601 UTC, decimals, UUIDs).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from canalis.sdk.base import Connector
from canalis.sdk.errors import ConnectorError
from canalis.sdk.redaction import redact
from canalis.sdk.rest import Partition, read_declared
from canalis.sdk.settings import ConnectorSettings, setting
from canalis.sdk.state import StreamState, parse_cursor_datetime
from canalis.sdk.streams import CheckResult, Page, Stream


class SqlSettings(ConnectorSettings):
    """Where the database is (its SQLAlchemy URL, secret because it may hold the password) and its page size."""

    url: SecretStr = setting(
        description="SQLAlchemy URL of the database (dialect+driver://user:password@host/db); may hold the password.",
        env="{prefix}_URL",
        secret=True,
    )
    db_schema: str | None = setting(None, description="Schema holding the tables, when not the default one.")
    page_size: int = setting(1000, description="Rows per page (one query each).", ge=1, le=100_000)


class SqlConnector(Connector):
    """A connector over one database: a lazily created engine, disposed by `close()`, tested by `check()`."""

    settings: SqlSettings
    settings_model: ClassVar[type[SqlSettings]]

    def __init__(self, settings: ConnectorSettings, *, connection: str | None = None) -> None:
        super().__init__(settings, connection=connection)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The engine, made on first use (building the connector opens nothing)."""
        if self._engine is None:
            try:
                self._engine = sa.create_engine(self.settings.url.get_secret_value(), pool_pre_ping=True)
            except (ArgumentError, NoSuchModuleError, ValueError):
                raise self.setting_error("url", "is not a usable SQLAlchemy URL") from None
        return self._engine

    def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def check(self) -> CheckResult:
        """Connect and run `SELECT 1`."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as error:
            reason = self.redact(f"{type(error).__name__}: {error}".splitlines()[0])
            raise self.setting_error("url", f"does not reach the database: {reason}") from None
        return CheckResult(ok=True, message=f"connected to {self.engine.dialect.name}")

    def redact(self, text: str) -> str:
        """The text with the URL and its password masked."""
        url = self.settings.url.get_secret_value()
        parsed = sa.engine.make_url(url) if "://" in url else None
        secrets = [url] + ([parsed.password] if parsed is not None and parsed.password else [])
        return redact(text, [str(secret) for secret in secrets])


class SqlStream(Stream):
    """A stream read from one table (or view) in keyset pages, by the SDK."""

    table: ClassVar[str]
    columns: ClassVar[tuple[str, ...] | None] = None
    """The columns read (all of them when None)."""
    sorted_by_cursor: ClassVar[bool] = True

    @classmethod
    def prepare(cls, connector: Connector, records: list[dict[str, Any]], partition: Partition) -> list[Any]:
        """Turn one page's rows into the stream's records (as they are by default)."""
        return records

    @classmethod
    def pages(cls, connector: Connector, state: StreamState) -> Iterator[Page]:
        if not isinstance(connector, SqlConnector):
            raise ConnectorError(f"{connector.name}: SqlStream '{cls.name}' needs a SqlConnector")
        table = sa.Table(cls.table, sa.MetaData(), schema=connector.settings.db_schema, autoload_with=connector.engine)
        key = table.c[cls.primary_key]
        cursor = table.c[cls.cursor_field] if cls.cursor_field else None
        columns = [table.c[name] for name in cls.columns] if cls.columns else list(table.c)
        order = (cursor, key) if cursor is not None else (key,)
        size = connector.settings.page_size

        def fetch(partition: Partition, position: dict[str, Any], since: str | None) -> tuple[list[Any], Any]:
            query = sa.select(*columns).order_by(*order).limit(size)
            if cursor is not None and since is not None:
                query = query.where(cursor >= _bound(cursor, since, cls.cursor_kind))
            after = position.get("after")
            if after is not None and cursor is not None:
                last_cursor = _bound(cursor, after[0], cls.cursor_kind)
                query = query.where(sa.or_(cursor > last_cursor, sa.and_(cursor == last_cursor, key > after[1])))
            elif after is not None:
                query = query.where(key > after[1])
            try:
                with connector.engine.connect() as connection:
                    rows = [dict(row._mapping) for row in connection.execute(query)]
            except SQLAlchemyError as error:
                detail = connector.redact(f"{type(error).__name__}: {error}".splitlines()[0])
                raise ConnectorError(f"{connector.name}: reading table {cls.table} failed: {detail}") from None
            records = [{name: json_value(value) for name, value in row.items()} for row in rows]
            following = None
            if len(rows) == size:
                last = records[-1]
                following = {"after": [last.get(cls.cursor_field) if cursor is not None else None, last[key.name]]}
            return cls.prepare(connector, records, partition), following

        return read_declared(cls, connector, state, fetch=fetch, first_position={"after": None})


def _bound(column: sa.ColumnElement[Any], text: Any, kind: str) -> Any:
    """A cursor value from the state as the column compares it (datetimes naive UTC for zone-less columns)."""
    if kind != "datetime" or text is None:
        return int(text) if kind == "integer" and text is not None else text
    moment = parse_cursor_datetime(str(text))
    if isinstance(column.type, sa.DateTime) and not column.type.timezone:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def json_value(value: Any) -> Any:
    """A database value as a record holds it: JSON types as they are, the rest as text (datetimes in UTC)."""
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)
