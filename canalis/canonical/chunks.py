"""Mapping a chunk of raw records to canonical table rows: a pure function, so it can run in a worker process.

The caller reads raw records from the store and writes what comes back; this module touches no database.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canalis.canonical.entities import ENTITIES, TABLES, RowContext
from canalis.collector import collector_paused
from canalis.mappings.declarative.engine import ChildFailure, Mapper
from canalis.sdk.errors import MappingError
from canalis.store.prepared import PreparedRows, prepare_rows
from canalis.store.store import QuarantinedRecord
from canalis.store.types import loads

PREVIEW_ROWS = 5


@dataclass
class ChunkResult:
    """What mapping one chunk gave: rows per table, the records that failed, and counts for the reports."""

    rows: dict[str, list[dict[str, Any]] | PreparedRows] = field(default_factory=dict)
    failures: list[QuarantinedRecord] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    mapped: Counter = field(default_factory=Counter)
    previews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    records: int = 0


def map_chunk(
    mapper: Mapper,
    stream: str,
    entities: list[str],
    records: list[tuple[str, Any]],
    loaded_at: datetime,
    driver: str | None = None,
) -> ChunkResult:
    """Map (record_id, payload) pairs of one stream into the rows of the given entities.

    A payload may be the stored JSON text or the decoded document. A record that does not map is returned as a
    failure with the reason, never dropped. With a `driver` (such as `sqlite+pysqlite`), each table's rows come
    back as database values for it (PreparedRows), ready to be written.
    """
    with collector_paused(set_aside=_set_aside):
        return _map_chunk(mapper, stream, entities, records, loaded_at, driver)


_set_aside = False


@contextmanager
def chunks_set_aside() -> Iterator[None]:
    """For a whole pass: the objects alive after each chunk is mapped are set aside from the cycle collector.

    Re-enabled after a chunk, the collector would walk every row the chunk left alive (until it is written) in
    its youngest generation, then again in the older ones: about a tenth of the pass's CPU for no find (a chunk
    makes a dozen objects in cycles at most). `gc.freeze()` moves every object alive into a generation the
    collector skips; reference counting still frees them as usual. At the end of the pass they are handed back
    (`gc.unfreeze()`), so the few cycles made meanwhile are collected then. Mapping workers set it for their
    life, which is the pass's.
    """
    global _set_aside
    previous, _set_aside = _set_aside, True
    try:
        yield
    finally:
        _set_aside = previous
        if not previous:
            gc.unfreeze()


def set_aside_for_life() -> None:
    """Set chunks aside in this process until it ends (a mapping worker: it ends with its pass)."""
    global _set_aside
    _set_aside = True


def _map_chunk(
    mapper: Mapper,
    stream: str,
    entities: list[str],
    records: list[tuple[str, Any]],
    loaded_at: datetime,
    driver: str | None,
) -> ChunkResult:
    connection = mapper.connection
    wanted = frozenset(entities)
    single = entities[0] if len(entities) == 1 else None
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    previews: dict[str, list[dict[str, Any]]] = defaultdict(list)
    result = ChunkResult(records=len(records))
    contexts: dict[str, RowContext] = {}
    for record_id, payload in records:
        document = loads(payload) if isinstance(payload, str | bytes) else payload
        try:
            mapped, child_failures = mapper.map_record_parts(stream, document, entity=single)
        except MappingError as error:
            result.failures.append(
                QuarantinedRecord(connection, stream, "map", str(error), record_id, document, error.field)
            )
            continue
        child_failures = [failure for failure in child_failures if failure.entity in wanted]
        if child_failures:
            # the record's good parts land; its entry stays open (the record is incomplete) until it maps whole
            result.failures.append(_incomplete(connection, stream, record_id, document, child_failures))
        else:
            result.succeeded.append(record_id)
        for item in mapped:
            if item.entity not in wanted:
                continue
            context = contexts.get(item.object)
            if context is None:
                context = contexts[item.object] = RowContext(source=connection, object=item.object, loaded_at=loaded_at)
            for table_name, table_rows in ENTITIES[item.entity].to_rows(item.record, context).items():
                by_table[table_name].extend(table_rows)
            result.mapped[item.entity] += 1
            if len(previews[item.entity]) < PREVIEW_ROWS:
                previews[item.entity].append(item.record.model_dump(mode="json"))
    if driver is None:
        result.rows = dict(by_table)
    else:
        result.rows = {name: prepare_rows(driver, TABLES[name], rows) for name, rows in by_table.items() if rows}
    result.previews = dict(previews)
    return result


def _incomplete(
    connection: str, stream: str, record_id: str, document: Any, failures: list[ChildFailure]
) -> QuarantinedRecord:
    """One quarantine entry for a record whose list items did not all map, under the record's own id.

    The entry names the first failing item's path and every reason; it stays open while the record is
    incomplete and is resolved when a later version of the record maps whole.
    """
    first = failures[0]
    reasons = "; ".join(f"{failure.path}: {failure.error.reason}" for failure in failures[:5])
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    error = (
        f"{connection}.{stream} record '{record_id}' is incomplete: {len(failures)} list item(s) left out: "
        f"{reasons}{more}"
    )
    return QuarantinedRecord(connection, stream, "map", error, record_id, document, first.path)
