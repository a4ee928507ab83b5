"""Quarantine replay: records rejected while reading are retried on later runs until they land or a person
dismisses them.

A stream whose connector fetches records by id (`Connector.fetches_by_id`) gets each quarantined record
fetched again; any other stream re-reads the cursor window its records were in, from the earliest entry's
`window_cursor`, without moving the stream's own cursor. Whatever lands closes its entries (see `Lander`), and
entries of records that landed since they were rejected are closed first, so a record whose cursor was passed
is not lost until a full sync.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from canalis.config.replay import ReplaySettings
from canalis.ingest.landing import IngestReport, Lander, StreamKeys
from canalis.privacy import mask_text
from canalis.sdk.base import Connector, validate_page
from canalis.sdk.state import CursorKind, StreamState, format_cursor, parse_cursor_datetime
from canalis.sdk.streams import Page, Stream
from canalis.store import Store, tables, utcnow

__all__ = ["ReplayReport", "ReplaySettings", "heal_after_read", "replay_stream"]

log = logging.getLogger(__name__)

WINDOW_MARGIN = timedelta(seconds=1)  # a window starts this long before the earliest record it looks for


@dataclass(frozen=True)
class OpenEntry:
    """An open read-stage quarantine entry, as replay needs it."""

    key: str
    record_id: str | None
    window_cursor: str | None


@dataclass
class ReplayReport:
    """What one replay of a stream's quarantine did (counts and keys; never payloads)."""

    connection: str
    stream: str
    method: str = "none"
    stale_closed: int = 0
    retried: int = 0
    records_landed: int = 0
    rejected_again: int = 0
    pages: int = 0
    still_open: int = 0
    seconds: float = 0.0
    healed_keys: list[str] = field(default_factory=list)

    @property
    def healed(self) -> int:
        return len(self.healed_keys)

    def metadata(self) -> dict[str, Any]:
        """Counts for run metadata (keys name vendor ids, so they stay out of it)."""
        return {
            "replay_method": self.method,
            "replay_retried": self.retried,
            "replay_healed": self.healed,
            "replay_stale_closed": self.stale_closed,
            "replay_rejected_again": self.rejected_again,
            "quarantine_open": self.still_open,
        }


def open_entries(store: Store, source: str, stream: str, limit: int | None = None) -> list[OpenEntry]:
    """A stream's open read-stage entries, oldest first."""
    q = tables.quarantine
    query = (
        select(q.c.quarantine_key, q.c.record_id, q.c.window_cursor)
        .where(q.c.source == source, q.c.stream == stream, q.c.stage.in_(tables.READ_STAGES), tables.quarantine_open())
        .order_by(q.c.first_seen_at, q.c.quarantine_key)
    )
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
        return [OpenEntry(row.quarantine_key, row.record_id, row.window_cursor) for row in connection.execute(query)]


def open_count(store: Store, source: str, stream: str) -> int:
    q = tables.quarantine
    query = select(func.count()).where(
        q.c.source == source, q.c.stream == stream, q.c.stage.in_(tables.READ_STAGES), tables.quarantine_open()
    )
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def replay_stream(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    settings: ReplaySettings | None = None,
    limit: int | None = None,
    run_id: str | None = None,
    just_read_whole: bool = False,
) -> ReplayReport:
    """Retry a stream's open read-stage quarantine entries (at most `limit`, default the settings' per-run
    number) and close those whose record lands.

    `just_read_whole` says the caller has just read the whole stream (a full refresh, or a stream without a
    cursor): its records had their chance, so no window is re-read.
    """
    settings = settings or ReplaySettings()
    started = time.perf_counter()
    stream = connector.stream(stream_name)
    connection = connector.connection
    report = ReplayReport(connection=connection, stream=stream_name)
    with store.lock(f"read:{connection}"):
        report.stale_closed = store.close_landed_entries(connection, stream_name)
        wanted = settings.records_per_run if limit is None else limit
        entries = open_entries(store, connection, stream_name, wanted) if wanted > 0 else []
        if entries:
            keys = StreamKeys(stream.primary_key, stream.cursor_field, stream.cursor_kind)
            ingest = IngestReport(connection=connection, stream=stream_name)
            lander = Lander(store, ingest, keys, run_id, save_state=False)
            try:
                with_ids = [entry for entry in entries if entry.record_id]
                if with_ids and connector.fetches_by_id(stream_name):
                    report.method = "by id"
                    report.retried += len(with_ids)
                    _by_id(connector, stream, [entry.record_id for entry in with_ids if entry.record_id], lander)
                    left = [entry for entry in entries if not entry.record_id]
                else:
                    left = entries
                if left and not just_read_whole:
                    report.method = "window" if report.method == "none" else "by id and window"
                    report.retried += len(left)
                    _window(store, connector, stream, left, lander, settings.window_pages)
            finally:
                if lander.batch_id is not None:
                    store.finish_batch(lander.batch_id)
            report.records_landed = ingest.records_read
            report.rejected_again = ingest.quarantined
            report.pages = ingest.pages
            report.healed_keys = _closed(store, [entry.key for entry in entries])
        report.still_open = open_count(store, connection, stream_name)
    report.seconds = time.perf_counter() - started
    return report


def heal_after_read(
    store: Store,
    connector: Connector,
    stream_name: str,
    *,
    settings: ReplaySettings | None = None,
    full_refresh: bool = False,
    run_id: str | None = None,
) -> ReplayReport | None:
    """Replay a stream's quarantine right after its read, as every sync does; None when the replay failed (it
    is logged and left for the next run: the read itself went through)."""
    try:
        return replay_stream(
            store,
            connector,
            stream_name,
            settings=settings,
            run_id=run_id,
            just_read_whole=full_refresh or not connector.stream(stream_name).incremental(),
        )
    except Exception as error:
        reason = mask_text(" ".join(str(error).split())) or type(error).__name__
        log.warning("%s.%s: quarantine replay failed: %s", connector.connection, stream_name, reason)
        return None


def _by_id(connector: Connector, stream: type[Stream], ids: list[str], lander: Lander) -> None:
    """Fetch the records by id, in groups, and land them (validated as a read validates them)."""
    for start in range(0, len(ids), 100):
        records = list(connector.read_records_by_id(stream.name, ids[start : start + 100]))
        page = validate_page(stream, Page(records=records, state=StreamState.empty(stream.cursor_kind)))
        if page.records or page.rejected:
            lander.land([page])


def _window(
    store: Store,
    connector: Connector,
    stream: type[Stream],
    entries: list[OpenEntry],
    lander: Lander,
    max_pages: int,
) -> None:
    """Re-read the stream from the earliest entry's window until every entry is closed, the stream ends or
    `max_pages` were read. A window read to its end settles the entries it did not reject again: their record
    landed, or the source no longer holds it under that id (a key built from a field the fault had garbled);
    an entry without a record id closes when nothing in the window was rejected without an id."""
    cursors = [entry.window_cursor for entry in entries]
    start = None if None in cursors else _just_before(_earliest([c for c in cursors if c is not None], stream), stream)
    state = StreamState(cursor=start, cursor_kind=stream.cursor_kind)
    lander.window_start = start
    wanted = {entry.record_id for entry in entries if entry.record_id}
    anonymous = [entry.key for entry in entries if not entry.record_id]
    reached_end, rejected_without_id = True, 0
    rejected_again: set[str] = set()
    for pages, page in enumerate(connector.read(stream.name, state), start=1):
        rejected_without_id += sum(1 for rejection in page.rejected if not rejection.record_id)
        rejected_again.update(str(rejection.record_id) for rejection in page.rejected if rejection.record_id)
        lander.land([page])
        if wanted and wanted <= _closed_ids(store, connector.connection, stream.name, wanted) and not anonymous:
            reached_end = False
            break
        if pages >= max_pages:
            reached_end = False
            break
    if not reached_end:
        return
    settled = [entry.key for entry in entries if entry.record_id and entry.record_id not in rejected_again]
    if not rejected_without_id:
        settled += anonymous
    q = tables.quarantine
    with store.begin() as connection:
        for offset in range(0, len(settled), 500):
            connection.execute(
                update(q)
                .where(q.c.quarantine_key.in_(settled[offset : offset + 500]), tables.quarantine_open())
                .values(resolved_at=utcnow())
            )


def _earliest(cursors: list[str], stream: type[Stream]) -> str:
    """The earliest of the cursors as the stream compares them (as text when one does not parse)."""
    try:
        return min(cursors, key=lambda cursor: sort_key(cursor, stream.cursor_kind))
    except (TypeError, ValueError):
        return min(cursors)


def _just_before(cursor: str, stream: type[Stream]) -> str:
    """A cursor just below this one, so a read that starts after its cursor (strictly) still finds the record."""
    try:
        if stream.cursor_kind == "datetime":
            return format_cursor(parse_cursor_datetime(cursor) - WINDOW_MARGIN, "datetime")
        if stream.cursor_kind == "integer":
            return str(int(cursor) - 1)
    except (ValueError, OverflowError):
        pass
    return cursor


def sort_key(cursor: str, kind: CursorKind) -> Any:
    """A cursor as a value that orders as the stream orders it."""
    if kind == "datetime":
        return parse_cursor_datetime(cursor)
    if kind == "integer":
        return int(cursor)
    return cursor


def _closed_ids(store: Store, source: str, stream: str, ids: set[str]) -> set[str]:
    """Which of these records have no open read-stage entry left."""
    q = tables.quarantine
    query = select(q.c.record_id).where(
        q.c.source == source,
        q.c.stream == stream,
        q.c.stage.in_(tables.READ_STAGES),
        q.c.record_id.in_(sorted(ids)),
        tables.quarantine_open(),
    )
    with store.engine.connect() as connection:
        still = {row.record_id for row in connection.execute(query)}
    return ids - still


def _closed(store: Store, keys: list[str]) -> list[str]:
    """The keys among these whose entries are resolved now."""
    q = tables.quarantine
    found: list[str] = []
    with store.engine.connect() as connection:
        for start in range(0, len(keys), 500):
            query = select(q.c.quarantine_key).where(
                q.c.quarantine_key.in_(keys[start : start + 500]), q.c.resolved_at.is_not(None)
            )
            found.extend(connection.execute(query).scalars())
    return sorted(found)
