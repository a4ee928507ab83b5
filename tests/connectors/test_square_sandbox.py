"""The Square connector end to end against the sandbox: full and incremental reads, mapping, writes, faults."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.registry import shipped_mapping
from canalis.connectors.square import SquareConnector
from canalis.connectors.square.settings import SquareSettings
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sandbox.emulators.square import ACCESS_TOKEN, SquareEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.state import StreamState

CONNECTION = "square_stores"
READ_STREAMS = ("customers", "orders", "catalog", "inventory_counts", "discounts", "locations")


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("square-world")
    generate_world(WorldSpec(seed=5, customers=150), folder)
    return store_path(folder)


@pytest.fixture
def data_dir(world_template: Path, tmp_path: Path) -> Path:
    """A private copy of the world, where the sandbox server looks for it."""
    shutil.copy(world_template, store_path(tmp_path))
    return tmp_path


def serve(data_dir: Path, faults: str | None = None) -> SandboxServer:
    return SandboxServer(data_dir, faults=faults, seed=3, emulators=[SquareEmulator])


class VirtualTime:
    """A clock that waits by moving forward, so retries and rate limits never sleep for real."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def connector_for(server: SandboxServer, time: VirtualTime | None = None, **settings: Any) -> SquareConnector:
    values = {"access_token": ACCESS_TOKEN, "base_url": server.url("square"), **settings}
    time = time or VirtualTime()
    return SquareConnector(SquareSettings(**values), connection=CONNECTION, sleep=time.sleep)


def read_all(connector: SquareConnector, stream: str, state: StreamState | None = None) -> tuple[list, list, Any]:
    records, rejected = [], []
    final = state
    for page in connector.read(stream, state):
        records.extend(page.records)
        rejected.extend(page.rejected)
        final = page.state
    return records, rejected, final


def expected_counts(store: ObjectStore) -> dict[str, int]:
    catalog = [obj.payload for obj in store.iter_all("square", "catalog")]
    return {
        "customers": store.count("square", "customers"),
        "orders": store.count("square", "orders"),
        "catalog": sum(1 for obj in catalog if obj["type"] == "ITEM"),
        "inventory_counts": store.count("square", "inventory_counts"),
        "discounts": sum(1 for obj in catalog if obj["type"] == "DISCOUNT"),
        "locations": store.count("square", "locations"),
    }


@pytest.fixture
def server(data_dir: Path) -> Iterator[SandboxServer]:
    with serve(data_dir) as running:
        yield running


def test_every_stream_reads_whole_maps_cleanly_and_rereads_nothing_new(server: SandboxServer) -> None:
    assert server.store is not None
    expected = expected_counts(server.store)
    connector = connector_for(server)
    assert connector.check().ok
    mapper = Mapper(load_mapping(shipped_mapping("square")), connection=CONNECTION, channel="square")
    states: dict[str, StreamState] = {}
    first_read: dict[str, dict[str, Any]] = {}
    for stream in READ_STREAMS:
        records, rejected, state = read_all(connector, stream)
        key = connector.stream(stream).primary_key
        ids = [record[key] for record in records]
        assert not rejected, rejected[:2]
        assert len(ids) == len(set(ids)) == expected[stream], stream
        states[stream], first_read[stream] = state, {record[key]: record for record in records}
        entities: dict[str, int] = {}
        for record in records:
            for mapped in mapper.map_record(stream, record):
                entities[mapped.entity] = entities.get(mapped.entity, 0) + 1
        if stream == "orders":
            lines = sum(len(record["line_items"]) for record in records)
            assert entities == {"order": len(records), "order_line": lines, "interaction": len(records)}
            assert all(line["_sku"] for record in records for line in record["line_items"])
        if stream == "customers":
            assert entities == {"customer_record": len(records), "consent": len(records)}
        if stream == "catalog":
            variations = sum(len(record["item_data"]["variations"]) for record in records)
            assert entities == {"product": variations, "price": variations}
        if stream in ("inventory_counts", "discounts"):
            assert sum(entities.values()) == len(records)
    assert states["locations"].cursor is None
    for stream in ("customers", "orders", "catalog", "inventory_counts", "discounts"):
        assert states[stream].cursor is not None, stream
        again, rejected, state = read_all(connector, stream, states[stream])
        key = connector.stream(stream).primary_key
        window_start = states[stream].since(timedelta(minutes=10))
        assert not rejected and state.cursor == states[stream].cursor
        for record in again:  # only look-back duplicates: records already read, unchanged
            assert record == first_read[stream][record[key]], stream
            stamp = StreamState(cursor=record.get("updated_at") or record.get("calculated_at")).cursor_datetime()
            assert stamp is not None and window_start is not None and stamp >= window_start


def test_writes_land_and_incremental_reads_see_them(server: SandboxServer) -> None:
    connector = connector_for(server, lookback_minutes=0)
    states = {stream: read_all(connector, stream)[2] for stream in ("catalog", "inventory_counts", "discounts")}
    items = [obj.payload for obj in server.store.iter_all("square", "catalog") if obj.payload["type"] == "ITEM"]
    variations = [item["item_data"]["variations"][0] for item in items[:3]]
    skus = [v["item_variation_data"]["sku"] for v in variations]
    prices = [
        {"key": f"price-{n}", "sku": sku, "amount": Decimal("19.90") + n, "currency": "EUR"}
        for n, sku in enumerate(skus)
    ]
    results = list(connector.write("prices", prices))
    assert [(r.record_key, r.status) for r in results] == [(p["key"], "applied") for p in prices]
    assert [r.status for r in connector.write("prices", prices)] == ["unchanged"] * 3

    location = server.store.page("square", "locations", limit=1)[0].payload["id"]
    stock = [{"key": f"stock-{n}", "sku": sku, "location": location, "available": 40 + n} for n, sku in enumerate(skus)]
    assert [r.status for r in connector.write("stock_levels", stock)] == ["applied"] * 3
    promotion = {
        "key": "promo-1",
        "code": "CANALIS15",
        "name": "Canalis test",
        "discount_type": "percentage",
        "discount_value": Decimal("15"),
        "currency": "EUR",
        "starts_at": "2026-03-01T00:00:00Z",
        "ends_at": "2026-03-31T00:00:00Z",
        "status": "scheduled",
    }
    (applied,) = connector.write("promotions", [promotion])
    assert applied.status == "applied" and applied.vendor_id

    mapper = Mapper(load_mapping(shipped_mapping("square")), connection=CONNECTION, channel="square")
    changed_items, _, _ = read_all(connector, "catalog", states["catalog"])
    assert {item["id"] for item in changed_items} == {item["id"] for item in items[:3]}
    mapped_prices = {
        m.record.sku: m.record.amount
        for item in changed_items
        for m in mapper.map_record("catalog", item, entity="price")
    }
    assert {sku: mapped_prices[sku] for sku in skus} == {p["sku"]: p["amount"] for p in prices}
    counts, _, _ = read_all(connector, "inventory_counts", states["inventory_counts"])
    assert sorted((c["_sku"], c["location_id"], c["quantity"]) for c in counts) == sorted(
        (s["sku"], location, str(s["available"])) for s in stock
    )
    discounts, _, _ = read_all(connector, "discounts", states["discounts"])
    (mapped,) = [m.record for d in discounts for m in mapper.map_record("discounts", d)]
    assert (mapped.code, mapped.discount_type, mapped.discount_value) == ("CANALIS15", "percentage", Decimal("15"))
    assert mapped.starts_at is not None and mapped.starts_at.date().isoformat() == "2026-03-01"


def test_a_run_with_faults_still_reads_every_record_exactly_once(data_dir: Path) -> None:
    time = VirtualTime()
    with serve(data_dir, faults="square:429=0.15,500=0.08,503=0.05,drop=0.05") as faulty:
        expected = expected_counts(faulty.store)
        # a dropped POST leaves the sandbox's kept-alive socket unusable: a short read timeout ends that wait
        connector = connector_for(faulty, time, page_size=20, timeout_seconds=0.5)
        for stream in READ_STREAMS:
            records, rejected, _ = read_all(connector, stream)
            key = connector.stream(stream).primary_key
            ids = [record[key] for record in records]
            assert not rejected and len(ids) == len(set(ids)) == expected[stream], stream
        retries = connector.client.http.stats.retries
        assert retries > 0 and len(time.sleeps) >= retries


def test_malformed_records_are_quarantined_and_the_read_goes_on(data_dir: Path) -> None:
    with serve(data_dir, faults="square:malformed=0.2") as corrupting:
        expected = corrupting.store.count("square", "customers")
        records, rejected, state = read_all(connector_for(corrupting, page_size=25), "customers")
    assert rejected and records and len(records) + len(rejected) == expected
    assert all("updated_at" in item.error for item in rejected)
    assert state.cursor is not None


def test_customers_and_catalog_items_are_fetched_by_id_as_a_read_returns_them(data_dir: Path) -> None:
    with serve(data_dir) as server:
        connector = connector_for(server)
        for stream in ("customers", "catalog"):
            read = {record["id"]: record for record in read_all(connector, stream)[0]}
            wanted = sorted(read)[:3]
            assert connector.fetches_by_id(stream)
            found = list(connector.read_records_by_id(stream, [*wanted, "NO-SUCH-ID"]))
            assert sorted(record["id"] for record in found) == wanted, stream
            assert all(record == read[record["id"]] for record in found), stream
        assert not connector.fetches_by_id("orders")
