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
READ_AHEAD_PAGES = 16  # enough for the reader to go on while a group of small pages is stored
GROUP_RECORDS = 5000  # pages already read are stored together up to about this many records
MIN_GROUP_RECORDS = 1000  # below this, wait a little for the next page rather than commit a small group
GROUP_WAIT_SECONDS = 1.0  # the longest a group waits for more pages before it is stored


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
    # Pages are requested while earlier ones are stored; at most READ_AHEAD_PAGES wait in memory. Pages that
    # arrived while the last transaction ran are stored together (up to GROUP_RECORDS records), with the state
    # after the last of them. A group smaller than MIN_GROUP_RECORDS waits up to GROUP_WAIT_SECONDS for more
    # pages: one commit per page would cost more than storing the page.
    try:
        with Prefetched(connector.read(stream_name, state), depth=READ_AHEAD_PAGES, name=f"read-{connection}") as pages:
            for page in pages:
                group, count = [page], len(page.records)
                deadline = time.monotonic() + GROUP_WAIT_SECONDS
                while count < GROUP_RECORDS:
                    wait = max(deadline - time.monotonic(), 0.0) if count < MIN_GROUP_RECORDS else 0.0
                    more = pages.ready(1, wait_seconds=wait)
                    if not more:
                        break
                    group += more
                    count += len(more[0].records)
                batch_id = _land_pages(store, stream, group, report, batch_id, run_id)
                state = group[-1].state
    finally:
        if batch_id is not None:  # the canonical pass may now go past this batch (see Store.open_batch)
            store.finish_batch(batch_id)
    report.cursor = state.cursor
    report.seconds = time.perf_counter() - started
    return report


def _land_pages(
    store: Store, stream: Stream, pages: list[Page], report: IngestReport, batch_id: int | None, run_id: str | None
) -> int | None:
    """Store pages' records and rejections with the stream state after the last page, in one transaction."""
    connection, stream_name = report.connection, report.stream
    report.pages += len(pages)
    records = [record for page in pages for record in page.records]
    rejected = [rejection for page in pages for rejection in page.rejected]
    now = utcnow()
    with store.begin() as conn:
        if batch_id is None and (records or rejected):
            batch_id = store.new_batch(conn, connection, stream_name, run_id)
        if records:
            rows = [_raw_row(connection, stream_name, stream, record, batch_id, now) for record in records]
            counts = upsert(conn, tables.raw_records, rows, keep_on_update=("first_seen_at",))
            report.records_read += len(records)
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            if len(report.preview) < PREVIEW_ROWS:
                report.preview.extend(records[: PREVIEW_ROWS - len(report.preview)])
        if rejected:
            store.quarantine(
                conn,
                (
                    QuarantinedRecord(connection, stream_name, "read", r.error, r.record_id, r.payload, r.field)
                    for r in rejected
                ),
            )
            report.quarantined += len(rejected)
            report.quarantine_reasons.extend(r.error for r in rejected[:5])
        store.save_state(conn, connection, stream_name, pages[-1].state.to_stored(), run_id)
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
