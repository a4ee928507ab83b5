"""Storing read pages in the raw landing table: in the reading process, or in a writer process of its own.

Reading a page is a request and an answer in turn with the source, so the reading thread is the one that sets
the pace of a long stream. In the reading process, encoding, hashing and storing records hold the interpreter
lock that thread needs; a writer process stores the pages instead, and the reading process only hands them
over. Whichever stores them, pages go in groups, one transaction each, with the stream state after the group's
last page: a read stopped at any point resumes after the last group committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import os
import pickle
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from canalis.canonical.workers import lower_priority, start_context
from canalis.collector import collector_paused
from canalis.ingest.tombstones import bury, has_tombstones, unbury
from canalis.parent_watch import exit_with_parent
from canalis.privacy.subjects import ErasedFilter
from canalis.sdk.base import dig, key_at
from canalis.sdk.errors import ConfigError
from canalis.sdk.state import CursorKind, format_cursor
from canalis.sdk.streams import Deletion, DeletionKind, Page, Rejected, Stream
from canalis.store import QuarantinedRecord, Store, tables, upsert, utcnow
from canalis.store.types import JSONText, dumps

log = logging.getLogger(__name__)

PREVIEW_ROWS = 5
GROUP_RECORDS = 5000  # pages already read are stored together up to about this many records
MIN_GROUP_RECORDS = 1000  # below this, wait a little for the next page rather than commit a small group
GROUP_WAIT_SECONDS = 1.0  # the longest a group waits for more pages before it is stored

WRITER_ENV = "CANALIS_LANDING_WRITER"
HANDOFF_RECORDS = 20_000  # a stream longer than this is stored by a writer process from here on
WRITER_QUEUE_PAGES = 32  # pages waiting for the writer process, at most (memory stays bounded)
_POLL_SECONDS = 0.2
_ORPHAN_CHECK_SECONDS = 5.0


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
    deleted: int = 0
    erased_skipped: int = 0
    healed: int = 0
    pages: int = 0
    cursor: str | None = None
    full_refresh: bool = False
    seconds: float = 0.0
    writer_process: bool = False
    preview: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        """Count in what another part of the same read stored (the writer process's share)."""
        self.records_read += other.records_read
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        self.deleted += other.deleted
        self.erased_skipped += other.erased_skipped
        self.healed += other.healed
        self.pages += other.pages
        self.preview.extend(other.preview[: max(PREVIEW_ROWS - len(self.preview), 0)])
        self.quarantine_reasons.extend(other.quarantine_reasons[: max(5 - len(self.quarantine_reasons), 0)])


@dataclass(frozen=True)
class StreamKeys:
    """Where a stream's records hold their key and cursor (dotted paths), all landing needs of the stream."""

    primary_key: str
    cursor_field: str | None
    deleted_when: tuple[str, Any] | None = None
    deletion_kind: DeletionKind = "deleted"
    cursor_kind: CursorKind = "datetime"

    @classmethod
    def of(cls, stream: type[Stream]) -> StreamKeys:
        marker = getattr(stream, "deleted_when", None)
        kind = getattr(stream, "deletion_kind", "deleted")
        return cls(stream.primary_key, stream.cursor_field, marker, kind, stream.cursor_kind)

    def marks_deleted(self, record: dict[str, Any]) -> bool:
        """Whether the record carries the stream's deletion marker."""
        return self.deleted_when is not None and dig(record, self.deleted_when[0]) == self.deleted_when[1]


def collect_group(first: Page, ready: Callable[[float], Page | None]) -> list[Page]:
    """`first` and the pages that are ready after it, up to GROUP_RECORDS records.

    A group smaller than MIN_GROUP_RECORDS waits up to GROUP_WAIT_SECONDS for more pages: one commit per page
    would cost more than storing the page. `ready(wait)` gives the next page read, or None when none came.
    """
    group, count = [first], len(first.records)
    deadline = time.monotonic() + GROUP_WAIT_SECONDS
    while count < GROUP_RECORDS:
        wait = max(deadline - time.monotonic(), 0.0) if count < MIN_GROUP_RECORDS else 0.0
        page = ready(wait)
        if page is None:
            break
        group.append(page)
        count += len(page.records)
    return group


class Lander:
    """Stores groups of one stream read's pages, each in one transaction with the state after it.

    A record landing closes the open read-stage quarantine entries of its id (unless the same group rejects it
    again). A rejection is quarantined with the cursor a re-read finds it from (`window_start`: the stream's
    cursor before the group, unless the record holds its own). A replay lands with `save_state=False`: it
    re-reads records behind the stream's cursor and must not move it.
    """

    def __init__(
        self,
        store: Store,
        report: IngestReport,
        keys: StreamKeys,
        run_id: str | None,
        batch_id: int | None = None,
        state_version: int | None = None,
        *,
        window_start: str | None = None,
        save_state: bool = True,
    ) -> None:
        self.store = store
        self.report = report
        self.keys = keys
        self.run_id = run_id
        self.batch_id = batch_id
        self.state_version = state_version  # the stream state's version this read continues; None: not checked
        self.window_start = window_start
        self.save_state = save_state
        self.heals = store.has_open_quarantine(report.connection, report.stream, tables.READ_STAGES)
        self.erased = ErasedFilter.load(store.engine)
        self._tombstones: bool | None = None  # whether the stream has tombstones, looked up once

    def _sort(self, records: list[dict[str, Any]], deleted: list[Deletion]) -> tuple[list, list, dict[str, Any]]:
        """Records to store, deletions (reported or marked) with what came with them, erased people left out."""
        keys, report = self.keys, self.report
        if self.erased is not None:
            kept = [
                record
                for record in records
                if not self.erased.matches(report.connection, report.stream, key_at(record, keys.primary_key), record)
            ]
            report.erased_skipped += len(records) - len(kept)
            records = kept
        payloads: dict[str, Any] = {}
        if keys.deleted_when is not None:
            live = []
            for record in records:
                if keys.marks_deleted(record):
                    record_id = key_at(record, keys.primary_key)
                    deleted.append(Deletion(str(record_id), keys.deletion_kind))
                    payloads[str(record_id)] = record
                else:
                    live.append(record)
            records = live
        return records, deleted, payloads

    def land(self, pages: list[Page]) -> None:
        """Store pages' records and rejections with the stream state after the last page, in one transaction.

        The cycle collector is paused meanwhile: a group's records and rows (thousands of dictionaries without
        reference cycles) would otherwise be walked by it again and again, about a quarter of the CPU storing them
        took in a reading process (in a writer process, whose heap is small, it makes little difference).
        """
        with collector_paused():
            self._land(pages)

    def _land(self, pages: list[Page]) -> None:
        report, store = self.report, self.store
        connection, stream_name = report.connection, report.stream
        report.pages += len(pages)
        records = [record for page in pages for record in page.records]
        rejected = [rejection for page in pages for rejection in page.rejected]
        records, deleted, payloads = self._sort(records, [d for page in pages for d in getattr(page, "deleted", ())])
        now = utcnow()
        with store.begin() as conn:
            if deleted:
                report.deleted += bury(conn, connection, stream_name, deleted, payloads, now, self.run_id)
                self._tombstones = True
            if records:
                if self._tombstones is None:
                    self._tombstones = has_tombstones(conn, connection, stream_name)
                if self._tombstones:
                    unbury(conn, connection, stream_name, (key_at(r, self.keys.primary_key) for r in records))
            if self.batch_id is None and (records or rejected):
                self.batch_id = store.new_batch(conn, connection, stream_name, self.run_id)
            if records:
                rows = [self._raw_row(record, now) for record in records]
                counts = upsert(conn, tables.raw_records, rows, keep_on_update=("first_seen_at",))
                report.records_read += len(records)
                report.inserted += counts.inserted
                report.updated += counts.updated
                report.unchanged += counts.unchanged
                if len(report.preview) < PREVIEW_ROWS:
                    report.preview.extend(records[: PREVIEW_ROWS - len(report.preview)])
                if self.heals:
                    again = {r.record_id for r in rejected if r.record_id}
                    landed = {row["record_id"] for row in rows} - again
                    report.healed += store.resolve_landed(conn, connection, stream_name, landed)
            if rejected:
                store.quarantine(conn, (self._quarantined(r) for r in rejected))
                self.heals = True
                report.quarantined += len(rejected)
                report.quarantine_reasons.extend(r.error for r in rejected[:5])
            for page in pages:
                if page.superseded and page.read_since is not None and self.heals:
                    report.healed += store.resolve_superseded(
                        conn, connection, stream_name, page.superseded, page.read_since
                    )
            if self.save_state:
                self.state_version = store.save_state(
                    conn,
                    connection,
                    stream_name,
                    pages[-1].state.to_stored(),
                    self.run_id,
                    expected_version=self.state_version,
                )
        if pages[-1].state.cursor is not None:
            self.window_start = pages[-1].state.cursor

    def _quarantined(self, rejection: Rejected) -> QuarantinedRecord:
        r = rejection
        return QuarantinedRecord(
            self.report.connection,
            self.report.stream,
            "read",
            r.error,
            r.record_id,
            r.payload,
            r.field,
            window_cursor=self._own_cursor(r.payload) or self.window_start,
        )

    def _own_cursor(self, payload: Any) -> str | None:
        """The record's own cursor value as the stream compares it, when its payload holds a readable one."""
        if not self.keys.cursor_field or not isinstance(payload, dict):
            return None
        value = dig(payload, self.keys.cursor_field)
        if value is None or value == "":
            return None
        try:
            return format_cursor(value, self.keys.cursor_kind)[:100]
        except (TypeError, ValueError, OverflowError):
            return None

    def _raw_row(self, record: dict[str, Any], now) -> dict[str, Any]:
        text = dumps(record)
        keys = self.keys
        cursor = dig(record, keys.cursor_field) if keys.cursor_field else None
        return {
            "source": self.report.connection,
            "stream": self.report.stream,
            "record_id": key_at(record, keys.primary_key),
            "batch_id": self.batch_id,
            "cursor_value": None if cursor is None else str(cursor)[:100],
            "payload": JSONText(text),
            "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            "first_seen_at": now,
            "last_seen_at": now,
        }


def writer_allowed(store: Store) -> bool:
    """Whether a writer process may store this read: allowed by CANALIS_LANDING_WRITER, able to start children,
    and on a database another process can open (not an in-memory SQLite)."""
    setting = os.environ.get(WRITER_ENV, "1").strip()
    if setting not in ("0", "1"):
        raise ConfigError(
            f"{WRITER_ENV} must be 1 (a writer process for long streams) or 0, got '{setting}'", setting=WRITER_ENV
        )
    if setting == "0" or multiprocessing.current_process().daemon:
        return False
    url = store.engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class LandingWriterError(RuntimeError):
    """The writer process stopped without storing every page it was given."""


class WriterProcess:
    """A process storing the pages handed to it, in groups, as `Lander` does in the reading process."""

    def __init__(
        self,
        store: Store,
        report: IngestReport,
        keys: StreamKeys,
        run_id: str | None,
        batch_id: int | None,
        state_version: int | None = None,
        window_start: str | None = None,
    ):
        context = start_context()
        self._inbox = context.Queue(maxsize=WRITER_QUEUE_PAGES)
        self._outbox = context.Queue()
        url = store.engine.url.render_as_string(hide_password=False)
        setup = (
            url,
            report.connection,
            report.stream,
            keys,
            run_id,
            batch_id,
            state_version,
            os.getpid(),
            window_start,
        )
        self._process = context.Process(
            target=_serve, args=(setup, self._inbox, self._outbox), name=f"land-{report.connection}", daemon=True
        )
        self._process.start()
        self._outcome: tuple[str, Any] | None = None
        log.info("storing %s.%s in a writer process", report.connection, report.stream)

    @property
    def failed(self) -> bool:
        """Whether the writer reported an error (raised by `send` or `finish`)."""
        self._poll()
        return self._outcome is not None and self._outcome[0] == "error"

    def send(self, page: Page) -> None:
        """Hand over a page; raises the writer's error if it stopped."""
        while True:
            self._raise_if_failed()
            try:
                self._inbox.put(page, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def finish(self) -> tuple[IngestReport, int | None]:
        """Wait until every page handed over is stored; what the writer stored, and the batch it wrote in."""
        self.send_end()
        outcome = self._wait()
        self._process.join(timeout=30)
        if outcome[0] == "error":
            raise outcome[1]
        return outcome[1]

    def send_end(self) -> None:
        with contextlib.suppress(ValueError, OSError):  # a queue already closed: the writer is gone
            while self._outcome is None and self._process.is_alive():
                try:
                    self._inbox.put(None, timeout=_POLL_SECONDS)
                    return
                except queue.Full:
                    self._poll()

    def abandon(self) -> int | None:
        """Stop the writer at once (the reading process is stopping); the batch it may have opened."""
        self._process.terminate()
        self._process.join(timeout=10)
        self._poll()
        if self._outcome is not None and self._outcome[0] == "done":
            return self._outcome[1][1]
        return None

    def _raise_if_failed(self) -> None:
        self._poll()
        if self._outcome is not None and self._outcome[0] == "error":
            raise self._outcome[1]
        if self._outcome is None and not self._process.is_alive():
            self._poll()
            if self._outcome is None:
                raise LandingWriterError(
                    f"the landing writer stopped unexpectedly (exit code {self._process.exitcode})"
                )

    def _poll(self) -> None:
        if self._outcome is None:
            with contextlib.suppress(queue.Empty):
                self._outcome = self._outcome_of(self._outbox.get_nowait())

    def _wait(self) -> tuple[str, Any]:
        while self._outcome is None:
            try:
                self._outcome = self._outcome_of(self._outbox.get(timeout=_POLL_SECONDS))
            except queue.Empty:
                if not self._process.is_alive():
                    self._poll()
                    if self._outcome is None:
                        code = self._process.exitcode
                        raise LandingWriterError(
                            f"the landing writer stopped unexpectedly (exit code {code})"
                        ) from None
        return self._outcome

    @staticmethod
    def _outcome_of(message: tuple[str, Any]) -> tuple[str, Any]:
        kind, value = message
        if kind == "error" and isinstance(value, bytes):
            return kind, pickle.loads(value)  # noqa: S301 - sent by our own writer process
        return kind, value


def _serve(setup: tuple, inbox: Any, outbox: Any) -> None:
    """The writer process: store pages from `inbox` in groups until the end mark, then report."""
    url, connection, stream_name, keys, run_id, batch_id, state_version, reader_pid, window_start = setup
    exit_with_parent()
    lower_priority()
    store = Store(url)
    report = IngestReport(connection=connection, stream=stream_name)
    lander = Lander(store, report, keys, run_id, batch_id, state_version, window_start=window_start)
    ended = False

    def ready(wait: float) -> Page | None:
        nonlocal ended
        if ended:
            return None
        try:
            page = inbox.get(timeout=wait) if wait > 0 else inbox.get_nowait()
        except queue.Empty:
            return None
        if page is None:
            ended = True
        return page

    try:
        while not ended:
            try:
                first = inbox.get(timeout=_ORPHAN_CHECK_SECONDS)
            except queue.Empty:
                if not _alive(reader_pid):  # the reading process died without a word: nothing more will come
                    raise LandingWriterError("the reading process stopped") from None
                continue
            if first is None:
                break
            lander.land(collect_group(first, ready))
        outbox.put(("done", (report, lander.batch_id)))
    except BaseException as error:  # handed to the reading process, which raises it
        outbox.put(("error", _picklable(error)))
    finally:
        store.engine.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _picklable(error: BaseException) -> bytes:
    """The error as pickled bytes; one that does not pickle becomes a LandingWriterError with its text."""
    try:
        text = pickle.dumps(error)
        pickle.loads(text)  # noqa: S301 - checking our own bytes round-trip
        return text
    except Exception:
        return pickle.dumps(LandingWriterError(f"{type(error).__name__}: {error}"))
