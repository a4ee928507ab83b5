"""Bulk writes of identity tables: many rows in one statement or COPY, deletes by key through a temporary table.

Values go through each column type's bind processor, as SQLAlchemy would, and then straight to the driver:
`executemany` of one prepared INSERT on SQLite and MySQL, COPY on PostgreSQL. Deleting rows of many keys loads
the keys into a temporary table once and deletes with one statement per column, instead of one round trip per
few hundred keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Table

_KEYS = "canalis_identity_keys"
_BATCH = 20_000


def _processors(connection: Connection, table: Table, columns: Sequence[str]) -> list:
    dialect = connection.dialect
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _converted(rows: list[Sequence[Any]], processors: list) -> list[tuple]:
    """Rows with each column that needs it converted, column by column (repeated values such as a run's
    timestamp converted once)."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    for i, process in enumerate(processors):
        if process is None:
            continue
        memo: dict[Any, Any] = {}
        documents: dict[int, Any] = {}  # JSON documents shared by several rows, by identity
        out = []
        last: Any = memo  # the previous value and its conversion: a run's timestamp repeats row after row
        last_out: Any = None
        for value in columns[i]:
            if value is last:
                out.append(last_out)
                continue
            if value is None:
                out.append(None)
                continue
            try:
                found = memo.get(value, memo)
            except TypeError:  # unhashable: a JSON document
                found = documents.get(id(value), memo)
                if found is memo:
                    found = documents[id(value)] = process(value)
            else:
                if found is memo:
                    found = memo[value] = process(value)
            last, last_out = value, found
            out.append(found)
        columns[i] = out
    return list(zip(*columns, strict=True))


def insert_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (tuples in `columns` order) in bulk; returns how many."""
    processors = _processors(connection, table, columns)
    if any(processors):
        rows = _converted(list(rows), processors)
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    names = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in columns)
    target = connection.dialect.identifier_preparer.format_table(table)
    count = 0
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {target} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    cursor = raw.cursor()
    try:
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH:
                cursor.executemany(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(statement, batch)
            count += len(batch)
    finally:
        cursor.close()
    return count


def delete_where_in(connection: Connection, table: Table, columns: Sequence[str], keys: Iterable[str]) -> None:
    """Delete the rows whose value in any of `columns` is one of `keys`."""
    keys = sorted(set(keys))
    if not keys:
        return
    if len(keys) <= 500:
        for name in columns:
            connection.execute(sa.delete(table).where(table.c[name].in_(keys)))
        return
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_KEYS} (k VARCHAR(300) PRIMARY KEY)")
    connection.exec_driver_sql(f"DELETE FROM {_KEYS}")
    holder = sa.table(_KEYS, sa.column("k", sa.String(300)))
    keys_table = sa.Table(_KEYS, sa.MetaData(), sa.Column("k", sa.String(300)))
    insert_rows(connection, keys_table, ["k"], ((k,) for k in keys))
    for name in columns:
        connection.execute(sa.delete(table).where(table.c[name].in_(sa.select(holder.c.k))))
    connection.exec_driver_sql(f"DELETE FROM {_KEYS}")
