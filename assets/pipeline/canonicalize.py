"""Canonicalize: map raw records changed since the last pass to canonical rows; failures go to quarantine."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from connectors.sdk.errors import MappingError
from mappings.canonical.entities import ENTITIES, REPLACED_WITH_PARENT, TABLES, RowContext
from mappings.declarative.engine import Mapper
from mappings.store import QuarantinedRecord, Store, UpsertCounts, tables, upsert, utcnow

CHUNK = 2000
PREVIEW_ROWS = 5


@dataclass
class CanonicalReport:
    """What one canonical entity pass did."""

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
    """Map every connection's raw records for `entity` that changed since the last pass (all when `full`)."""
    started = time.perf_counter()
    report = CanonicalReport(entity=entity)
    for connection, mapper in mappers.items():
        for stream in mapper.streams_for(entity):
            _canonicalize_stream(store, mapper, connection, stream, entity, full, run_id, report)
    report.seconds = time.perf_counter() - started
    return report


def _canonicalize_stream(
    store: Store,
    mapper: Mapper,
    connection: str,
    stream: str,
    entity: str,
    full: bool,
    run_id: str | None,
    report: CanonicalReport,
) -> None:
    position_name = f"{connection}.{stream}"
    stored = None if full else store.get_state(watermark_name(entity), position_name)
    after = (stored or {}).get("extra", {}).get("position", [0, ""])
    raw = tables.raw_records
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(raw.c.record_id, raw.c.batch_id, raw.c.payload)
                .where(
                    raw.c.source == connection,
                    raw.c.stream == stream,
                    or_(
                        raw.c.batch_id > after[0],
                        and_(raw.c.batch_id == after[0], raw.c.record_id > after[1]),
                    ),
                )
                .order_by(raw.c.batch_id, raw.c.record_id)
                .limit(CHUNK)
            ).all()
        if not rows:
            return
        with store.begin() as conn:
            _map_chunk(conn, store, mapper, connection, stream, entity, rows, report)
            after = [rows[-1].batch_id, rows[-1].record_id]
            state = {"cursor": None, "cursor_kind": "integer", "extra": {"position": after}}
            store.save_state(conn, watermark_name(entity), position_name, state, run_id)


def _map_chunk(
    conn: Connection, store: Store, mapper: Mapper, connection: str, stream: str, entity: str, rows, report
) -> None:
    now = utcnow()
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: list[QuarantinedRecord] = []
    succeeded: list[str] = []
    for row in rows:
        report.raw_records += 1
        try:
            mapped = mapper.map_record(stream, row.payload, entity=entity)
        except MappingError as error:
            failures.append(
                QuarantinedRecord(
                    connection, stream, "map", str(error), row.record_id, row.payload, error.field
                )
            )
            continue
        succeeded.append(row.record_id)
        for item in mapped:
            context = RowContext(source=connection, object=item.object, loaded_at=now)
            for table_name, table_rows in ENTITIES[item.entity].to_rows(item.record, context).items():
                by_table[table_name].extend(table_rows)
            report.mapped += 1
            report.by_source[connection] += 1
            if len(report.preview) < PREVIEW_ROWS:
                report.preview.append(item.record.model_dump(mode="json"))
    primary = ENTITIES[entity].primary_table
    for table_name, table_rows in by_table.items():
        table = TABLES[table_name]
        if table_name in REPLACED_WITH_PARENT:
            parent = REPLACED_WITH_PARENT[table_name]
            _replace_children(conn, table, parent, by_table.get(primary, []), table_rows)
            continue
        counts = upsert(conn, table, table_rows)
        if table_name == primary:
            report.counts += counts
    if failures:
        store.quarantine(conn, failures)
        report.quarantined += len(failures)
        report.quarantined_by_source[connection] += len(failures)
        report.quarantine_reasons.extend(
            failure.error for failure in failures[: 5 - len(report.quarantine_reasons)]
        )
    if succeeded:
        store.resolve_quarantine(conn, connection, stream, "map", succeeded)


def _replace_children(
    conn: Connection, table, parent: str, parents: list[dict[str, Any]], rows: list[dict[str, Any]]
):
    keys = sorted({row[parent] for row in parents} | {row[parent] for row in rows})
    for start in range(0, len(keys), 500):
        conn.execute(table.delete().where(table.c[parent].in_(keys[start : start + 500])))
    unique = {row[table.primary_key.columns.keys()[0]]: row for row in rows}
    if unique:
        conn.execute(table.insert(), list(unique.values()))


__all__ = ["CanonicalReport", "canonicalize"]
