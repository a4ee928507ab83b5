"""Ingest: read a connector stream page by page into the raw landing table, committing state with each group.

A long stream (more than HANDOFF_RECORDS records) is stored by a writer process from there on, so the reading
thread keeps the interpreter to itself (see `canalis.ingest.landing`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from canalis.ingest import landing
from canalis.ingest.landing import IngestReport, Lander, StreamKeys, WriterProcess, collect_group, writer_allowed
from canalis.ingest.tombstones import bury, stored_ids
from canalis.sdk.base import Connector, key_at
from canalis.sdk.prefetch import Prefetched
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Deletion, Page
from canalis.store import Store, utcnow

__all__ = ["READ_AHEAD_PAGES", "IngestReport", "ingest_stream"]

log = logging.getLogger(__name__)

READ_AHEAD_PAGES = 16  # enough for the reader to go on while a group of small pages is stored


def ingest_stream(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    full_refresh: bool = False,
    run_id: str | None = None,
) -> IngestReport:
    """Read one stream from its stored state (or from the start) and land every record or its rejection.

    One read of a connection at a time on a store, whichever process asks: a second one waits for the first.
    """
    with store.lock(f"read:{connector.connection}"):
        return _ingest(store, connector, stream_name, full_refresh=full_refresh, run_id=run_id)


def _ingest(store: Store, connector: Connector, stream_name: str, *, full_refresh: bool, run_id: str | None):
    started = time.perf_counter()
    stream = connector.stream(stream_name)
    connection = connector.connection
    report = IngestReport(connection=connection, stream=stream_name, full_refresh=full_refresh)
    stored, version = store.read_state(connection, stream_name)
    state = StreamState.from_stored(None if full_refresh else stored)
    keys = StreamKeys.of(stream)
    # a complete read of a stream whose deleted records simply stop being listed shows which ones are gone
    seen: set[str] | None = None
    if _detects_deletes_by_absence(connector, stream) and (
        # a read resuming an interrupted listing (its progress in the state) does not see the records before it
        full_refresh or not stream.incremental() or (state.cursor is None and not state.extra)
    ):
        seen = set()
    # every save checks that no other run saved this stream's state since this read began
    lander = Lander(store, report, keys, run_id, state_version=version, window_start=state.cursor)
    writer: WriterProcess | None = None
    hand_off = writer_allowed(store)
    try:
        # Pages are requested while earlier ones are stored; at most READ_AHEAD_PAGES wait in memory.
        with Prefetched(connector.read(stream_name, state), depth=READ_AHEAD_PAGES, name=f"read-{connection}") as pages:
            for page in pages:
                if writer is None and hand_off and report.records_read >= landing.HANDOFF_RECORDS:
                    writer = WriterProcess(
                        store, report, keys, run_id, lander.batch_id, lander.state_version, lander.window_start
                    )
                    report.writer_process = True
                if writer is not None:
                    if seen is not None:
                        seen.update(present_ids(keys, page))
                    writer.send(page)
                    state = page.state
                    continue
                group = collect_group(page, lambda wait: next(iter(pages.ready(1, wait_seconds=wait)), None))
                if seen is not None:
                    for grouped in group:
                        seen.update(present_ids(keys, grouped))
                lander.land(group)
                state = group[-1].state
        if writer is not None:
            stored_by_writer, lander.batch_id = writer.finish()
            report.add(stored_by_writer)
            writer = None
        if seen is not None:
            report.deleted += bury_missing(store, report, seen, run_id)
    except Exception:
        if writer is not None and not writer.failed:  # a failing read lands every page handed over before it
            try:
                stored_by_writer, lander.batch_id = writer.finish()
                report.add(stored_by_writer)
            except Exception as writer_error:
                landing.log.warning("the landing writer failed too: %s", writer_error)
            writer = None
        raise
    finally:
        if writer is not None:  # interrupted: stop the writer; what it committed stays
            lander.batch_id = writer.abandon() or lander.batch_id
        if lander.batch_id is not None:  # the canonical pass may now go past this batch (see Store.open_batch)
            store.finish_batch(lander.batch_id)
    report.cursor = state.cursor
    report.seconds = time.perf_counter() - started
    return report


def present_ids(keys: StreamKeys, page: Page) -> Iterator[str]:
    """The ids a page shows the source still holds (rejected and deleted ones included: they are not missing)."""
    for record in page.records:
        record_id = key_at(record, keys.primary_key)
        if record_id is not None:
            yield record_id
    for rejection in page.rejected:
        if rejection.record_id is not None:
            yield rejection.record_id
    for deletion in getattr(page, "deleted", ()):
        yield deletion.record_id


def bury_missing(store: Store, report: IngestReport, seen: set[str], run_id: str | None) -> int:
    """Tombstone the stored records a complete read did not list; how many.

    A complete read that listed nothing while records are stored is taken for a source answering wrongly, not
    for every record deleted at once: nothing is buried then.
    """
    with store.begin() as conn:
        missing = stored_ids(conn, report.connection, report.stream) - seen
        if not missing:
            return 0
        if not seen:
            log.warning(
                "%s.%s: a complete read listed no record while %d are stored; not taken as deletions",
                report.connection,
                report.stream,
                len(missing),
            )
            return 0
        deletions = [Deletion(record_id, "missing") for record_id in sorted(missing)]
        return bury(conn, report.connection, report.stream, deletions, {}, utcnow(), run_id)


def _detects_deletes_by_absence(connector: Connector, stream: type) -> bool:
    """The connector's say (a source object that is not a `Connector` may not have one: the stream's then)."""
    decide = getattr(connector, "detects_deletes_by_absence", None)
    return bool(decide(stream)) if callable(decide) else bool(getattr(stream, "deletes_by_absence", False))
