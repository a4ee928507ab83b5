"""Ingest: read a connector stream page by page into the raw landing table, committing state after each page."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from connectors.sdk.base import Connector, dig, record_id
from connectors.sdk.prefetch import Prefetched
from connectors.sdk.state import StreamState
from connectors.sdk.streams import Page, Stream
from mappings.store import QuarantinedRecord, Store, tables, upsert, utcnow
from mappings.store.types import JSONText, dumps

PREVIEW_ROWS = 5
READ_AHEAD_PAGES = 2


@dataclass
class IngestReport:
    """What one stream read did."""

    connection: str
    stream: str
    records_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    pages: int = 0
    cursor: str | None = None
    full_refresh: bool = False
    seconds: float = 0.0
    preview: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: list[str] = field(default_factory=list)


def ingest_stream(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    full_refresh: bool = False,
    run_id: str | None = None,
) -> IngestReport:
    """Read one stream from its stored state (or from the start) and land every record or its rejection."""
    started = time.perf_counter()
    stream = connector.stream(stream_name)
    connection = connector.connection
    report = IngestReport(connection=connection, stream=stream_name, full_refresh=full_refresh)
    stored = None if full_refresh else store.get_state(connection, stream_name)
    state = StreamState.from_stored(stored)
    batch_id: int | None = None
    # The next page is requested while this one is stored; at most READ_AHEAD_PAGES pages wait in memory.
    with Prefetched(connector.read(stream_name, state), depth=READ_AHEAD_PAGES, name=f"read-{connection}") as pages:
        for page in pages:
            batch_id = _land_page(store, stream, page, report, batch_id, run_id)
            state = page.state
    report.cursor = state.cursor
    report.seconds = time.perf_counter() - started
    return report


def _land_page(
    store: Store, stream: Stream, page: Page, report: IngestReport, batch_id: int | None, run_id: str | None
) -> int | None:
    """Store one page's records and rejections with the stream state after it, in one transaction."""
    connection, stream_name = report.connection, report.stream
    report.pages += 1
    now = utcnow()
    with store.begin() as conn:
        if batch_id is None and (page.records or page.rejected):
            batch_id = store.new_batch(conn, connection, stream_name, run_id)
        if page.records:
            rows = [_raw_row(connection, stream_name, stream, record, batch_id, now) for record in page.records]
            counts = upsert(conn, tables.raw_records, rows, keep_on_update=("first_seen_at",))
            report.records_read += len(page.records)
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            if len(report.preview) < PREVIEW_ROWS:
                report.preview.extend(page.records[: PREVIEW_ROWS - len(report.preview)])
        if page.rejected:
            store.quarantine(
                conn,
                (
                    QuarantinedRecord(connection, stream_name, "read", r.error, r.record_id, r.payload, r.field)
                    for r in page.rejected
                ),
            )
            report.quarantined += len(page.rejected)
            report.quarantine_reasons.extend(r.error for r in page.rejected[:5])
        store.save_state(conn, connection, stream_name, page.state.to_stored(), run_id)
    return batch_id


def _raw_row(connection: str, stream_name: str, stream, record: dict[str, Any], batch_id, now) -> dict[str, Any]:
    text = dumps(record)
    cursor = dig(record, stream.cursor_field) if stream.cursor_field else None
    return {
        "source": connection,
        "stream": stream_name,
        "record_id": record_id(stream, record),
        "batch_id": batch_id,
        "cursor_value": None if cursor is None else str(cursor)[:100],
        "payload": JSONText(text),
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "first_seen_at": now,
        "last_seen_at": now,
    }
