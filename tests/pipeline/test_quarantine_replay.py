"""Quarantine that heals: records rejected while reading are retried on later runs (by id, else by re-reading
their cursor window) until they land or a person dismisses them, without moving the stream's cursor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from canalis.config.replay import ReplaySettings
from canalis.ingest.replay import replay_stream
from canalis.ingest.stream import ingest_stream
from canalis.sdk.base import Connector
from canalis.sdk.settings import ConnectorSettings
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page, Rejected, Stream
from canalis.store import QuarantinedRecord, Store, tables

PAGE = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite, and on the local PostgreSQL server when it is there."""
    url = (
        f"sqlite:///{tmp_path / 'canalis.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    with Store(url) as store:
        store.migrate()
        yield store


class ItemModel(BaseModel):
    id: str
    updated: str
    price: float


class Items(Stream):
    name: ClassVar[str] = "items"
    primary_key: ClassVar[str] = "id"
    cursor_field: ClassVar[str | None] = "updated"
    record_model: ClassVar[type[BaseModel] | None] = ItemModel


class VendorSettings(ConnectorSettings):
    pass


class Vendor(Connector):
    """A vendor with records ordered by modification time; `broken` ids come back with a price that is no number."""

    name: ClassVar[str] = "vendor"
    kind: ClassVar[Any] = "erp"
    settings_model: ClassVar[type[ConnectorSettings]] = VendorSettings
    streams: ClassVar[tuple[type[Stream], ...]] = (Items,)

    def __init__(self, count: int, broken: set[str], *, by_id: bool) -> None:
        super().__init__(VendorSettings(), connection="shop")
        self.records = [{"id": f"r{n:02d}", "updated": f"2026-01-01T00:{n:02d}:00+00:00"} for n in range(count)]
        self.broken = set(broken)
        self.by_id = by_id
        self.read_from: list[str | None] = []
        self.fetched: list[list[str]] = []

    def _shaped(self, record: dict[str, Any]) -> dict[str, Any]:
        price: Any = "n/a" if record["id"] in self.broken else 9.5
        return {**record, "price": price}

    def read_items(self, state: StreamState) -> Iterator[Page]:
        self.read_from.append(state.cursor)
        newer = [r for r in self.records if state.cursor is None or r["updated"] > state.cursor]
        for start in range(0, len(newer), PAGE):
            chunk = newer[start : start + PAGE]
            state = state.advanced(chunk[-1]["updated"])
            yield Page([self._shaped(r) for r in chunk], state)

    def fetches_by_id(self, stream: str) -> bool:
        return self.by_id

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        self.fetched.append(list(ids))
        wanted = set(ids)
        return iter([self._shaped(r) for r in self.records if r["id"] in wanted])


def _entries(store: Store) -> dict[str, dict[str, Any]]:
    q = tables.quarantine
    with store.engine.connect() as conn:
        return {row.record_id: dict(row._mapping) for row in conn.execute(sa.select(q))}


def _landed(store: Store) -> set[str]:
    raw = tables.raw_records
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(raw.c.record_id)).scalars())


def test_a_rejected_record_behind_the_cursor_heals_by_id_once_the_vendor_serves_it_whole(store: Store) -> None:
    vendor = Vendor(12, {"r05"}, by_id=True)
    first = ingest_stream(store, vendor, "items")
    assert first.quarantined == 1 and "r05" not in _landed(store)
    cursor = store.get_state("shop", "items")["cursor"]
    assert cursor == "2026-01-01T00:11:00+00:00", "the cursor went past the rejected record"

    vendor.broken.clear()  # the fault is gone; the record itself did not change, so no incremental read sees it
    assert ingest_stream(store, vendor, "items").records_read == 0
    report = replay_stream(store, vendor, "items")

    assert vendor.fetched == [["r05"]]
    assert report.method == "by id" and report.retried == 1
    assert report.healed_keys == ["shop:items:read:r05"]
    assert "r05" in _landed(store)
    assert _entries(store)["r05"]["resolved_at"] is not None
    assert store.open_quarantine_count() == 0
    assert store.get_state("shop", "items")["cursor"] == cursor, "a replay leaves the stream's cursor alone"
    assert report.metadata()["replay_healed"] == 1


def test_without_a_fetch_by_id_the_window_around_the_record_is_read_again(store: Store) -> None:
    vendor = Vendor(20, {"r09"}, by_id=False)
    ingest_stream(store, vendor, "items")
    entry = _entries(store)["r09"]
    assert entry["window_cursor"] == "2026-01-01T00:09:00+00:00", "the record's own cursor"
    cursor = store.get_state("shop", "items")["cursor"]

    vendor.broken.clear()
    report = replay_stream(store, vendor, "items")

    assert report.method == "window"
    assert vendor.read_from[-1] == "2026-01-01T00:08:59+00:00", "from just before the record"
    assert report.healed == 1 and "r09" in _landed(store)
    assert store.get_state("shop", "items")["cursor"] == cursor


def test_a_record_still_broken_stays_open_with_its_count_raised(store: Store) -> None:
    vendor = Vendor(8, {"r02"}, by_id=True)
    ingest_stream(store, vendor, "items")
    report = replay_stream(store, vendor, "items")

    assert report.healed == 0 and report.rejected_again == 1 and report.still_open == 1
    entry = _entries(store)["r02"]
    assert entry["resolved_at"] is None and entry["occurrences"] == 2


def test_each_run_retries_a_bounded_number_of_records(store: Store) -> None:
    vendor = Vendor(12, {"r01", "r04", "r07"}, by_id=True)
    ingest_stream(store, vendor, "items")
    vendor.broken.clear()

    report = replay_stream(store, vendor, "items", settings=ReplaySettings(records_per_run=2))
    assert report.retried == 2 and report.healed == 2 and report.still_open == 1
    assert replay_stream(store, vendor, "items", settings=ReplaySettings(records_per_run=0)).retried == 0
    assert replay_stream(store, vendor, "items").healed == 1
    assert store.open_quarantine_count() == 0


def test_a_read_that_lands_the_record_closes_its_entry(store: Store) -> None:
    vendor = Vendor(8, {"r03"}, by_id=False)
    ingest_stream(store, vendor, "items")
    vendor.broken.clear()
    vendor.records[3]["updated"] = "2026-01-01T01:00:00+00:00"  # changed at the vendor: the next read sees it

    report = ingest_stream(store, vendor, "items")
    assert report.healed == 1
    assert store.open_quarantine_count() == 0


def test_an_entry_of_a_record_that_landed_since_is_closed_as_stale(store: Store) -> None:
    ingest_stream(store, Vendor(4, set(), by_id=False), "items")
    q = tables.quarantine
    with store.begin() as conn:
        store.quarantine(conn, [QuarantinedRecord("shop", "items", "read", "price: not a number", record_id="r01")])
        stamp = conn.execute(sa.select(q.c.last_seen_at)).scalar_one()
        conn.execute(sa.update(q).values(last_seen_at=stamp.replace(year=2020), first_seen_at=stamp.replace(year=2020)))
    assert store.close_landed_entries("shop", "items") == 1
    assert store.open_quarantine_count() == 0


def test_a_record_rejected_again_in_the_group_that_lands_it_stays_open(store: Store) -> None:
    """A record landing whole closes its entries, but not when the same page rejects part of it again (a child)."""

    class WithChildren(Vendor):
        def read_items(self, state: StreamState) -> Iterator[Page]:
            for page in super().read_items(state):
                page.rejected.append(Rejected(payload={"sku": None}, error="lines.0.sku: missing", record_id="r01"))
                yield page

    vendor = WithChildren(4, set(), by_id=False)
    ingest_stream(store, vendor, "items")
    assert _entries(store)["r01"]["resolved_at"] is None
    assert "r01" in _landed(store)


def test_dismissed_entries_are_neither_retried_nor_counted_nor_reopened(store: Store) -> None:
    vendor = Vendor(8, {"r02", "r05"}, by_id=True)
    ingest_stream(store, vendor, "items")
    assert store.open_quarantine_count("shop") == 2

    assert store.dismiss_quarantine(["shop:items:read:r02", "shop:items:read:nope"]) == ["shop:items:read:r02"]
    assert store.open_quarantine_count("shop") == 1
    report = replay_stream(store, vendor, "items")
    assert vendor.fetched == [["r05"]] and report.retried == 1

    ingest_stream(store, vendor, "items", full_refresh=True)  # rejected again: still dismissed
    entry = _entries(store)["r02"]
    assert entry["dismissed_at"] is not None and entry["resolved_at"] is None
    assert store.open_quarantine_count("shop") == 1
    assert store.dismiss_quarantine(source="shop") == ["shop:items:read:r05"]
    assert store.open_quarantine_count() == 0


def test_every_sync_heals_after_its_read_and_a_failing_replay_only_warns(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from canalis.ingest.replay import heal_after_read

    vendor = Vendor(8, {"r04"}, by_id=True)
    ingest_stream(store, vendor, "items")
    vendor.broken.clear()
    healed = heal_after_read(store, vendor, "items")
    assert healed is not None and healed.healed == 1

    vendor.broken.add("r06")
    vendor.records[6]["updated"] = "2026-01-01T02:00:00+00:00"
    ingest_stream(store, vendor, "items")

    def refuse(stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        raise RuntimeError("vendor: POST /items/batch-read answered 503 for a@example.org")

    vendor.read_records_by_id = refuse  # type: ignore[method-assign]
    assert heal_after_read(store, vendor, "items") is None
    assert "quarantine replay failed" in caplog.text and "a@example.org" not in caplog.text
    assert store.open_quarantine_count() == 1


def test_a_window_read_to_its_end_settles_entries_whose_id_the_source_no_longer_has(store: Store) -> None:
    vendor = Vendor(10, {"r03", "r06"}, by_id=False)
    ingest_stream(store, vendor, "items")
    # r03's id was built from a field the fault garbled: the source holds no record of that id; r06 is still bad
    vendor.records = [record for record in vendor.records if record["id"] != "r03"]
    report = replay_stream(store, vendor, "items")

    assert report.method == "window" and report.healed_keys == ["shop:items:read:r03"]
    entries = _entries(store)
    assert entries["r06"]["resolved_at"] is None and entries["r06"]["occurrences"] == 2


def test_a_window_cut_short_by_its_page_limit_settles_nothing_it_did_not_see_land(store: Store) -> None:
    vendor = Vendor(40, {"r01"}, by_id=False)
    ingest_stream(store, vendor, "items")
    vendor.records = [record for record in vendor.records if record["id"] != "r01"]
    report = replay_stream(store, vendor, "items", settings=ReplaySettings(window_pages=2))
    assert report.healed == 0 and report.still_open == 1
