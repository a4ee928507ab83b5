"""The sandbox's persistent object store: vendor payloads, emulator state and ground truth in one SQLite file."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import orjson

from canalis.sdk import jsoncodec

BATCH_SIZE = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    system TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (system, object_type, object_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_updated ON objects (system, object_type, updated_at, object_id);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (system, object_type, seq);
CREATE INDEX IF NOT EXISTS objects_by_created ON objects (system, object_type, created_at, object_id);
CREATE TABLE IF NOT EXISTS sequences (
    system TEXT NOT NULL,
    object_type TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (system, object_type)
);
CREATE TABLE IF NOT EXISTS numeric_ids (
    system TEXT NOT NULL,
    object_type TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    PRIMARY KEY (system, object_type)
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS truth_records (
    system TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (system, object_type, object_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS truth_records_by_person ON truth_records (person_id);
CREATE TABLE IF NOT EXISTS truth_inconsistencies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    channels TEXT NOT NULL,
    details TEXT NOT NULL
);
"""

_SECONDARY_INDEXES = ("objects_by_updated", "objects_by_seq", "objects_by_created", "truth_records_by_person")

_UPSERT = (
    "INSERT INTO objects (system, object_type, object_id, seq, created_at, updated_at, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (system, object_type, object_id) "
    "DO UPDATE SET updated_at = excluded.updated_at, payload = excluded.payload"
)

_object_key = itemgetter(2)
_truth_key = itemgetter(0, 1, 2)

OrderBy = Literal["seq", "updated_at"]
_TRAILING_DIGITS = re.compile(r"(\d+)(?:\?.*)?$")


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, the store's sortable timestamp form."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"  # isoformat is several times faster than strftime


def now_timestamp() -> str:
    """The current time in the store's timestamp form."""
    return format_timestamp(datetime.now(UTC))


def encode_payload(payload: Any) -> str:
    """Compact, deterministic JSON for a payload, keys in insertion order.

    Written by orjson (several times faster) in the layout of `json.dumps(payload, ensure_ascii=False,
    separators=(",", ":"))`, except that very small and large floats are written 1e-7 rather than 1e-07 (the same
    numbers); what orjson refuses (integers beyond 64 bits, non-string keys) goes to the json module.
    """
    try:
        return orjson.dumps(payload, default=_refuse, option=orjson.OPT_PASSTHROUGH_DATACLASS).decode()
    except TypeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def decode_payload(text: str) -> Any:
    """A stored payload or value, read as the standard json module reads it (faster, through orjson)."""
    return jsoncodec.loads(text)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored vendor object."""

    object_id: str
    seq: int
    created_at: str
    updated_at: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TruthInconsistency:
    """One inconsistency injected into the world on purpose."""

    id: str
    kind: str
    entity: str
    channels: list[str]
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON documents."""
        return {
            "id": self.id,
            "kind": self.kind,
            "entity": self.entity,
            "channels": self.channels,
            "details": self.details,
        }


class ObjectStore:
    """SQLite-backed store of vendor objects, safe across threads (one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)

    # -- connections -------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA cache_size=-32000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def journal(self) -> Iterator[list[tuple[str, str, str]]]:
        """Collect the objects this thread changes inside the block: (system, object type, object id) each time a
        write changes one (a put with the payload it already holds changes nothing)."""
        outer = getattr(self._local, "journal", None)
        changed: list[tuple[str, str, str]] = []
        self._local.journal = changed
        try:
            yield changed
        finally:
            self._local.journal = outer
            if outer is not None:
                outer.extend(changed)

    def _changed(self, system: str, object_type: str, object_ids: Iterable[str]) -> None:
        journal: list[tuple[str, str, str]] | None = getattr(self._local, "journal", None)
        if journal is not None:
            journal.extend((system, object_type, object_id) for object_id in object_ids)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Fill a new store fast: no journal, no sync to disk on commit, secondary indexes built once at the end.

        Meant for generating a world into an empty store in one thread; a crash in the middle leaves a store to
        generate again (it has no world spec yet, so `ensure_world` does), which `generate_world` does anyway.
        """
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=OFF")  # each page written once, not to the WAL and then to the file
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        for name in _SECONDARY_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            conn.executescript(_SCHEMA)  # recreates the indexes dropped above
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-32000")

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------------------------

    @staticmethod
    def _last_seq(conn: sqlite3.Connection, system: str, object_type: str) -> int:
        row = conn.execute(
            "SELECT last_seq FROM sequences WHERE system = ? AND object_type = ?", (system, object_type)
        ).fetchone()
        return row[0] if row else 0

    @staticmethod
    def _save_seq(conn: sqlite3.Connection, system: str, object_type: str, last_seq: int) -> None:
        conn.execute(
            "INSERT INTO sequences (system, object_type, last_seq) VALUES (?, ?, ?) "
            "ON CONFLICT (system, object_type) DO UPDATE SET last_seq = excluded.last_seq",
            (system, object_type, last_seq),
        )

    def put_many(
        self,
        system: str,
        object_type: str,
        rows: Iterable[tuple[str, str, dict[str, Any]] | tuple[str, str, dict[str, Any], str]],
        *,
        batch_size: int = BATCH_SIZE,
    ) -> int:
        """Insert or replace rows of (id, updated_at, payload[, created_at]) in batches; returns the count."""
        total = 0
        iterator = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            with self._write() as conn:
                seq = self._last_seq(conn, system, object_type)
                params = []
                for row in batch:
                    seq += 1
                    object_id, updated_at, payload = row[0], row[1], row[2]
                    created_at = row[3] if len(row) > 3 else updated_at  # type: ignore[misc]
                    params.append(
                        (system, object_type, object_id, seq, created_at, updated_at, encode_payload(payload))
                    )
                conn.executemany(_UPSERT, params)
                self._save_seq(conn, system, object_type, seq)
            self._changed(system, object_type, (row[0] for row in batch))
            total += len(batch)
        return total

    def put_encoded(
        self,
        groups: Iterable[tuple[str, str, Sequence[tuple[str, str, str, str]]]],
        truth: Sequence[tuple[str, str, str, str]] = (),
    ) -> int:
        """Insert or replace many types' rows of (id, updated_at, payload JSON, created_at) whose payloads are already
        encoded, and ground-truth rows, in one transaction; returns the count of objects."""
        total = 0
        with self._write() as conn:
            for system, object_type, rows in groups:
                first = self._last_seq(conn, system, object_type) + 1
                params = [
                    (system, object_type, object_id, seq, created_at, updated_at, payload)
                    for seq, (object_id, updated_at, payload, created_at) in enumerate(rows, first)
                ]
                # In key order (stable: a repeated id keeps its order), the B-tree is filled page after page.
                params.sort(key=_object_key)
                conn.executemany(_UPSERT, params)
                self._save_seq(conn, system, object_type, first + len(rows) - 1)
                self._changed(system, object_type, (row[0] for row in rows))
                total += len(rows)
            conn.executemany("INSERT OR REPLACE INTO truth_records VALUES (?, ?, ?, ?)", sorted(truth, key=_truth_key))
        return total

    def put(
        self,
        system: str,
        object_type: str,
        object_id: str,
        payload: dict[str, Any],
        *,
        updated_at: str | None = None,
    ) -> dict[str, Any]:
        """Insert or replace one object, keeping created_at and seq of an existing row; returns its metadata."""
        stamp = updated_at or now_timestamp()
        encoded = encode_payload(payload)
        with self._write() as conn:
            existing = conn.execute(
                "SELECT seq, created_at, payload FROM objects WHERE system = ? AND object_type = ? AND object_id = ?",
                (system, object_type, object_id),
            ).fetchone()
            if existing:
                seq, created_at, before = existing
                conn.execute(
                    "UPDATE objects SET updated_at = ?, payload = ? "
                    "WHERE system = ? AND object_type = ? AND object_id = ?",
                    (stamp, encoded, system, object_type, object_id),
                )
            else:
                seq, created_at = self._last_seq(conn, system, object_type) + 1, stamp
                conn.execute(
                    "INSERT INTO objects (system, object_type, object_id, seq, created_at, updated_at, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (system, object_type, object_id, seq, created_at, stamp, encoded),
                )
                self._save_seq(conn, system, object_type, seq)
        if not existing or before != encoded:
            self._changed(system, object_type, [object_id])
        return {"object_id": object_id, "seq": seq, "created_at": created_at, "updated_at": stamp}

    def delete(self, system: str, object_type: str, object_id: str) -> bool:
        """Delete one object; True when it existed."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM objects WHERE system = ? AND object_type = ? AND object_id = ?",
                (system, object_type, object_id),
            )
        if cursor.rowcount > 0:
            self._changed(system, object_type, [object_id])
        return cursor.rowcount > 0

    # -- reads -------------------------------------------------------------------------------------

    def get(self, system: str, object_type: str, object_id: str) -> dict[str, Any] | None:
        """The payload of one object, or None."""
        row = (
            self._conn()
            .execute(
                "SELECT payload FROM objects WHERE system = ? AND object_type = ? AND object_id = ?",
                (system, object_type, object_id),
            )
            .fetchone()
        )
        return decode_payload(row[0]) if row else None

    def get_object(self, system: str, object_type: str, object_id: str) -> StoredObject | None:
        """One object with its metadata, or None."""
        row = (
            self._conn()
            .execute(
                "SELECT object_id, seq, created_at, updated_at, payload FROM objects "
                "WHERE system = ? AND object_type = ? AND object_id = ?",
                (system, object_type, object_id),
            )
            .fetchone()
        )
        return _stored(row) if row else None

    @staticmethod
    def _filters(
        system: str,
        object_type: str,
        updated_since: str | None,
        updated_before: str | None,
    ) -> tuple[list[str], list[Any]]:
        clauses = ["system = ?", "object_type = ?"]
        params: list[Any] = [system, object_type]
        if updated_since is not None:
            clauses.append("updated_at >= ?")
            params.append(updated_since)
        if updated_before is not None:
            clauses.append("updated_at < ?")
            params.append(updated_before)
        return clauses, params

    def page(
        self,
        system: str,
        object_type: str,
        *,
        after_seq: int = 0,
        limit: int,
        updated_since: str | None = None,
        updated_before: str | None = None,
        order_by: OrderBy = "seq",
        after_updated: tuple[str, str] | None = None,
    ) -> list[StoredObject]:
        """One page of objects in seq order, or in (updated_at, object_id) order after a key."""
        if after_updated is not None and updated_since is not None and after_updated[0] >= updated_since:
            updated_since = None  # the keyset bound is tighter; two lower bounds make SQLite seek from the loose one
        clauses, params = self._filters(system, object_type, updated_since, updated_before)
        if order_by == "seq":
            clauses.append("seq > ?")
            params.append(after_seq)
            order = "seq"
        elif order_by == "updated_at":
            if after_updated is not None:
                clauses.append("(updated_at, object_id) > (?, ?)")
                params.extend(after_updated)
            order = "updated_at, object_id"
        else:
            raise ValueError(f"unknown order_by {order_by!r}")
        sql = (
            "SELECT object_id, seq, created_at, updated_at, payload FROM objects "
            f"WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ?"
        )
        rows = self._conn().execute(sql, [*params, limit]).fetchall()
        return [_stored(row) for row in rows]

    def count(
        self,
        system: str,
        object_type: str,
        *,
        after_seq: int = 0,
        updated_since: str | None = None,
        updated_before: str | None = None,
        after_updated: tuple[str, str] | None = None,
    ) -> int:
        """How many objects match the same filters as `page`."""
        clauses, params = self._filters(system, object_type, updated_since, updated_before)
        if after_seq:
            clauses.append("seq > ?")
            params.append(after_seq)
        if after_updated is not None:
            clauses.append("(updated_at, object_id) > (?, ?)")
            params.extend(after_updated)
        sql = f"SELECT COUNT(*) FROM objects WHERE {' AND '.join(clauses)}"
        return self._conn().execute(sql, params).fetchone()[0]

    def iter_all(self, system: str, object_type: str, *, batch_size: int = 2000) -> Iterator[StoredObject]:
        """Every object of one type in seq order, streamed page by page."""
        after = 0
        while batch := self.page(system, object_type, after_seq=after, limit=batch_size):
            yield from batch
            after = batch[-1].seq

    def every_nth(self, system: str, object_type: str, n: int) -> list[StoredObject]:
        """The objects of one type whose seq is a multiple of n (a fixed sample of one in n), in seq order."""
        rows = self._conn().execute(
            "SELECT object_id, seq, created_at, updated_at, payload FROM objects "
            "WHERE system = ? AND object_type = ? AND seq % ? = 0 ORDER BY seq",
            (system, object_type, n),
        )
        return [_stored(row) for row in rows]

    def update_many(self, system: str, object_type: str, rows: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
        """Replace the payload and updated_at of existing objects, rows of (id, updated_at, payload); the count."""
        params = [(updated_at, encode_payload(payload), system, object_type, oid) for oid, updated_at, payload in rows]
        with self._write() as conn:
            conn.executemany(
                "UPDATE objects SET updated_at = ?, payload = ? WHERE system = ? AND object_type = ? AND object_id = ?",
                params,
            )
        return len(params)

    def iter_with_truth(
        self, system: str, object_type: str, *, batch_size: int = 2000
    ) -> Iterator[tuple[StoredObject, str | None]]:
        """Every object of one type in seq order with the person the ground truth gives it."""
        after = 0
        sql = (
            "SELECT o.object_id, o.seq, o.created_at, o.updated_at, o.payload, t.person_id FROM objects o "
            "LEFT JOIN truth_records t ON t.system = o.system AND t.object_type = o.object_type "
            "AND t.object_id = o.object_id WHERE o.system = ? AND o.object_type = ? AND o.seq > ? "
            "ORDER BY o.seq LIMIT ?"
        )
        while rows := self._conn().execute(sql, (system, object_type, after, batch_size)).fetchall():
            for row in rows:
                yield _stored(row[:5]), row[5]
            after = rows[-1][1]

    def object_types(self) -> list[tuple[str, str, int]]:
        """(system, object_type, count) for every stored type."""
        sql = "SELECT system, object_type, COUNT(*) FROM objects GROUP BY system, object_type ORDER BY 1, 2"
        return [tuple(row) for row in self._conn().execute(sql).fetchall()]  # type: ignore[misc]

    # -- emulator state ----------------------------------------------------------------------------

    def set_last_numeric_id(self, system: str, object_type: str, last_id: int) -> None:
        """Record the highest integer id used so far for a type (the generator calls this)."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO numeric_ids (system, object_type, last_id) VALUES (?, ?, ?) "
                "ON CONFLICT (system, object_type) DO UPDATE SET last_id = MAX(last_id, excluded.last_id)",
                (system, object_type, last_id),
            )

    def next_numeric_id(self, system: str, object_type: str) -> int:
        """A fresh integer id for vendors with integer ids, above every id stored so far."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT last_id FROM numeric_ids WHERE system = ? AND object_type = ?", (system, object_type)
            ).fetchone()
            if row:
                last = row[0]
            else:
                last = 0
                for (object_id,) in conn.execute(
                    "SELECT object_id FROM objects WHERE system = ? AND object_type = ?", (system, object_type)
                ):
                    match = _TRAILING_DIGITS.search(object_id)
                    if match:
                        last = max(last, int(match.group(1)))
            conn.execute(
                "INSERT INTO numeric_ids (system, object_type, last_id) VALUES (?, ?, ?) "
                "ON CONFLICT (system, object_type) DO UPDATE SET last_id = excluded.last_id",
                (system, object_type, last + 1),
            )
        return last + 1

    def kv_get(self, key: str, default: Any = None) -> Any:
        """A small JSON value stored under a key, or the default."""
        row = self._conn().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return decode_payload(row[0]) if row else default

    def kv_put(self, key: str, value: Any) -> None:
        """Store a small JSON value under a key."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, encode_payload(value), now_timestamp()),
            )

    def kv_delete(self, key: str) -> None:
        """Forget a key."""
        with self._write() as conn:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    # -- ground truth ------------------------------------------------------------------------------

    def put_truth_records(self, rows: Iterable[tuple[str, str, str, str]], *, batch_size: int = BATCH_SIZE) -> int:
        """Record which person each (system, object_type, object_id) belongs to."""
        total = 0
        iterator = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            with self._write() as conn:
                conn.executemany("INSERT OR REPLACE INTO truth_records VALUES (?, ?, ?, ?)", batch)
            total += len(batch)
        return total

    def put_truth_inconsistencies(self, items: Iterable[TruthInconsistency]) -> None:
        """Record injected inconsistencies."""
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO truth_inconsistencies VALUES (?, ?, ?, ?, ?)",
                [(i.id, i.kind, i.entity, encode_payload(i.channels), encode_payload(i.details)) for i in items],
            )

    def truth_person(self, system: str, object_type: str, object_id: str) -> str | None:
        """The person a record belongs to according to the ground truth."""
        row = (
            self._conn()
            .execute(
                "SELECT person_id FROM truth_records WHERE system = ? AND object_type = ? AND object_id = ?",
                (system, object_type, object_id),
            )
            .fetchone()
        )
        return row[0] if row else None

    def truth_records_of(self, person_id: str) -> list[tuple[str, str, str]]:
        """Every (system, object_type, object_id) the ground truth gives one person."""
        rows = (
            self._conn()
            .execute(
                "SELECT system, object_type, object_id FROM truth_records WHERE person_id = ? ORDER BY 1, 2, 3",
                (person_id,),
            )
            .fetchall()
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    def iter_truth_records(
        self, system: str | None = None, object_type: str | None = None, *, batch_size: int = 5000
    ) -> Iterator[tuple[str, str, str, str]]:
        """Every truth record (system, object_type, object_id, person_id), optionally of one type."""
        clauses, params = [], []
        if system is not None:
            clauses.append("system = ?")
            params.append(system)
        if object_type is not None:
            clauses.append("object_type = ?")
            params.append(object_type)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = self._conn().execute(
            f"SELECT system, object_type, object_id, person_id FROM truth_records {where} ORDER BY 1, 2, 3",
            params,
        )
        while rows := cursor.fetchmany(batch_size):
            yield from (tuple(row) for row in rows)  # type: ignore[misc]

    def count_truth_records(self) -> int:
        """How many truth records there are."""
        return self._conn().execute("SELECT COUNT(*) FROM truth_records").fetchone()[0]

    def truth_inconsistencies(self, kind: str | None = None) -> list[TruthInconsistency]:
        """Injected inconsistencies, optionally of one kind, in id order."""
        sql = "SELECT id, kind, entity, channels, details FROM truth_inconsistencies"
        params: tuple[str, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        return [
            TruthInconsistency(row[0], row[1], row[2], decode_payload(row[3]), decode_payload(row[4])) for row in rows
        ]

    def clear(self) -> None:
        """Remove every object, state value and truth row (used before regenerating a world)."""
        with self._write() as conn:
            for table in ("objects", "sequences", "numeric_ids", "kv", "truth_records", "truth_inconsistencies"):
                conn.execute(f"DELETE FROM {table}")


def _stored(row: tuple[Any, ...]) -> StoredObject:
    return StoredObject(row[0], row[1], row[2], row[3], decode_payload(row[4]))
