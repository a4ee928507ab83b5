"""Backfill of event streams by month: each window lands its own records once, behind the hourly sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import sqlalchemy as sa

from canalis.assets.build import build_definitions
from canalis.config.connections import parse_config
from canalis.deploy.backfill import BACKFILL_TAGS, MONTHS, Window, read_window, seed_cursors
from canalis.sdk import CheckResult, Connector, ConnectorSettings, Page, Stream
from canalis.sdk.state import StreamState, compare_cursors, format_cursor
from canalis.store import Store, tables

START = datetime(2024, 1, 1, tzinfo=UTC)


class _Event(Stream):
    name = "events"
    primary_key = "id"
    cursor_field = "at"
    cursor_kind = "datetime"


class _Events(Connector):
    """Events every 20 hours from January to April 2024, served in cursor order after the state's cursor."""

    name = "events_source"
    kind = "crm"
    settings_model = ConnectorSettings
    streams = (_Event,)
    page_size: ClassVar[int] = 7
    calls: ClassVar[list[str | None]] = []

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message="ok")

    def read_events(self, state: StreamState) -> Iterator[Page]:
        self.calls.append(state.cursor)
        events = [
            {"id": f"E{n}", "at": format_cursor(START + timedelta(hours=20 * n), "datetime")}
            for n in range(int(24 * 120 / 20))
        ]
        after = [e for e in events if state.cursor is None or compare_cursors(e["at"], state.cursor, "datetime") > 0]
        for offset in range(0, len(after), self.page_size):
            page = after[offset : offset + self.page_size]
            yield Page(records=page, state=StreamState(cursor=page[-1]["at"], cursor_kind="datetime"))


def _landed(store: Store) -> dict[str, str]:
    raw = tables.raw_records
    with store.engine.connect() as conn:
        return {row.record_id: row.payload["at"] for row in conn.execute(sa.select(raw.c.record_id, raw.c.payload))}


def test_a_month_lands_its_own_events_and_leaves_the_cursor_alone(store: Store) -> None:
    connector = _Events(ConnectorSettings(), connection="crm")
    february = Window.of_month("2024-02-01")
    assert (february.start, february.end) == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))

    report = read_window(store, connector, "events", february, run_id="r1")
    landed = _landed(store)
    expected = {f"E{n}" for n in range(144) if february.start <= START + timedelta(hours=20 * n) < february.end}
    assert set(landed) == expected and report.inserted == len(expected)
    assert store.read_state("crm", "events") == (None, 0)  # the hourly sync's cursor is not moved
    assert len(_Events.calls) and _Events.calls[-1] < format_cursor(february.start, "datetime")

    again = read_window(store, connector, "events", february, run_id="r2")  # a window read twice lands once
    assert again.inserted == 0 and set(_landed(store)) == expected
    read_window(store, connector, "events", Window.of_month("2024-01-01"), run_id="r3")
    read_window(store, connector, "events", Window.of_month("2024-03-01"), run_id="r4")
    months = {datetime.fromisoformat(at).strftime("%Y-%m") for at in _landed(store).values()}
    assert months == {"2024-01", "2024-02", "2024-03"}


def test_a_stream_never_read_starts_the_hourly_sync_at_the_newest_window(store: Store) -> None:
    newest = Window.of_month("2024-04-01").start
    assert seed_cursors(store, "crm", ["events"], newest) == ["events"]
    stored, _ = store.read_state("crm", "events")
    assert StreamState.from_stored(stored).cursor_datetime() == newest
    assert seed_cursors(store, "crm", ["events"], START) == []  # a stored cursor is the hourly sync's: kept


def test_backfill_jobs_are_monthly_behind_the_hourly_sync_and_take_the_vendor_pool(monkeypatch) -> None:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", "token")
    config = parse_config(
        {
            "connections": {
                "crm": {"connector": "hubspot", "channel": "crm", "settings": {"base_url": "http://127.0.0.1:1"}},
                "shop": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}},
            }
        }
    )
    defs = build_definitions(config)
    backfill = defs.resolve_job_def("backfill__crm")
    hourly = defs.resolve_job_def("incremental_sync")
    assert backfill.partitions_def == MONTHS and backfill.tags == BACKFILL_TAGS
    assert int(backfill.tags["dagster/priority"]) < int(hourly.tags.get("dagster/priority", "0"))
    assert {node.definition.pool for node in backfill.nodes} == {"canalis_api_hubspot"}
    assert "window__crm__email_events" in {node.name for node in backfill.nodes}
    names = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert "backfill__shop" not in names  # file drops have no time-cursored stream
