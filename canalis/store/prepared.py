"""Rows turned into database values where they are made, so the process that writes only writes.

A mapping worker turns its rows into tuples of database values for the store's dialect (through each column
type's bind processor, as SQLAlchemy would) and sends those, which are smaller to send than dictionaries. The
writing process reads which keys exist, keeps new and changed rows, and runs one `executemany`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import URL

from canalis.store.upsert import (
    CHUNK_SIZE,
    PreparedWrite,
    UpsertCounts,
    existing_values,
    key_getter,
    last_row_per_key,
    upsert_write,
)

_VALUE_ORDER: dict[tuple, PreparedWrite] = {}
_DIALECTS: dict[str, Dialect] = {}


@dataclass
class PreparedRows:
    """One table's rows as database values in `columns` order, one row per primary key (the last one given)."""

    table: str
    columns: tuple[str, ...]
    values: list[tuple]
    key_positions: tuple[int, ...]

    def position(self, column: str) -> int:
        return self.columns.index(column)

    def __len__(self) -> int:
        return len(self.values)


SUPPORTED_DIALECTS = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})


def supports_prepared(dialect: Dialect) -> bool:
    """Whether rows for this dialect can be prepared in another process (the databases Canalis upserts natively)."""
    return dialect.name in SUPPORTED_DIALECTS


def dialect_for(driver: str) -> Dialect:
    """A dialect instance for a driver name such as `sqlite+pysqlite` (no connection is made)."""
    dialect = _DIALECTS.get(driver)
    if dialect is None:
        dialect = _DIALECTS[driver] = URL.create(driver).get_dialect()()
    return dialect


def driver_name(dialect: Dialect) -> str:
    """The `dialect+driver` name of an engine's dialect, for `dialect_for` in another process."""
    return f"{dialect.name}+{dialect.driver}"


def prepare_rows(driver: str, table: Table, rows: list[dict[str, Any]]) -> PreparedRows:
    """Rows of one table (all with the same keys) as database values for the driver's dialect."""
    key_columns = [column.name for column in table.primary_key.columns]
    _, unique = last_row_per_key(rows, key_getter(key_columns))
    columns = tuple(unique[0].keys()) if unique else ()
    dialect = dialect_for(driver)
    cache_key = (table, driver, columns)
    write = _VALUE_ORDER.get(cache_key)
    if write is None:
        write = _VALUE_ORDER[cache_key] = PreparedWrite.compile(insert(table), dialect, columns)
    positions = tuple(write.keys.index(name) for name in key_columns)
    for name in key_columns:
        if write.processors[write.keys.index(name)] is not None:
            raise ValueError(f"{table.name}.{name}: key columns must be stored as given to be compared")
    return PreparedRows(table.name, write.keys, write.values(unique), positions)


def upsert_prepared(
    connection: Connection, table: Table, rows: PreparedRows, *, compare_column: str | None = "content_hash"
) -> UpsertCounts:
    """Insert new rows and update changed ones (by `compare_column`), counting each; like `upsert`."""
    key_columns = [column.name for column in table.primary_key.columns]
    compare = compare_column if compare_column and compare_column in rows.columns else None
    compare_at = rows.position(compare) if compare else None
    key_of = key_getter(rows.key_positions)
    counts = UpsertCounts()
    for start in range(0, len(rows.values), CHUNK_SIZE):
        chunk = rows.values[start : start + CHUNK_SIZE]
        keys = list(map(key_of, chunk))
        stored = existing_values(connection, table, keys, key_columns, compare)
        to_write: list[tuple] = []
        for key, values in zip(keys, chunk, strict=True):
            if key not in stored:
                counts.inserted += 1
                counts.inserted_keys.append(key)
            elif compare_at is not None and stored[key] == values[compare_at]:
                counts.unchanged += 1
                continue
            else:
                counts.updated += 1
            counts.written_keys.append(key)
            to_write.append(values)
        if to_write:
            _write(connection, table, rows, key_columns, to_write)
    return counts


def write_prepared(connection: Connection, table: Table, rows: PreparedRows, values: Sequence[tuple]) -> None:
    """Insert the given value tuples of `rows`, overwriting rows with the same key, without reading first."""
    key_columns = [column.name for column in table.primary_key.columns]
    for start in range(0, len(values), CHUNK_SIZE):
        _write(connection, table, rows, key_columns, list(values[start : start + CHUNK_SIZE]))


def _write(
    connection: Connection, table: Table, rows: PreparedRows, key_columns: list[str], values: list[tuple]
) -> None:
    update_columns = [name for name in rows.columns if name not in key_columns]
    write = upsert_write(connection.dialect, table, rows.columns, key_columns, update_columns)
    if write.keys != rows.columns:  # the statement binds in another order: reorder each tuple
        order = [rows.columns.index(name) for name in write.keys]
        values = [tuple(row[i] for i in order) for row in values]
    write.execute_values(connection, values)
