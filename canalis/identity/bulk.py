"""Bulk writes of identity tables: many rows in one statement or COPY, deletes by key through a temporary table.

Values go through each column type's bind processor, as SQLAlchemy would, and then straight to the driver:
`executemany` of one prepared INSERT on SQLite and MySQL, COPY on PostgreSQL. Deleting rows of many keys loads
the keys into a temporary table once and deletes with one statement per column, instead of one round trip per
few hundred keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Table

from canalis.sdk.jsoncodec import dumps
from canalis.store.types import JSONDoc, JSONText

_KEYS = "canalis_identity_keys"
_BATCH = 20_000


def _json_text(value: Any) -> str | None:
    """A JSON document as text, encoded once: the database parses it as it loads the row."""
    if value is None:
        return None
    return str(value) if isinstance(value, JSONText) else dumps(value)


def _processors(connection: Connection, table: Table, columns: Sequence[str]) -> list:
    dialect = connection.dialect
    # JSONDoc on a server would encode, decode and encode again with the standard library (its bind
    # processor, then JSON's); COPY and executemany take the text itself.
    return [
        _json_text
        if isinstance(table.c[name].type, JSONDoc)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]


def _converted(rows: list[Sequence[Any]], processors: list) -> list[tuple]:
    """Rows with each column that needs it converted, column by column, each distinct value converted once
    (a run's timestamp, repeated row after row, is converted once)."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    for i, process in enumerate(processors):
        if process is not None:
            columns[i] = _converted_column(columns[i], process)
    return list(zip(*columns, strict=True))


def _converted_column(values: Sequence[Any], process: Callable[[Any], Any]) -> list:
    """The values converted by `process`, None kept as None."""
    try:
        table = {value: process(value) for value in set(values) if value is not None}
    except TypeError:  # unhashable values: JSON documents, each converted once (documents may be shared)
        documents: dict[int, Any] = {}
        out = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            found = documents.get(id(value), documents)
            if found is documents:
                found = documents[id(value)] = process(value)
            out.append(found)
        return out
    return list(map(table.get, values))


def _batches(rows: Iterable[Sequence[Any]], processors: list) -> Iterator[list[Sequence[Any]]]:
    """The rows in batches of _BATCH, converted batch by batch (a converted copy of all rows is never held)."""
    convert = any(processors)
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        yield _converted(batch, processors) if convert else batch


def insert_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (tuples in `columns` order) in bulk; returns how many."""
    return _insert(connection, table, columns, _batches(rows, _processors(connection, table, columns)))


def insert_columns(connection: Connection, table: Table, columns: dict[str, Sequence[Any]]) -> int:
    """Insert rows given column by column (sequences of one length) in bulk, each column converted at once;
    returns how many."""
    names = list(columns)
    converted = [
        values if process is None else _converted_column(values, process)
        for values, process in zip(columns.values(), _processors(connection, table, names), strict=True)
    ]
    return _insert(connection, table, names, _batches(zip(*converted, strict=True), [None] * len(names)))


def _insert(connection: Connection, table: Table, columns: Sequence[str], batches: Iterable[list]) -> int:
    """Insert batches of converted rows: COPY on PostgreSQL, one prepared executemany elsewhere."""
    dialect = connection.dialect.name
    raw = connection.connection.driver_connection
    names = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in columns)
    target = connection.dialect.identifier_preparer.format_table(table)
    count = 0
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(row)
                count += len(batch)
        return count
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {target} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    cursor = raw.cursor()
    try:
        for batch in batches:
            cursor.executemany(statement, batch)
            count += len(batch)
    finally:
        cursor.close()
    return count


def key_holder(connection: Connection, keys: Iterable[str]) -> sa.Select:
    """Load keys into the temporary key table; a SELECT of them, for IN clauses."""
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_KEYS} (k VARCHAR(300) PRIMARY KEY)")
    connection.exec_driver_sql(f"DELETE FROM {_KEYS}")
    keys_table = sa.Table(_KEYS, sa.MetaData(), sa.Column("k", sa.String(300)))
    insert_rows(connection, keys_table, ["k"], ((k,) for k in sorted(set(keys))))
    return sa.select(sa.table(_KEYS, sa.column("k", sa.String(300))).c.k)


def delete_where_in(connection: Connection, table: Table, columns: Sequence[str], keys: Iterable[str]) -> None:
    """Delete the rows whose value in any of `columns` is one of `keys`."""
    keys = sorted(set(keys))
    if not keys:
        return
    if len(keys) <= 500:
        for name in columns:
            connection.execute(sa.delete(table).where(table.c[name].in_(keys)))
        return
    holder = key_holder(connection, keys)
    for name in columns:
        connection.execute(sa.delete(table).where(table.c[name].in_(holder)))
    connection.exec_driver_sql(f"DELETE FROM {_KEYS}")


def select_where_in(
    connection: Connection, table: Table, columns: Sequence[str], where: Sequence[str], keys: Iterable[str]
) -> list[tuple]:
    """`columns` of the rows whose value in any of `where` is one of `keys` (each row once). JSON columns come
    as their stored text, not decoded."""
    keys = sorted(set(keys))
    if not keys:
        return []
    wanted = [
        sa.cast(table.c[name], sa.Text) if isinstance(table.c[name].type, JSONDoc) else table.c[name]
        for name in columns
    ]
    holder: Sequence[str] | sa.Select = keys if len(keys) <= 500 else key_holder(connection, keys)
    query = sa.select(*wanted).where(sa.or_(*(table.c[name].in_(holder) for name in where)))
    rows = [tuple(row) for row in connection.execute(query)]
    if not isinstance(holder, Sequence):
        connection.exec_driver_sql(f"DELETE FROM {_KEYS}")
    return rows


def delete_ids(connection: Connection, column: sa.Column, ids: Iterable[int]) -> None:
    """Delete the rows of `column`'s table whose integer id in `column` is one of `ids`."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), 1000):
        connection.execute(sa.delete(column.table).where(column.in_(ids[start : start + 1000])))
