"""Canonicalize: map raw records changed since the last pass to canonical rows; failures go to quarantine.

Each raw stream is read once per pass and every selected entity it feeds is mapped from that one read (an
order record gives an order, its lines and an interaction). Progress is kept per entity and stream, so a pass
over a subset of entities never makes the others skip records.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, RootTransaction, Row, Text, and_, cast, literal, or_, select, tuple_

from canalis.canonical.chunks import PREVIEW_ROWS, ChunkResult, chunks_set_aside, map_chunk
from canalis.canonical.entities import ENTITIES, REPLACED_WITH_PARENT, TABLES
from canalis.canonical.tombstones import apply_tombstones
from canalis.canonical.workers import MappingWorkers
from canalis.mappings.declarative.engine import Mapper
from canalis.store import Store, UpsertCounts, tables, upsert, utcnow
from canalis.store.prepared import PreparedRows, driver_name, supports_prepared, upsert_prepared, write_prepared
from canalis.store.upsert import write_rows

CHUNK = 2000
START = (0, "")
# Chunks are written in one transaction until it holds this many records, or has been open this long:
# committing every chunk rewrote the pages of the email, phone and contact point indexes (where each chunk's
# values land all over) five times as often. The time bound keeps the database's write lock short when the
# pass waits for mapping workers.
COMMIT_RECORDS = 10_000
COMMIT_SECONDS = 1.0


@dataclass
class CanonicalReport:
    """What a pass did for one canonical entity."""

    entity: str
    mapped: int = 0
    quarantined: int = 0
    deleted: int = 0
    raw_records: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    by_source: Counter = field(default_factory=Counter)
    quarantined_by_source: Counter = field(default_factory=Counter)
    quarantine_reasons: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def watermark_name(entity: str) -> str:
    """The sync-state connector name under which an entity's mapping progress is kept."""
    return f"canonical:{entity}"


def canonicalize(
    store: Store, mappers: dict[str, Mapper], entity: str, *, full: bool = False, run_id: str | None = None
) -> CanonicalReport:
    """Map every connection's raw records for one entity that changed since the last pass (all when `full`)."""
    return canonicalize_entities(store, mappers, [entity], full=full, run_id=run_id)[entity]


def canonicalize_entities(
    store: Store,
    mappers: dict[str, Mapper],
    entities: Iterable[str],
    *,
    full: bool = False,
    run_id: str | None = None,
    workers: int | None = None,
) -> dict[str, CanonicalReport]:
    """Map the raw records changed since the last pass into every given entity, reading each stream once.

    Long passes map in worker processes (`workers`, else CANALIS_MAPPING_WORKERS) while this process writes.
    One pass at a time on a store, whichever process runs it.
    """
    started = time.perf_counter()
    wanted = sorted(set(entities))
    reports = {entity: CanonicalReport(entity=entity) for entity in wanted}
    with store.lock("canonical"), MappingWorkers(workers) as pool, chunks_set_aside():
        for connection, mapper in mappers.items():
            streams = sorted({stream for entity in wanted for stream in mapper.streams_for(entity)})
            for stream in streams:
                fed = [entity for entity in wanted if stream in mapper.streams_for(entity)]
                for position, group in _group_by_position(store, connection, stream, fed, full).items():
                    _Pass(store, mapper, connection, stream, group, reports, run_id, pool).run(position)
                removed = apply_tombstones(store, mapper, stream)
                for entity in fed:
                    reports[entity].deleted += removed[ENTITIES[entity].primary_table]
    elapsed = time.perf_counter() - started
    for report in reports.values():
        report.seconds = elapsed
    return reports


def _group_by_position(
    store: Store, connection: str, stream: str, entities: list[str], full: bool
) -> dict[tuple[int, str], list[str]]:
    """Entities of one stream grouped by where their last pass stopped (usually all at the same place)."""
    groups: dict[tuple[int, str], list[str]] = defaultdict(list)
    for entity in entities:
        stored = None if full else store.get_state(watermark_name(entity), f"{connection}.{stream}")
        position = tuple((stored or {}).get("extra", {}).get("position", START))
        groups[(int(position[0]), str(position[1]))].append(entity)
    return dict(groups)


class _Pass:
    """One read of a raw stream from a position, mapping a group of entities.

    Chunks are read in key order and written in that same order, each with the position after it, so a pass
    stopped at any point resumes where its last written chunk ended. While one chunk is written the next ones
    are being mapped (in worker processes for a long pass).
    """

    def __init__(
        self,
        store: Store,
        mapper: Mapper,
        connection: str,
        stream: str,
        entities: list[str],
        reports: dict[str, CanonicalReport],
        run_id: str | None,
        pool: MappingWorkers,
    ) -> None:
        self.store = store
        self.mapper = mapper
        self.connection = connection
        self.stream = stream
        self.entities = entities
        self.reports = reports
        self.run_id = run_id
        self.pool = pool
        dialect = store.engine.dialect
        # rows come back as database values for this driver, so this process only writes them
        self.driver = driver_name(dialect) if supports_prepared(dialect) else None
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._uncommitted = 0
        self._begun = 0.0

    def run(self, position: tuple[int, str]) -> None:
        """Map and write every chunk past `position`; what was written is committed, or rolled back on error."""
        try:
            self._run(position)
        except BaseException:
            self._end(commit=False)
            raise
        self._end(commit=True)

    def _run(self, position: tuple[int, str]) -> None:
        self.open_batch = self.store.open_batch(self.connection, self.stream)
        # records quarantined before this pass are marked resolved when they map now; with none, nothing to mark.
        # A pass that leaves out the entities mapped from lists (`each:`) cannot tell whether a record is whole.
        listed = {target.entity for target in self.mapper.spec.streams[self.stream].targets if target.each}
        self.resolves = listed <= set(self.entities) and self.store.has_open_quarantine(
            self.connection, self.stream, "map"
        )
        in_flight: deque[tuple[Future[ChunkResult], list[tuple[str, Any]], tuple[int, str]]] = deque()
        after, exhausted = position, False
        while in_flight or not exhausted:
            if not exhausted and len(in_flight) < self.pool.ahead:
                rows = self._read(after)
                exhausted = len(rows) < CHUNK
                if rows:
                    after = (rows[-1].batch_id, rows[-1].record_id)
                    executor = self.pool.executor(long=len(rows) == CHUNK)
                    records = [(record_id, payload) for record_id, _, payload in rows]  # unpacked: no lookups by name
                    job = executor.submit(
                        map_chunk, self.mapper, self.stream, self.entities, records, utcnow(), self.driver
                    )
                    in_flight.append((job, records, after))
                    continue
            if not in_flight:
                break
            job, records, chunk_end = in_flight.popleft()
            try:
                result = job.result()
            except BrokenProcessPool as error:
                self.pool.give_up(error)
                result = map_chunk(self.mapper, self.stream, self.entities, records, utcnow(), self.driver)
            self._write(result, chunk_end)
            if self._uncommitted >= COMMIT_RECORDS or time.monotonic() - self._begun >= COMMIT_SECONDS:
                self._end(commit=True)

    def _begin(self) -> Connection:
        """The open transaction of this pass, begun when none is."""
        if self._connection is None:
            self._connection = self.store.engine.connect()
            self._transaction = self._connection.begin()
            self._begun = time.monotonic()
        return self._connection

    def _end(self, *, commit: bool) -> None:
        """Commit (or roll back) the open transaction, if any."""
        if self._connection is None:
            return
        try:
            if self._transaction is not None and self._transaction.is_active:
                if commit:
                    self._transaction.commit()
                else:
                    self._transaction.rollback()
        finally:
            self._connection.close()
            self._connection, self._transaction, self._uncommitted = None, None, 0

    def _read(self, after: tuple[int, str]) -> list[Row]:
        raw = tables.raw_records
        with self.store.engine.connect() as conn:
            return conn.execute(
                # the stored text as it is: decoding it is the mapper's job, possibly in another process
                select(raw.c.record_id, raw.c.batch_id, cast(raw.c.payload, Text).label("payload"))
                .where(raw.c.source == self.connection, raw.c.stream == self.stream, self._after(after))
                .order_by(raw.c.batch_id, raw.c.record_id)
                .limit(CHUNK)
            ).all()

    def _after(self, after: tuple[int, str]) -> ColumnElement[bool]:
        """Rows past a position, written so that each database reads them as one index range."""
        raw = tables.raw_records
        if self.store.engine.dialect.name in ("mysql", "mariadb"):  # MariaDB ranges OR-ed conditions, not tuples
            return or_(raw.c.batch_id > after[0], and_(raw.c.batch_id == after[0], raw.c.record_id > after[1]))
        return tuple_(raw.c.batch_id, raw.c.record_id) > tuple_(literal(after[0]), literal(after[1]))

    def _write(self, result: ChunkResult, chunk_end: tuple[int, str]) -> None:
        """Write a chunk's rows, failures and the position after it into the open transaction."""
        conn = self._begin()
        self._store_rows(conn, result.rows)
        failures = result.failures
        if failures:
            self.store.quarantine(conn, failures)
        if result.succeeded and self.resolves:
            self.store.resolve_quarantine(conn, self.connection, self.stream, "map", result.succeeded)
        position = chunk_end
        if self.open_batch is not None and chunk_end >= (self.open_batch, ""):
            # rows of a batch still being written may yet arrive below this record id: keep the batch's
            # start, so the next pass reads the batch again (unchanged rows are not written twice)
            position = (self.open_batch, "")
        state = {"cursor": None, "cursor_kind": "integer", "extra": {"position": list(position)}}
        for entity in self.entities:
            self.store.save_state(conn, watermark_name(entity), f"{self.connection}.{self.stream}", state, self.run_id)
        self._uncommitted += result.records
        for entity in self.entities:
            report = self.reports[entity]
            report.raw_records += result.records
            report.mapped += result.mapped[entity]
            report.by_source[self.connection] += result.mapped[entity]
            room = PREVIEW_ROWS - len(report.preview)
            if room > 0:
                report.preview.extend(result.previews.get(entity, [])[:room])
            if failures:
                report.quarantined += len(failures)
                report.quarantined_by_source[self.connection] += len(failures)
                room = PREVIEW_ROWS - len(report.quarantine_reasons)
                report.quarantine_reasons.extend(failure.error for failure in failures[: max(room, 0)])

    def _store_rows(self, conn: Connection, by_table: dict[str, list[dict[str, Any]] | PreparedRows]) -> None:
        primary_of = {ENTITIES[entity].primary_table: entity for entity in self.entities}
        written: dict[str, tuple[set, set]] = {}
        for table_name, table_rows in by_table.items():
            if table_name in REPLACED_WITH_PARENT:
                continue
            table = TABLES[table_name]
            if isinstance(table_rows, PreparedRows):
                counts = upsert_prepared(conn, table, table_rows)
            else:
                counts = upsert(conn, table, table_rows)
            written[table_name] = ({key[0] for key in counts.written_keys}, {key[0] for key in counts.inserted_keys})
            counts.written_keys, counts.inserted_keys = [], []  # the report keeps counts only: memory stays flat
            if table_name in primary_of:
                self.reports[primary_of[table_name]].counts += counts
        for table_name, (column, parent_table) in REPLACED_WITH_PARENT.items():
            if parent_table not in written:
                continue
            changed, new = written[parent_table]  # children of unchanged parents are right as they are
            table = TABLES[table_name]
            # an updated parent loses its old children even when it has none now (an email removed at the source)
            _delete_children(conn, table, column, sorted(changed - new))
            children = by_table.get(table_name)
            if not children:
                continue
            if isinstance(children, PreparedRows):
                at = children.position(column)
                write_prepared(conn, table, children, [values for values in children.values if values[at] in changed])
            else:
                write_rows(conn, table, [row for row in children if row[column] in changed])


def _delete_children(conn: Connection, table, column: str, parent_keys: list[Any]) -> None:
    """Delete the child rows of parents that were updated (new parents have none yet)."""
    for start in range(0, len(parent_keys), 500):
        conn.execute(table.delete().where(table.c[column].in_(parent_keys[start : start + 500])))
