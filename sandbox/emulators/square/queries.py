"""Keyset queries over the sandbox store for Square's orderings and filters, read one page at a time."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canalis.sandbox.emulators.square.wire import SYSTEM
from canalis.sandbox.objectstore import decode_payload

SCAN_BATCH = 500

Expand = Callable[[dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Ordering:
    """The sort of a listing: a column or SQL expression over `payload`, ascending or descending."""

    expression: str = "seq"
    descending: bool = False

    def key_columns(self) -> list[str]:
        """The expressions that make a row's position unique."""
        if self.expression == "seq":
            return ["seq"]
        if self.expression in ("created_at", "updated_at"):  # plain columns, never null: the index serves them
            return [self.expression, "object_id"]
        return [f"COALESCE({self.expression}, '')", "object_id"]


@dataclass
class Filter:
    """SQL conditions over the `objects` table (columns and `json_extract(payload, ...)`) with their values."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_in(self, expression: str, values: list[Any]) -> None:
        marks = ", ".join("?" for _ in values) or "NULL"
        self.add(f"{expression} IN ({marks})", *values)


@dataclass(frozen=True)
class Found:
    """One page of output objects and the position of the first object left for the next page."""

    objects: list[dict[str, Any]]
    next_position: list[Any] | None


class StoreQueries:
    """Read-only queries on the store file, with one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    def rows(
        self, object_type: str, where: Filter, ordering: Ordering, start: list[Any] | None, batch: int = SCAN_BATCH
    ) -> Iterator[tuple[list[Any], dict[str, Any]]]:
        """Rows (position key, payload) in order, from `start` on (inclusive), fetched in batches."""
        keys = ordering.key_columns()
        direction = "DESC" if ordering.descending else "ASC"
        compare = "<=" if ordering.descending else ">="
        position = start
        first = True
        while True:
            clauses = ["system = ?", "object_type = ?", *where.clauses]
            params: list[Any] = [SYSTEM, object_type, *where.params]
            if position is not None:
                clauses.append(f"({', '.join(keys)}) {compare if first else compare[0]} ({', '.join('?' * len(keys))})")
                params.extend(position)
            sql = (
                f"SELECT {', '.join(keys)}, payload FROM objects WHERE {' AND '.join(clauses)} "
                f"ORDER BY {', '.join(f'{key} {direction}' for key in keys)} LIMIT ?"
            )
            found = self._conn().execute(sql, [*params, batch]).fetchall()
            for row in found:
                yield list(row[:-1]), decode_payload(row[-1])
            if len(found) < batch:
                return
            position, first = list(found[-1][:-1]), False

    def page(
        self,
        object_type: str,
        where: Filter,
        ordering: Ordering,
        *,
        limit: int,
        position: list[Any] | None = None,
        expand: Expand | None = None,
    ) -> Found:
        """Up to `limit` output objects from `position` ([row key..., index within the row]) on.

        `expand` turns one stored payload into the objects it shows (a catalog item and its variations);
        rows it turns into nothing are skipped. The next position is None when nothing is left.
        """
        start = position[:-1] if position else None
        skip = int(position[-1]) if position else 0
        found: list[dict[str, Any]] = []
        for key, payload in self.rows(object_type, where, ordering, start, max(SCAN_BATCH, limit + 1)):
            shown = expand(payload) if expand else [payload]
            offset = skip if start is not None and key == start else 0
            for index in range(offset, len(shown)):
                if len(found) == limit:
                    return Found(found, [*key, index])
                found.append(shown[index])
        return Found(found, None)

    def count(self, object_type: str, where: Filter) -> int:
        """How many rows match."""
        clauses = ["system = ?", "object_type = ?", *where.clauses]
        sql = f"SELECT COUNT(*) FROM objects WHERE {' AND '.join(clauses)}"
        return self._conn().execute(sql, [SYSTEM, object_type, *where.params]).fetchone()[0]

    def latest_update(self, object_type: str) -> str | None:
        """The newest `updated_at` of a type."""
        sql = "SELECT MAX(updated_at) FROM objects WHERE system = ? AND object_type = ?"
        return self._conn().execute(sql, (SYSTEM, object_type)).fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
