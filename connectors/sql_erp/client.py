"""The ERP database: a read-only SQLAlchemy engine, errors without secrets, and sources checked against the schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from canalis.connectors.sql_erp.settings import SqlErpSettings, StreamSource
from canalis.sdk import ConfigError, ConnectorError, redact

SYSTEM = "sql_erp"
log = logging.getLogger("canalis.connectors.sql_erp")

READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
    "sqlite": "PRAGMA query_only = ON",
}
"""Per dialect, the statement that makes a new session refuse writes (other databases rely on grants)."""


@dataclass(frozen=True)
class Source:
    """A stream's rows as a selectable whose cursor and key columns exist in the database."""

    stream: str
    selectable: sa.FromClause
    key: tuple[sa.ColumnElement[Any], ...]
    cursor: sa.ColumnElement[Any] | None
    cursor_naive: bool | None
    """Whether the cursor column holds zone-less datetimes (None when the database does not say: raw queries)."""
    columns: tuple[str, ...]


class ErpDatabase:
    """A lazily opened, read-only connection pool to the ERP database."""

    def __init__(self, settings: SqlErpSettings, connection: str) -> None:
        self.settings = settings
        self.connection = connection
        self._engine: Engine | None = None
        self._url = self._build_url()

    def __repr__(self) -> str:
        return f"ErpDatabase({self.display_url})"

    def _build_url(self) -> URL:
        try:
            url = sa.engine.make_url(self.settings.url.get_secret_value())
        except (ArgumentError, ValueError, TypeError):
            raise self._config_error("url", "is not a valid SQLAlchemy URL (dialect+driver://user@host/db)") from None
        if self.settings.password is not None:
            url = url.set(password=self.settings.password.get_secret_value())
        return url

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, safe for logs and messages."""
        return self._url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """The database dialect name (postgresql, mysql, mariadb, sqlite...)."""
        return self._url.get_backend_name()

    def secrets(self) -> list[str]:
        """Values that must never appear in messages: the password and the full URL."""
        values = [self.settings.url.get_secret_value()]
        if self._url.password:
            values.append(str(self._url.password))
        return values

    def _config_error(self, setting: str, problem: str) -> ConfigError:
        return ConfigError(
            f"connection '{self.connection}': setting '{setting}': {problem}",
            setting=setting,
            connection=self.connection,
        )

    @property
    def engine(self) -> Engine:
        """The engine, created on first use; every session it opens is read-only where the database allows."""
        if self._engine is None:
            try:
                engine = sa.create_engine(self._url, pool_pre_ping=True, pool_size=2, max_overflow=2)
            except NoSuchModuleError:
                raise self._config_error("url", f"no SQLAlchemy dialect or driver for {self.dialect!r}") from None
            except TypeError:  # SQLite's pool takes no pool_size
                engine = sa.create_engine(self._url, pool_pre_ping=True)
            except (ArgumentError, ImportError) as error:
                raise self._config_error("url", f"cannot use {self.display_url}: {self.redact(error)}") from None
            statement = READ_ONLY_SESSION.get(engine.dialect.name)
            if statement:
                sa.event.listen(engine, "connect", _read_only_listener(statement))
            self._engine = engine
        return self._engine

    def redact(self, error: BaseException | str) -> str:
        """An error's text with the password and URL masked, first line only."""
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return redact(text, self.secrets())

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection; failures to connect name the `url` setting and never hold the password."""
        try:
            connection = self.engine.connect()
        except ConfigError:
            raise
        except (SQLAlchemyError, OSError) as error:
            original = getattr(error, "orig", None) or error
            raise self._config_error(
                "url", f"cannot connect to {self.display_url}: {type(original).__name__}: {self.redact(original)}"
            ) from None
        try:
            yield connection
        except ConfigError:
            raise
        except SQLAlchemyError as error:
            original = getattr(error, "orig", None) or error
            raise ConnectorError(
                f"{SYSTEM} ({self.display_url}): query failed: {type(original).__name__}: {self.redact(original)}"
            ) from None
        finally:
            connection.close()

    def close(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- sources ----------------------------------------------------------------------------------

    def source(self, connection: Connection, stream: str, config: StreamSource) -> Source:
        """Resolve a stream's table or query, checking every configured column against the database."""
        if config.query is not None:
            return self._query_source(connection, stream, config)
        return self._table_source(connection, stream, config)

    def _table_source(self, connection: Connection, stream: str, config: StreamSource) -> Source:
        inspector = sa.inspect(connection)
        schema = config.schema_name or self.settings.db_schema
        try:
            known = set(inspector.get_table_names(schema=schema)) | set(inspector.get_view_names(schema=schema))
        except SQLAlchemyError as error:
            where = f"schema {schema!r}" if schema else "the default schema"
            raise self._config_error(
                "db_schema" if schema and not config.schema_name else f"streams.{stream}.table",
                f"cannot list the tables of {where}: {self.redact(getattr(error, 'orig', None) or error)}",
            ) from None
        name = _match(config.table_name or "", known)
        if name is None:
            where = f" in schema {schema!r}" if schema else ""
            raise self._config_error(f"streams.{stream}.table", f"no table or view {config.table!r}{where}")
        table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=connection)
        columns = {column.name: column for column in table.columns}
        key = tuple(columns[self._column(stream, "primary_key", wanted, columns)] for wanted in config.primary_key)
        cursor_column = None
        naive: bool | None = None
        if config.cursor is not None:
            cursor_column = columns[self._column(stream, "cursor", config.cursor, columns)]
            naive = not getattr(cursor_column.type, "timezone", False)
        return Source(stream, table, key, cursor_column, naive, tuple(columns))

    def _query_source(self, connection: Connection, stream: str, config: StreamSource) -> Source:
        assert config.query is not None
        probe = sa.text(f"SELECT * FROM ({config.query}) canalis_source WHERE 1 = 0")
        try:
            names = list(connection.execute(probe).keys())
        except SQLAlchemyError as error:
            raise self._config_error(
                f"streams.{stream}.query",
                f"the query does not run: {self.redact(getattr(error, 'orig', None) or error)}",
            ) from None
        subquery = sa.text(config.query).columns(*(sa.column(name) for name in names)).subquery("canalis_source")
        columns = {column.name: column for column in subquery.columns}
        key = tuple(columns[self._column(stream, "primary_key", wanted, columns)] for wanted in config.primary_key)
        cursor_column = None
        if config.cursor is not None:
            cursor_column = columns[self._column(stream, "cursor", config.cursor, columns)]
        return Source(stream, subquery, key, cursor_column, None, tuple(columns))

    def _column(self, stream: str, setting: str, wanted: str, columns: dict[str, Any]) -> str:
        name = _match(wanted, set(columns))
        if name is None:
            raise self._config_error(
                f"streams.{stream}.{setting}",
                f"no column {wanted!r} (columns: {', '.join(sorted(columns))})",
            )
        return name


def _match(wanted: str, known: set[str]) -> str | None:
    """The reflected name equal to `wanted`, or equal ignoring case when only one is."""
    if wanted in known:
        return wanted
    folded = [name for name in known if name.lower() == wanted.lower()]
    return folded[0] if len(folded) == 1 else None


def _read_only_listener(statement: str):
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        if hasattr(dbapi_connection, "commit"):
            dbapi_connection.commit()

    return on_connect
