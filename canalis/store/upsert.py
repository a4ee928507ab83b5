"""Idempotent upserts on SQLite, PostgreSQL and MySQL/MariaDB, with new/updated/unchanged counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, bindparam, select, tuple_
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError

from canalis.store.statistics import note_inserted

CHUNK_SIZE = 500


@dataclass
class UpsertCounts:
    """How many rows an upsert inserted, changed, or found identical."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written_keys: list[tuple] = field(default_factory=list, repr=False)
    inserted_keys: list[tuple] = field(default_factory=list, repr=False)

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.written_keys.extend(other.written_keys)
        self.inserted_keys.extend(other.inserted_keys)
        return self


def upsert(
    connection: Connection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    *,
    update_columns: Sequence[str] | None = None,
    compare_column: str | None = "content_hash",
    keep_on_update: Sequence[str] = (),
) -> UpsertCounts:
    """Insert rows or update them by primary key; rows whose `compare_column` is unchanged are not written.

    `keep_on_update` names columns that keep their stored value when a row is updated (e.g. first_seen_at).
    """
    key_columns = [column.name for column in table.primary_key.columns]
    compare = compare_column if compare_column and compare_column in table.c else None
    counts = UpsertCounts()
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK_SIZE:
            counts += _upsert_chunk(connection, table, batch, key_columns, compare, update_columns, keep_on_update)
            batch = []
    if batch:
        counts += _upsert_chunk(connection, table, batch, key_columns, compare, update_columns, keep_on_update)
    note_inserted(connection, table, counts.inserted)
    return counts


def write_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, overwriting any row with the same primary key, without reading first (no counts)."""
    key_columns = [column.name for column in table.primary_key.columns]
    for start in range(0, len(rows), CHUNK_SIZE):
        _, chunk = last_row_per_key(list(rows[start : start + CHUNK_SIZE]), key_getter(key_columns))
        _write(connection, table, chunk, key_columns, None, ())


def _upsert_chunk(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    key_columns: list[str],
    compare: str | None,
    update_columns: Sequence[str] | None,
    keep_on_update: Sequence[str],
) -> UpsertCounts:
    keys, rows = last_row_per_key(rows, key_getter(key_columns))
    existing = existing_values(connection, table, keys, key_columns, compare)
    counts = UpsertCounts()
    to_write: list[dict[str, Any]] = []
    for key, row in zip(keys, rows, strict=True):
        if key not in existing:
            counts.inserted += 1
            to_write.append(row)
            counts.written_keys.append(key)
            counts.inserted_keys.append(key)
        elif compare is not None and existing[key] == row.get(compare):
            counts.unchanged += 1
        else:
            counts.updated += 1
            to_write.append(row)
            counts.written_keys.append(key)
    if to_write:
        _write(connection, table, to_write, key_columns, update_columns, keep_on_update)
    return counts


def key_getter(key_columns: Sequence[Any]) -> Callable[[Any], tuple]:
    """A function giving a row's key as a tuple (even for one column): columns are names for dict rows, or
    positions for tuple rows."""
    if len(key_columns) == 1:
        name = key_columns[0]
        return lambda row: (row[name],)
    return itemgetter(*key_columns)


def last_row_per_key(rows: list[Any], key_of: Callable[[Any], tuple]) -> tuple[list[tuple], list[Any]]:
    """The rows' keys and the rows, keeping only the last row of a key given twice (in first-seen order)."""
    keys = list(map(key_of, rows))
    if len(set(keys)) == len(keys):
        return keys, rows
    by_key = dict(zip(keys, rows, strict=True))
    return list(by_key), list(by_key.values())


def existing_values(
    connection: Connection, table: Table, keys: list[tuple], key_columns: Sequence[str], compare: str | None
) -> dict[tuple, Any]:
    """For the keys already stored, their `compare` column value (None without one)."""
    columns = [table.c[name] for name in key_columns]
    selected = [*columns, table.c[compare]] if compare else columns
    groups: dict[tuple, list[Any]] = {}
    for key in keys:
        groups.setdefault(key[:-1], []).append(key[-1])
    width = len(key_columns)
    found: dict[tuple, Any] = {}
    lookup = KeyLookup.for_columns(connection.dialect, table, tuple(key_columns), compare)
    for prefix, last_values in groups.items():
        if lookup is not None:
            rows = lookup.rows(connection, prefix, last_values)
        else:
            # equality on the leading key columns and IN on the last one lets every database use the index
            conditions = [column == value for column, value in zip(columns[:-1], prefix, strict=True)]
            conditions.append(columns[-1].in_(last_values))
            rows = connection.execute(select(*selected).where(*conditions))
        for result in rows:
            values = tuple(result)
            found[values[:width]] = values[width] if compare else None
    return found


class KeyLookup:
    """The stored-key lookup of one table, compiled once per number of keys and run straight on the driver.

    Key lists are padded to a power of two (repeating the last key), so a handful of statements serve every
    batch. Used only where the driver takes and gives the key and compare values as they are (no bind or result
    processing), so what it finds is what the SQLAlchemy statement would find.
    """

    _cache: dict[tuple, KeyLookup | None] = {}

    def __init__(self, dialect: Dialect, selected: list[ColumnElement[Any]], columns: list[ColumnElement[Any]]) -> None:
        self.dialect = dialect
        self.selected = selected
        self.columns = columns
        self._statements: dict[int, tuple[str, tuple[str, ...], bool]] = {}

    @classmethod
    def for_columns(
        cls, dialect: Dialect, table: Table, key_columns: tuple[str, ...], compare: str | None
    ) -> KeyLookup | None:
        cache_key = (table, dialect.name, dialect.driver, dialect.server_version_info, key_columns, compare)
        if cache_key not in cls._cache:
            columns = [table.c[name] for name in key_columns]
            selected = [*columns, table.c[compare]] if compare else columns
            plain = all(
                column.type.dialect_impl(dialect).bind_processor(dialect) is None
                and column.type.dialect_impl(dialect).result_processor(dialect, None) is None
                for column in selected
            )
            cls._cache[cache_key] = cls(dialect, selected, columns) if plain else None
        return cls._cache[cache_key]

    def rows(self, connection: Connection, prefix: tuple, values: list[Any]) -> list[tuple]:
        found: list[tuple] = []
        for start in range(0, len(values), LOOKUP_MAX_KEYS):
            part = values[start : start + LOOKUP_MAX_KEYS]
            size = 1 << (len(part) - 1).bit_length()
            sql, names, positional = self._statement(size)
            bound = dict(zip((f"p{i}" for i in range(len(prefix))), prefix, strict=True))
            bound.update(zip((f"k{i}" for i in range(size)), part + [part[-1]] * (size - len(part)), strict=True))
            parameters = tuple(bound[name] for name in names) if positional else bound
            found.extend(connection.exec_driver_sql(sql, parameters).fetchall())
        return found

    def _statement(self, size: int) -> tuple[str, tuple[str, ...], bool]:
        statement = self._statements.get(size)
        if statement is None:
            *leading, last = self.columns
            conditions = [column == bindparam(f"p{i}") for i, column in enumerate(leading)]
            conditions.append(last.in_([bindparam(f"k{i}") for i in range(size)]))
            compiled = select(*self.selected).where(*conditions).compile(dialect=self.dialect)
            names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
            statement = self._statements[size] = (compiled.string, names, compiled.positional)
        return statement


LOOKUP_MAX_KEYS = 512


def _write(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    key_columns: list[str],
    update_columns: Sequence[str] | None,
    keep_on_update: Sequence[str],
) -> None:
    all_columns = tuple(rows[0].keys())
    if update_columns is None:
        update_columns = [name for name in all_columns if name not in key_columns and name not in keep_on_update]
    dialect = connection.dialect
    if dialect.name not in ("postgresql", "sqlite", "mysql", "mariadb"):
        # a portable fallback: delete then insert, inside the caller's transaction
        columns = [table.c[name] for name in key_columns]
        keys = [tuple(row[name] for name in key_columns) for row in rows]
        connection.execute(table.delete().where(tuple_(*columns).in_(keys)))
        connection.execute(table.insert(), rows)
        return
    upsert_write(dialect, table, all_columns, key_columns, update_columns).execute(connection, rows)


def upsert_write(
    dialect: Dialect, table: Table, columns: Sequence[str], key_columns: Sequence[str], update_columns: Sequence[str]
) -> PreparedWrite:
    """The insert-or-update of `columns` for a dialect, compiled once."""
    # the driver and server version decide the SQL (MariaDB and MySQL differ) and the bind processors
    cache_key = (
        table,
        dialect.name,
        dialect.driver,
        dialect.server_version_info,
        tuple(columns),
        tuple(key_columns),
        tuple(update_columns),
    )
    prepared = _PREPARED.get(cache_key)
    if prepared is None:
        statement = _upsert_statement(dialect.name, table, list(key_columns), update_columns)
        prepared = _PREPARED[cache_key] = PreparedWrite.compile(statement, dialect, columns)
    return prepared


def _upsert_statement(dialect: str, table: Table, key_columns: list[str], update_columns: Sequence[str]):
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        if update_columns:
            return insert.on_conflict_do_update(
                index_elements=key_columns, set_={name: insert.excluded[name] for name in update_columns}
            )
        return insert.on_conflict_do_nothing(index_elements=key_columns)
    insert = mysql.insert(table)
    first_key = key_columns[0]
    assignments = {name: insert.inserted[name] for name in update_columns} or {first_key: table.c[first_key]}
    return insert.on_duplicate_key_update(assignments)


_PREPARED: dict[tuple, PreparedWrite] = {}


class PreparedWrite:
    """An INSERT compiled once for a dialect and a column list, run as one DBAPI executemany.

    Values go through each column type's own bind processor, so what is stored is exactly what SQLAlchemy would
    store; only the per-row statement machinery is skipped. A value repeated from the previous row (the load
    timestamp of a batch, a constant) is processed once.
    """

    __slots__ = ("_convert", "bind_names", "defaults", "keys", "positional", "processors", "sql")

    def __init__(
        self,
        sql: str,
        keys: tuple[str, ...],
        bind_names: tuple[str, ...],
        processors: tuple,
        positional: bool,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.sql = sql
        self.keys = keys
        self.bind_names = bind_names
        self.processors = processors
        self.positional = positional
        self.defaults = defaults or {}  # column -> its Python-side default, for columns the rows do not carry
        self._convert = _row_converter(len(keys), [index for index, p in enumerate(processors) if p is not None])

    @classmethod
    def compile(cls, statement, dialect, columns: Sequence[str]) -> PreparedWrite:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        bind_names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        binds = [compiled.binds[name] for name in bind_names]
        keys = tuple(bind.key for bind in binds)
        processors = tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds)
        defaults: dict[str, Any] = {}
        for key in keys:
            if key in columns:
                continue
            # SQLAlchemy adds the columns with a Python-side default to an INSERT; it fills them, so do we
            default = statement.table.c[key].default
            if default is None or not default.is_scalar:
                raise ValueError(f"{statement.table.name}.{key}: no value given and no constant default to use")
            defaults[key] = default.arg
        return cls(compiled.string, keys, bind_names, processors, compiled.positional, defaults)

    def execute(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        self.execute_values(connection, self.values(rows))

    def execute_values(self, connection: Connection, values: list[tuple]) -> None:
        """Run the statement for value tuples in `keys` order (as `values` gives them)."""
        if self.positional:
            connection.exec_driver_sql(self.sql, values)
        else:
            names = self.bind_names
            connection.exec_driver_sql(self.sql, [dict(zip(names, row, strict=True)) for row in values])

    def values(self, rows: list[dict[str, Any]]) -> list[tuple]:
        """The rows as tuples of database values in `keys` order, through the columns' bind processors."""
        keys = self.keys
        pick = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
        try:
            return self._convert(rows, pick, *(processor for processor in self.processors if processor is not None))
        except (KeyError, TypeError, ValueError):
            pass  # a row without a column, or a bad value: the loop below fills defaults and names the column
        return self._values_one_by_one(rows)

    def _values_one_by_one(self, rows: list[dict[str, Any]]) -> list[tuple]:
        keys = self.keys
        processed = [(index, processor) for index, processor in enumerate(self.processors) if processor is not None]
        last_in: list[Any] = [_UNSET] * len(keys)
        last_out: list[Any] = [None] * len(keys)
        pick = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
        parameters: list[tuple] = []
        for number, row in enumerate(rows):
            try:
                values = list(pick(row))
            except KeyError:
                values = self._with_defaults(row, number)
            for index, processor in processed:
                value = values[index]  # None too: a JSON column stores it as JSON null, as SQLAlchemy does
                if value is last_in[index]:
                    values[index] = last_out[index]
                    continue
                last_in[index] = value
                try:
                    values[index] = last_out[index] = processor(value)
                except (TypeError, ValueError) as error:
                    raise StatementError(f"{keys[index]}: {error}", self.sql, None, error, ismulti=True) from error
            parameters.append(tuple(values))
        return parameters

    def _with_defaults(self, row: dict[str, Any], number: int) -> list[Any]:
        """A row's values with the columns' defaults where it has none; a missing column without one is an error."""
        values = []
        for key in self.keys:
            if key in row:
                values.append(row[key])
            elif key in self.defaults:
                values.append(self.defaults[key])
            else:
                error = KeyError(key)
                raise StatementError(f"row {number} has no value for column '{key}'", self.sql, None, error)
        return values


_UNSET = object()


def _row_converter(width: int, processed: list[int]) -> Callable[..., list[tuple]]:
    """A function turning rows into value tuples, written out for one column layout (compiled once per write).

    It does what `PreparedWrite._values_one_by_one` does for rows that carry every column, with each processed
    column's variables named in the code instead of looked up by index: `pick(row)` gives the row's values, each
    processed column goes through its processor (once for a value that is the very object of the row before).
    """
    names = [f"v{index}" for index in range(width)]
    lines = [
        f"def convert(rows, pick{''.join(f', p{index}' for index in processed)}):",
        "    out = []",
        "    append = out.append",
        *(f"    last{index} = done{index} = _UNSET" for index in processed),
        "    for row in rows:",
        f"        ({', '.join(names)},) = pick(row)",
        *(
            f"        if v{index} is not last{index}: last{index} = v{index}; done{index} = p{index}(v{index})"
            for index in processed
        ),
        f"        append(({', '.join(f'done{i}' if i in processed else f'v{i}' for i in range(width))},))",
        "    return out",
    ]
    scope: dict[str, Any] = {"_UNSET": _UNSET}
    exec("\n".join(lines), scope)  # noqa: S102 - code built above from column positions only, no outside text
    return scope["convert"]
