"""The SQL ERP connector: reads an ERP's tables (or a reporting replica) through any SQLAlchemy URL, read-only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from canalis.connectors.sql_erp.client import ErpDatabase
from canalis.connectors.sql_erp.reader import KeysetReader, ReadOptions
from canalis.connectors.sql_erp.settings import SqlErpSettings
from canalis.connectors.sql_erp.streams import STREAMS, SqlStream, stream_class
from canalis.sdk import CheckResult, ConfigError, Connector, Page, Stream, StreamState


class SqlErpConnector(Connector):
    """Reads ERP tables or queries incrementally by keyset on (cursor, primary key); never writes."""

    name = "sql_erp"
    kind = "erp"
    title = "ERP database (SQL)"
    description = (
        "An ERP read through its database or reporting replica (PostgreSQL, MariaDB/MySQL, SQL Server, Oracle, "
        "SQLite: any SQLAlchemy URL); streams are tables or queries named in the settings."
    )
    settings_model = SqlErpSettings
    streams = STREAMS

    settings: SqlErpSettings

    def __init__(self, settings: SqlErpSettings, *, connection: str | None = None) -> None:  # type: ignore[override]
        super().__init__(settings, connection=connection)
        self.database = ErpDatabase(settings, self.connection)

    def __repr__(self) -> str:
        return f"SqlErpConnector(connection={self.connection!r}, url={self.database.display_url!r})"

    @classmethod
    def stream_names(cls, settings: Mapping[str, Any]) -> list[str]:
        configured = settings.get("streams") or {}
        return list(configured) if isinstance(configured, Mapping) and configured else super().stream_names(settings)

    @cached_property
    def _streams(self) -> tuple[type[SqlStream], ...]:
        lookback = timedelta(seconds=self.settings.lookback_seconds)
        return tuple(stream_class(name, source, lookback) for name, source in self.settings.sources.items())

    def declared_streams(self) -> tuple[type[Stream], ...]:
        return self._streams

    def check(self) -> CheckResult:
        details: dict[str, str] = {}
        with self.database.connect() as connection:
            for stream in self._streams:
                source = self.database.source(connection, stream.name, stream.source)
                where = f"table {stream.source.table}" if stream.source.table else "query"
                cursor = f", cursor {source.cursor.name}" if source.cursor is not None else ", full read"
                details[stream.name] = f"{where} ({len(source.columns)} columns{cursor})"
        return CheckResult(
            ok=True,
            message=f"{len(details)} streams checked on {self.database.display_url}",
            details=details,
        )

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if not issubclass(stream, SqlStream):
            raise ConfigError(f"{self.name}: stream '{stream.name}' is not a SQL stream", setting="streams")
        options = ReadOptions(
            page_size=self.settings.page_size,
            rows_per_query=max(self.settings.rows_per_query, self.settings.page_size),
            lookback=stream.lookback,
            zone=ZoneInfo(self.settings.timezone),
        )
        with self.database.connect() as connection:
            source = self.database.source(connection, stream.name, stream.source)
            reader = KeysetReader(source, stream.source.cursor_kind, options)
            for records, page_state in reader.pages(connection, state):
                yield Page(records=records, state=page_state)

    def close(self) -> None:
        """Release the database connections."""
        self.database.close()
