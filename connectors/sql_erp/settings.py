"""Settings of the SQL ERP connector: where the database is, and which table or query feeds each stream."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from canalis.sdk import ConnectorSettings, setting

CursorKindName = Literal["datetime", "integer", "string"]

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
"""A column, table or schema name Canalis accepts: letters, digits and underscores, 63 characters at most."""

_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


def check_identifier(value: str, what: str) -> str:
    """Return the name when it is a plain identifier, else raise ValueError saying which one."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} is not a plain identifier (letters, digits, underscores)")
    return value


class StreamSource(BaseModel):
    """Where one stream's rows come from: a table (or view) or a read-only query, its key and cursor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = Field(default=None, description="table or view name, optionally `schema.table`")
    query: str | None = Field(
        default=None,
        description="a SELECT statement, wrapped as a subquery (write a literal ':name' as '\\:name')",
    )
    primary_key: list[str] = Field(description="column(s) that identify a row")
    cursor: str | None = Field(default=None, description="column that grows when a row changes (incremental reads)")
    cursor_kind: CursorKindName = Field(default="datetime", description="datetime, integer or string")
    description: str = ""

    @field_validator("primary_key", mode="before")
    @classmethod
    def _as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("primary_key")
    @classmethod
    def _key_columns(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("primary_key needs at least one column")
        for column in value:
            check_identifier(column, "primary key column")
        if len(set(value)) != len(value):
            raise ValueError("primary_key lists a column twice")
        return value

    @field_validator("cursor")
    @classmethod
    def _cursor_column(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, "cursor column")

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(".")
        if len(parts) > 2:
            raise ValueError(f"table {value!r} has more than one dot (give `table` or `schema.table`)")
        for part in parts:
            check_identifier(part, "table name part")
        return value

    @field_validator("query")
    @classmethod
    def _one_select(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().rstrip(";").strip()
        if not _QUERY_START.match(text):
            raise ValueError("query must be a single SELECT (or WITH ... SELECT) statement")
        if ";" in text:
            raise ValueError("query must be a single statement (no ';' inside)")
        return text

    @model_validator(mode="after")
    def _table_or_query(self) -> StreamSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if self.cursor is not None and self.cursor in self.primary_key:
            raise ValueError(f"cursor column {self.cursor!r} is also a primary key column")
        return self

    @property
    def schema_name(self) -> str | None:
        """The schema part of `table`, when given."""
        return self.table.split(".")[0] if self.table and "." in self.table else None

    @property
    def table_name(self) -> str | None:
        """The table part of `table`."""
        return self.table.split(".")[-1] if self.table else None


def _standard(table: str, key: str | list[str], cursor: str | None = "updated_at") -> StreamSource:
    return StreamSource(table=table, primary_key=key, cursor=cursor)


DEFAULT_STREAMS: dict[str, StreamSource] = {
    "customers": _standard("customers", "id"),
    "products": _standard("products", "id"),
    "prices": _standard("prices", "id"),
    "stock_levels": _standard("stock_levels", ["sku", "location"]),
    "orders": _standard("orders", "id"),
    "order_lines": _standard("order_lines", ["order_id", "line_no"]),
    "promotions": _standard("promotions", "id"),
}
"""The streams of the typical ERP schema the `sql_erp` example mapping reads (see mappings/sources/sql_erp.yaml)."""


class SqlErpSettings(ConnectorSettings):
    """The database URL and, per stream, the table or query to read."""

    url: SecretStr = setting(
        description="SQLAlchemy URL of the ERP database or its reporting replica (may hold the password).",
        env="CANALIS_SQL_ERP_URL",
        secret=True,
        example="postgresql+psycopg://canalis_reader@erp-replica:5432/erp",
    )
    password: SecretStr | None = setting(
        None,
        description="Database password, when it is not in the URL (replaces the URL's password).",
        env="CANALIS_SQL_ERP_PASSWORD",
        secret=True,
    )
    db_schema: str | None = setting(
        None,
        description="Database schema holding the tables, when not the connection's default.",
        env="CANALIS_SQL_ERP_SCHEMA",
    )
    streams: dict[str, StreamSource] = setting(
        default_factory=dict,
        description=(
            "Stream name -> {table or query, primary_key, cursor, cursor_kind}; empty: the standard streams "
            "(customers, products, prices, stock_levels, orders, order_lines, promotions) on tables of those names."
        ),
    )
    page_size: int = setting(1000, description="Rows per page handed to the store.", gt=0, le=100_000)
    rows_per_query: int = setting(
        50_000,
        description="Rows one keyset query returns (streamed in pages) before the next query starts.",
        gt=0,
        le=10_000_000,
    )
    lookback_seconds: int = setting(
        0,
        description="Look-back window re-read by each new incremental run (datetime cursors), for late commits.",
        ge=0,
        le=30 * 24 * 3600,
    )
    timezone: str = setting(
        "UTC",
        description="Time zone of naive (zone-less) datetime columns in the database.",
        env="CANALIS_SQL_ERP_TIMEZONE",
    )

    @field_validator("db_schema")
    @classmethod
    def _schema_name(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, "schema")

    @field_validator("streams")
    @classmethod
    def _stream_names(cls, value: dict[str, StreamSource]) -> dict[str, StreamSource]:
        for name in value:
            check_identifier(name, "stream name")
        return value

    @property
    def sources(self) -> dict[str, StreamSource]:
        """The configured streams, or the standard ones when none are configured."""
        return dict(self.streams) if self.streams else dict(DEFAULT_STREAMS)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
