"""Canonicalize: map raw records changed since the last pass to canonical rows; failures go to quarantine.

Each raw stream is read once per pass and every selected entity it feeds is mapped from that one read (an
order record gives an order, its lines and an interaction). Progress is kept per entity and stream, so a pass
over a subset of entities never makes the others skip records.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from connectors.sdk.errors import MappingError
from mappings.canonical.entities import ENTITIES, REPLACED_WITH_PARENT, TABLES, RowContext
from mappings.declarative.engine import Mapper
from mappings.store import QuarantinedRecord, Store, UpsertCounts, tables, upsert, utcnow
from mappings.store.upsert import write_rows

CHUNK = 2000
PREVIEW_ROWS = 5
START = (0, "")


@dataclass
class CanonicalReport:
    """What a pass did for one canonical entity."""

    entity: str
    mapped: int = 0
    quarantined: int = 0
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
) -> dict[str, CanonicalReport]:
    """Map the raw records changed since the last pass into every given entity, reading each stream once."""
    started = time.perf_counter()
    wanted = sorted(set(entities))
    reports = {entity: CanonicalReport(entity=entity) for entity in wanted}
    for connection, mapper in mappers.items():
        streams = sorted({stream for entity in wanted for stream in mapper.streams_for(entity)})
        for stream in streams:
            fed = [entity for entity in wanted if stream in mapper.streams_for(entity)]
            for position, group in _group_by_position(store, connection, stream, fed, full).items():
                _Pass(store, mapper, connection, stream, group, reports, run_id).run(position)
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
    """One read of a raw stream from a position, mapping a group of entities."""

    def __init__(
        self,
        store: Store,
        mapper: Mapper,
        connection: str,
        stream: str,
        entities: list[str],
        reports: dict[str, CanonicalReport],
        run_id: str | None,
    ) -> None:
        self.store = store
        self.mapper = mapper
        self.connection = connection
        self.stream = stream
        self.entities = entities
        self.entity_set = frozenset(entities)
        self.reports = reports
        self.run_id = run_id

    def run(self, position: tuple[int, str]) -> None:
        raw = tables.raw_records
        after = position
        while True:
            with self.store.engine.connect() as conn:
                rows = conn.execute(
                    select(raw.c.record_id, raw.c.batch_id, raw.c.payload)
                    .where(
                        raw.c.source == self.connection,
                        raw.c.stream == self.stream,
                        or_(raw.c.batch_id > after[0], and_(raw.c.batch_id == after[0], raw.c.record_id > after[1])),
                    )
                    .order_by(raw.c.batch_id, raw.c.record_id)
                    .limit(CHUNK)
                ).all()
            if not rows:
                return
            after = (rows[-1].batch_id, rows[-1].record_id)
            with self.store.begin() as conn:
                self._map_chunk(conn, rows)
                state = {"cursor": None, "cursor_kind": "integer", "extra": {"position": list(after)}}
                for entity in self.entities:
                    self.store.save_state(
                        conn, watermark_name(entity), f"{self.connection}.{self.stream}", state, self.run_id
                    )

    def _map_chunk(self, conn: Connection, rows) -> None:
        now = utcnow()
        by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
        failures: list[QuarantinedRecord] = []
        succeeded: list[str] = []
        single = self.entities[0] if len(self.entities) == 1 else None
        for row in rows:
            for entity in self.entities:
                self.reports[entity].raw_records += 1
            try:
                mapped = self.mapper.map_record(self.stream, row.payload, entity=single)
            except MappingError as error:
                failures.append(
                    QuarantinedRecord(
                        self.connection, self.stream, "map", str(error), row.record_id, row.payload, error.field
                    )
                )
                continue
            succeeded.append(row.record_id)
            for item in mapped:
                if item.entity not in self.entity_set:
                    continue
                context = RowContext(source=self.connection, object=item.object, loaded_at=now)
                for table_name, table_rows in ENTITIES[item.entity].to_rows(item.record, context).items():
                    by_table[table_name].extend(table_rows)
                report = self.reports[item.entity]
                report.mapped += 1
                report.by_source[self.connection] += 1
                if len(report.preview) < PREVIEW_ROWS:
                    report.preview.append(item.record.model_dump(mode="json"))
        self._store_rows(conn, by_table)
        if failures:
            self.store.quarantine(conn, failures)
            for entity in self.entities:
                report = self.reports[entity]
                report.quarantined += len(failures)
                report.quarantined_by_source[self.connection] += len(failures)
                room = PREVIEW_ROWS - len(report.quarantine_reasons)
                report.quarantine_reasons.extend(failure.error for failure in failures[: max(room, 0)])
        if succeeded:
            self.store.resolve_quarantine(conn, self.connection, self.stream, "map", succeeded)

    def _store_rows(self, conn: Connection, by_table: dict[str, list[dict[str, Any]]]) -> None:
        primary_of = {ENTITIES[entity].primary_table: entity for entity in self.entities}
        written: dict[str, tuple[set, set]] = {}
        for table_name, table_rows in by_table.items():
            if table_name in REPLACED_WITH_PARENT:
                continue
            counts = upsert(conn, TABLES[table_name], table_rows)
            written[table_name] = ({key[0] for key in counts.written_keys}, {key[0] for key in counts.inserted_keys})
            counts.written_keys, counts.inserted_keys = [], []  # the report keeps counts only: memory stays flat
            if table_name in primary_of:
                self.reports[primary_of[table_name]].counts += counts
        for table_name, (column, parent_table) in REPLACED_WITH_PARENT.items():
            if table_name not in by_table:
                continue
            changed, new = written.get(parent_table, (set(), set()))  # children of unchanged parents are right
            rows = [row for row in by_table[table_name] if row[column] in changed]
            _replace_children(conn, TABLES[table_name], column, sorted(changed - new), rows)


def _replace_children(conn: Connection, table, column: str, parent_keys: list[Any], rows: list[dict[str, Any]]) -> None:
    """Replace the child rows of the given parents: delete theirs, then write the new ones.

    Parents that were just inserted have no children yet, so callers pass only updated parents for deletion.
    """
    for start in range(0, len(parent_keys), 500):
        conn.execute(table.delete().where(table.c[column].in_(parent_keys[start : start + 500])))
    write_rows(conn, table, rows)
