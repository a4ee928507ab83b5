"""First loads of event streams as monthly partitions: a backfill behind the hourly sync.

A stream with a time cursor (orders, interactions, email events: whatever a connector reads from a `datetime`
cursor) holds years of records on a first load. Read whole, that is one step holding the connection's read lock
and a worker for hours. Here it is read as one window per month: the job `backfill__<connection>` is partitioned
by month (`MonthlyPartitionsDefinition`), has one step per time-cursored stream of the connection, and each step
reads its stream from the window's start (just before it) and lands the records whose cursor falls inside the
window. The stream's stored cursor is never moved (the hourly sync's own), and the store upserts by primary key,
so windows that overlap, a window read twice and a window the hourly sync also read land each record once.

Backfill policy:
- the runs carry `dagster/priority` -5 (the hourly sync 10, unmarked runs 0) and `canalis/run_kind` `backfill`
  (one backfill run at a time, deploy/dagster.yaml), so the queue always launches the hourly sync first;
- each step takes its vendor's read pool (`canalis_api_<vendor>`, or the connection's own), and pool slots go to
  the highest priority first, so a backfill's reads never take a slot the hourly sync is waiting for and never
  exceed the vendor's budget;
- a window is a bounded amount of work: the hourly sync of the same connection waits at most one window's read
  for the connection's read lock;
- `seed_cursors` sets a stream that was never read to start at the newest window, so the hourly sync reads only
  the current month on while the backfill reads the months before it (launch them from the UI's partitions view,
  or `dagster job backfill -j backfill__<connection> --from 2021-01-01 --to 2025-12-01`).
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import (
    JobDefinition,
    MonthlyPartitionsDefinition,
    OpDefinition,
    OpExecutionContext,
    Output,
    job,
    op,
)

from canalis.config.connections import CanalisConfig, ConnectionConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.deploy.pools import read_pool
from canalis.ingest.landing import IngestReport, Lander, StreamKeys
from canalis.sdk.base import Connector, dig
from canalis.sdk.progress import cursor_text
from canalis.sdk.state import StreamState, compare_cursors, format_cursor
from canalis.sdk.streams import Page, Stream
from canalis.store import Store

BACKFILL_PRIORITY = -5
BACKFILL_START = "2015-01-01"
"""The earliest month a backfill can address; choose the range to read when launching it."""
BACKFILL_TAGS = {"dagster/priority": str(BACKFILL_PRIORITY), "canalis/run_kind": "backfill"}
MONTHS = MonthlyPartitionsDefinition(start_date=BACKFILL_START, end_offset=1)  # the current month too


def event_streams(connector: type[Connector], wanted: list[str] | None) -> list[type[Stream]]:
    """The streams of a connector read from a time cursor (those a backfill splits by month)."""
    return [
        stream
        for stream in connector.streams
        if stream.readable
        and stream.cursor_field is not None
        and stream.cursor_kind == "datetime"
        and (wanted is None or stream.name in wanted)
    ]


@dataclass(frozen=True)
class Window:
    """A time window of a stream: records with start <= cursor < end."""

    start: datetime
    end: datetime

    @classmethod
    def of_month(cls, partition_key: str) -> "Window":
        """The window of a monthly partition key (`2024-03-01`)."""
        first = date.fromisoformat(partition_key)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return cls(
            datetime(first.year, first.month, 1, tzinfo=UTC), datetime(following.year, following.month, 1, tzinfo=UTC)
        )

    def holds(self, cursor: str) -> bool:
        start, end = format_cursor(self.start, "datetime"), format_cursor(self.end, "datetime")
        return compare_cursors(cursor, start, "datetime") >= 0 and compare_cursors(cursor, end, "datetime") < 0


def _in_window(page: Page, stream: type[Stream], window: Window) -> tuple[Page, bool]:
    """The page with only the window's records (records without a cursor kept), and whether it went past the end."""
    kept: list[Any] = []
    past = bool(page.records)
    for record in page.records:
        text = cursor_text(dig(record, stream.cursor_field), "datetime") if isinstance(record, dict) else None
        if text is None or window.holds(text):
            kept.append(record)
        if text is None or compare_cursors(text, format_cursor(window.end, "datetime"), "datetime") < 0:
            past = False  # a record before the end: the stream may hold more of the window
    return Page(records=kept, state=page.state, rejected=page.rejected, deleted=[]), past


def read_window(
    store: Store, connector: Connector, stream_name: str, window: Window, run_id: str | None
) -> IngestReport:
    """Land the records of one stream whose cursor falls in the window; the stream's stored cursor is left alone.

    The read starts just before the window and stops at the first page whose records all lie past its end (the
    stream is read in cursor order, as every incremental read is).
    """
    stream = connector.stream(stream_name)
    report = IngestReport(connection=connector.connection, stream=stream_name)
    keys = StreamKeys(stream.primary_key, stream.cursor_field, stream.cursor_kind)
    start = format_cursor(window.start - timedelta(seconds=1), "datetime")
    with store.lock(f"read:{connector.connection}"):
        lander = Lander(store, report, keys, run_id, window_start=start, save_state=False)
        for page in connector.read(stream_name, StreamState(cursor=start, cursor_kind="datetime")):
            kept, past = _in_window(page, stream, window)
            if kept.records or kept.rejected:
                lander.land([kept])
            if past:
                break
    return report


def seed_cursors(store: Store, connection: str, streams: list[str], at: datetime) -> list[str]:
    """Start each stream never read before at `at` (the newest window's start); the streams seeded."""
    seeded = []
    for stream in streams:
        stored, _ = store.read_state(connection, stream)
        if stored:
            continue
        with store.begin() as conn:
            state = StreamState(cursor=format_cursor(at, "datetime"), cursor_kind="datetime")
            store.save_state(conn, connection, stream, state.to_stored(), None, expected_version=0)
        seeded.append(stream)
    return seeded


def backfill_job(
    name: str, connection: ConnectionConfig, registered: RegisteredConnector, store_key: str, connection_key: str
) -> JobDefinition | None:
    """The monthly-partitioned backfill job of a connection's time-cursored streams; None when it has none."""
    streams = event_streams(registered.connector, connection.streams)
    if not streams:
        return None
    pool = read_pool(name, connection.connector)
    ops = [_window_op(name, stream.name, pool, store_key, connection_key) for stream in streams]

    @job(
        name=f"backfill__{name}",
        partitions_def=MONTHS,
        tags=BACKFILL_TAGS,
        description=f"First load of {name}'s event streams one month at a time (partition = month), at priority "
        f"{BACKFILL_PRIORITY}, behind the hourly sync; the streams' cursors are left to the hourly sync.",
    )
    def _backfill() -> None:
        for window_op in ops:
            window_op()

    return _backfill


def _window_op(name: str, stream: str, pool: str, store_key: str, connection_key: str) -> OpDefinition:
    @op(
        name=f"window__{name}__{stream}",
        pool=pool,
        required_resource_keys={store_key, connection_key},
        description=f"Reads {name}.{stream} for the partition's month into the landing table.",
    )
    def _window(context: OpExecutionContext) -> Iterator[Output[int]]:
        window = Window.of_month(context.partition_key)
        store: Store = getattr(context.resources, store_key).get_store()
        with getattr(context.resources, connection_key).build() as connector:
            report = read_window(store, connector, stream, window, context.run.run_id)
        context.log.info(
            f"{name}.{stream} {window.start:%Y-%m}: {report.records_read} read, {report.inserted} new, "
            f"{report.updated} changed, {report.quarantined} quarantined"
        )
        yield Output(report.inserted + report.updated)

    return _window


def backfill_jobs(
    config: CanalisConfig, registry: Mapping[str, RegisteredConnector], resource_key: Any, store_key: str = "store"
) -> list[JobDefinition]:
    """One backfill job per enabled connection with time-cursored streams."""
    jobs = []
    for name, connection in sorted(config.enabled_connections().items()):
        registered = registry.get(connection.connector)
        if registered is None:
            continue
        built = backfill_job(name, connection, registered, store_key, resource_key(name))
        if built is not None:
            jobs.append(built)
    return jobs


__all__ = ["BACKFILL_TAGS", "MONTHS", "Window", "backfill_jobs", "read_window", "seed_cursors"]
