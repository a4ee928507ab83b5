"""Keyset reads of one source: ordered by (cursor, primary key), streamed page by page, resumable at any page.

The stream state keeps the position of the last row stored: `cursor` (the cursor value, as text) and in
`extra` the `phase`, the primary `key` of that row, whether the last run finished (`done`) and, for raw
queries, whether the cursor column holds zone-less datetimes (`cursor_naive`).

Phases: a cursor stream first reads its rows whose cursor is NULL (`nulls`, ordered by key; read once, on
the first read or a full refresh), then every other row (`values`, ordered by cursor then key). A stream
without a cursor is read whole on every run (`all`, ordered by key), resuming by key after an interruption.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.connectors.sql_erp.client import Source
from canalis.connectors.sql_erp.streams import COMPOSITE_KEY
from canalis.connectors.sql_erp.values import bind_datetime, cursor_value, key_value, record_value, restore_key
from canalis.sdk import CursorKind, StreamState, format_cursor, parse_cursor_datetime


@dataclass(frozen=True)
class Position:
    """Where a read stands: the phase, the last cursor value and key read, and whether a run finished."""

    phase: str
    cursor: Any = None
    key: tuple[Any, ...] | None = None
    done: bool = False
    naive: bool | None = None

    def state(self, kind: CursorKind) -> StreamState:
        """This position as a stream state."""
        extra: dict[str, Any] = {
            "phase": self.phase,
            "key": None if self.key is None else [key_value(part) for part in self.key],
            "done": self.done,
        }
        if self.naive is not None:
            extra["cursor_naive"] = self.naive
        text = None if self.cursor is None else format_cursor(self.cursor, kind)
        return StreamState(cursor=text, cursor_kind=kind, extra=extra)


@dataclass(frozen=True)
class ReadOptions:
    """How a read runs: page and query sizes, the look-back window and the database's time zone."""

    page_size: int
    rows_per_query: int
    lookback: timedelta
    zone: tzinfo


class KeysetReader:
    """Reads one source from a stored state on, yielding (records, state) per page."""

    def __init__(self, source: Source, kind: CursorKind, options: ReadOptions) -> None:
        self.source = source
        self.kind: CursorKind = kind if source.cursor is not None else "string"
        self.options = options
        self.key_names = tuple(column.name for column in source.key)
        self.key_types = tuple(_python_type(column) for column in source.key)

    # --- state ------------------------------------------------------------------------------------

    def start(self, state: StreamState) -> Position:
        """The position a read resumes from; a state of another cursor kind starts over."""
        extra = state.extra or {}
        phase = extra.get("phase")
        first = "nulls" if self.source.cursor is not None else "all"
        valid = {"nulls", "values"} if self.source.cursor is not None else {"all"}
        if phase not in valid or (state.cursor is not None and state.cursor_kind != self.kind):
            return Position(phase=first)
        key = extra.get("key")
        restored = None
        if isinstance(key, list) and len(key) == len(self.key_names):
            restored = tuple(restore_key(part, kind) for part, kind in zip(key, self.key_types, strict=True))
        cursor = None
        if state.cursor is not None:
            cursor = parse_cursor_datetime(state.cursor) if self.kind == "datetime" else state.cursor
            cursor = int(cursor) if self.kind == "integer" else cursor
        done = bool(extra.get("done"))
        naive = extra.get("cursor_naive")
        if phase == "all" and done:
            return Position(phase="all", naive=naive)
        return Position(phase=phase, cursor=cursor, key=restored, done=done, naive=naive)

    # --- reading ----------------------------------------------------------------------------------

    def pages(self, connection: Connection, state: StreamState) -> Iterator[tuple[list[dict[str, Any]], StreamState]]:
        """Every page from the state on, each with the state to store once its records are stored."""
        stored = self.start(state)
        if stored.phase == "nulls":
            stored = yield from self._read_nulls(connection, stored)
        if stored.phase == "values":
            stored = yield from self._read_values(connection, stored)
        if stored.phase == "all":
            stored = yield from self._read_all(connection, stored)
        yield [], replace(stored, done=True).state(self.kind)

    def _read_nulls(self, connection: Connection, stored: Position):
        assert self.source.cursor is not None
        key = stored.key
        while True:
            condition = sa.and_(self.source.cursor.is_(None), *self._key_after(key))
            count = 0
            for rows in self._execute(connection, condition, list(self.source.key)):
                count += len(rows)
                key = self._key_of(rows[-1])
                stored = replace(stored, key=key, done=False)
                yield self._records(rows), stored.state(self.kind)
            if count < self.options.rows_per_query:
                return replace(stored, phase="values", key=None)

    def _read_all(self, connection: Connection, stored: Position):
        key = stored.key
        while True:
            condition = sa.and_(sa.true(), *self._key_after(key))
            count = 0
            for rows in self._execute(connection, condition, list(self.source.key)):
                count += len(rows)
                key = self._key_of(rows[-1])
                stored = replace(stored, key=key, done=False)
                yield self._records(rows), stored.state(self.kind)
            if count < self.options.rows_per_query:
                return replace(stored, key=None)

    def _read_values(self, connection: Connection, stored: Position):
        cursor_column = self.source.cursor
        assert cursor_column is not None
        lookback = self.options.lookback if self.kind == "datetime" else timedelta(0)
        looking_back = stored.done and stored.cursor is not None and lookback > timedelta(0)
        if looking_back:
            at: tuple[Any, tuple[Any, ...] | None] = (stored.cursor - self.options.lookback, None)
        else:
            at = (stored.cursor, stored.key)
        order = [cursor_column, *self.source.key]
        while True:
            condition = self._after(at[0], at[1], stored)
            count = 0
            for rows in self._execute(connection, condition, order):
                count += len(rows)
                naive = stored.naive if stored.naive is not None else _naive(rows[0][cursor_column.name])
                last = rows[-1]
                at = (cursor_value(last[cursor_column.name], self.kind, self.options.zone), self._key_of(last))
                if stored.cursor is None or not looking_back or at[0] >= stored.cursor:
                    stored = replace(stored, cursor=at[0], key=at[1], done=False, naive=naive)
                else:
                    stored = replace(stored, naive=naive)
                yield self._records(rows), stored.state(self.kind)
            if count < self.options.rows_per_query:
                return stored

    def _after(self, cursor: Any, key: tuple[Any, ...] | None, stored: Position) -> sa.ColumnElement[bool]:
        column = self.source.cursor
        assert column is not None
        if cursor is None:
            return column.is_not(None)
        bound = self._bind_cursor(cursor, stored)
        if key is None:
            return column >= bound
        return sa.and_(column >= bound, sa.or_(column > bound, sa.and_(column == bound, *self._key_after(key))))

    def _bind_cursor(self, cursor: Any, stored: Position) -> Any:
        if self.kind != "datetime":
            return cursor
        assert isinstance(cursor, datetime)
        naive = self.source.cursor_naive
        if naive is None:
            naive = True if stored.naive is None else stored.naive
        return bind_datetime(cursor, naive=naive, zone=self.options.zone)

    def _key_after(self, key: Sequence[Any] | None) -> list[sa.ColumnElement[bool]]:
        """`key > :key` in key order, spelled out so every database reads it: (k1 > a) OR (k1 = a AND k2 > b)..."""
        if key is None:
            return []
        alternatives = []
        for index, column in enumerate(self.source.key):
            equal = [self.source.key[i] == key[i] for i in range(index)]
            alternatives.append(sa.and_(*equal, column > key[index]))
        return [sa.or_(*alternatives)]

    def _execute(self, connection: Connection, condition: sa.ColumnElement[bool], order: list[Any]):
        statement = (
            sa.select(self.source.selectable).where(condition).order_by(*order).limit(self.options.rows_per_query)
        )
        streaming = connection.execution_options(stream_results=True, yield_per=self.options.page_size)
        result = streaming.execute(statement)
        try:
            for rows in result.partitions(self.options.page_size):
                yield [row._mapping for row in rows]
        finally:
            result.close()

    def _key_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(row[name] for name in self.key_names)

    def _records(self, rows: list[Any]) -> list[dict[str, Any]]:
        zone = self.options.zone
        records = []
        for row in rows:
            record = {str(name): record_value(value, zone) for name, value in row.items()}
            if len(self.key_names) > 1:
                parts = [row[name] for name in self.key_names]
                record[COMPOSITE_KEY] = None if any(p is None for p in parts) else ":".join(map(str, parts))
            records.append(record)
        return records


def _python_type(column: sa.ColumnElement[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _naive(value: Any) -> bool:
    """Whether a datetime cursor value read from the database has no zone (text values count as naive)."""
    return not (isinstance(value, datetime) and value.tzinfo is not None)
