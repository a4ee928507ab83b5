"""The Shopify connector end to end against the sandbox emulator on a small generated world."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.registry import shipped_mapping
from canalis.connectors.shopify import ShopifyConnector
from canalis.connectors.shopify.settings import ShopifySettings
from canalis.mappings.declarative import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.emulators.shopify import ACCESS_TOKEN
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page

READ_STREAMS = ("customers", "orders", "variants", "locations", "inventory_levels", "discounts")
OBJECT_TYPES = {
    "customers": "customers",
    "orders": "orders",
    "variants": "productVariants",
    "locations": "locations",
    "inventory_levels": "inventoryLevels",
    "discounts": "discountCodes",
}
BIG_BUCKET = {"maximumAvailable": 1_000_000, "restoreRate": 1_000_000}


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("shopify-e2e-world")
    generate_world(WorldSpec(seed=23, customers=120), data_dir)
    return store_path(data_dir)


def _sandbox(world_file: Path, tmp_path: Path, faults: str | None = None) -> SandboxServer:
    """A sandbox over a private copy of the world (under both store file names the sandbox has used)."""
    data_dir = tmp_path / "sandbox"
    data_dir.mkdir()
    for name in ("sandbox.db", store_path(data_dir).name):
        shutil.copy(world_file, data_dir / name)
    return SandboxServer(data_dir, faults=faults, seed=5)


@pytest.fixture
def sandbox(world_file: Path, tmp_path: Path) -> Iterator[SandboxServer]:
    with _sandbox(world_file, tmp_path) as server:
        assert server.store is not None
        server.store.kv_put("shopify:throttle", BIG_BUCKET)
        yield server


def _connector(server: SandboxServer, sleeps: list[float] | None = None, **values: Any) -> ShopifyConnector:
    settings = ShopifySettings.model_validate(
        {"shop": server.url("shopify"), "access_token": ACCESS_TOKEN, "bulk_threshold": 0, **values}
    )
    return ShopifyConnector(settings, connection="web", sleep=(sleeps if sleeps is not None else []).append)


def _store(server: SandboxServer) -> ObjectStore:
    assert server.store is not None
    return server.store


def _read(connector: ShopifyConnector, stream: str, state: StreamState | None = None) -> tuple[list[Page], StreamState]:
    pages = list(connector.read(stream, state))
    final = pages[-1].state if pages else (state or StreamState.empty())
    return pages, final


def _records(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def test_reads_every_stream_maps_it_and_rereads_nothing(sandbox: SandboxServer) -> None:
    store = _store(sandbox)
    connector = _connector(sandbox, lookback_minutes=0)
    mapper = Mapper(load_mapping(shipped_mapping("shopify")), connection="web", channel="web")
    states: dict[str, StreamState] = {}
    read: dict[str, list[dict[str, Any]]] = {}
    entities: Counter[str] = Counter()
    for stream in READ_STREAMS:
        pages, states[stream] = _read(connector, stream)
        assert all(not page.rejected for page in pages), stream
        read[stream] = _records(pages)
        ids = [record["id"] for record in read[stream]]
        assert len(ids) == len(set(ids)) == store.count("shopify", OBJECT_TYPES[stream]), stream
        for record in read[stream]:
            entities.update(mapped.entity for mapped in mapper.map_record(stream, record))
    lines = sum(len(o.payload["lineItems"]["nodes"]) for o in store.iter_all("shopify", "orders"))
    assert entities == {
        "customer_record": len(read["customers"]),
        "consent": len(read["customers"]),
        "order": len(read["orders"]),
        "interaction": len(read["orders"]),
        "order_line": lines,
        "product": len(read["variants"]),
        "price": len(read["variants"]),
        "stock_level": len(read["inventory_levels"]),
        "promotion": len(read["discounts"]),
    }
    for stream in READ_STREAMS:
        if stream != "locations":
            assert states[stream].cursor is not None, stream
            again, _ = _read(connector, stream, states[stream])
            assert _records(again) == [], stream
    with_lookback = _connector(sandbox, lookback_minutes=24 * 60)
    seen = {record["id"]: record for record in read["orders"]}
    overlap = _records(_read(with_lookback, "orders", states["orders"])[0])
    assert overlap and all(record == seen[record["id"]] for record in overlap)


def test_writes_are_read_back(sandbox: SandboxServer) -> None:
    connector = _connector(sandbox, lookback_minutes=0)
    variants_pages, variants_state = _read(connector, "variants")
    levels_pages, levels_state = _read(connector, "inventory_levels")
    discounts_pages, discounts_state = _read(connector, "discounts")
    variant = _records(variants_pages)[0]
    level = _records(levels_pages)[0]
    new_price = Decimal(variant["price"]) + Decimal("1.10")
    price = {"key": "p1", "sku": variant["sku"], "amount": new_price, "currency": "EUR"}
    assert [r.status for r in connector.write("prices", [price])] == ["applied"]
    assert [r.status for r in connector.write("prices", [price])] == ["unchanged"]
    target = level["available"][0]["quantity"] + 5
    stock = {
        "key": "s1",
        "sku": level["inventoryItem"]["sku"],
        "location": level["location"]["name"],
        "available": target,
    }
    assert [r.status for r in connector.write("stock_levels", [stock])] == ["applied"]
    assert [r.status for r in connector.write("stock_levels", [stock])] == ["unchanged"]
    promotion = {
        "key": "d1",
        "code": "CANALIS12",
        "name": "Canalis -12 %",
        "discount_type": "percentage",
        "discount_value": Decimal("12"),
        "currency": "EUR",
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": None,
        "status": "active",
    }
    assert [r.status for r in connector.write("promotions", [promotion])] == ["applied"]
    assert [r.status for r in connector.write("promotions", [promotion])] == ["unchanged"]
    existing = _records(discounts_pages)[0]
    disable = {
        **promotion,
        "key": "d2",
        "code": existing["codeDiscount"]["codes"]["nodes"][0]["code"],
        "status": "disabled",
    }
    expected = "unchanged" if existing["codeDiscount"]["status"] == "EXPIRED" else "applied"
    assert [r.status for r in connector.write("promotions", [disable])] == [expected]

    changed_variants = _records(_read(connector, "variants", variants_state)[0])
    assert [(v["id"], Decimal(v["price"])) for v in changed_variants] == [(variant["id"], new_price)]
    changed_levels = _records(_read(connector, "inventory_levels", levels_state)[0])
    assert [(lv["id"], lv["available"][0]["quantity"]) for lv in changed_levels] == [(level["id"], target)]
    changed = {
        d["codeDiscount"]["codes"]["nodes"][0]["code"]: d
        for d in _records(_read(connector, "discounts", discounts_state)[0])
    }
    assert changed["CANALIS12"]["_percentage_points"] == "12"
    if expected == "applied":
        assert changed[disable["code"]]["codeDiscount"]["status"] == "EXPIRED"


def test_bulk_export_gives_the_same_records_as_paging(sandbox: SandboxServer) -> None:
    paged = _connector(sandbox)
    bulk = _connector(sandbox, bulk_threshold=1, bulk_poll_seconds=0.01)
    for stream in ("customers", "orders", "variants"):
        by_page = {r["id"]: r for r in _records(_read(paged, stream)[0])}
        pages, state = _read(bulk, stream)
        by_bulk = {r["id"]: r for r in _records(pages)}
        assert all(not page.rejected for page in pages)
        assert by_bulk.keys() == by_page.keys(), stream
        for key, record in by_bulk.items():
            expected = by_page[key]
            if stream == "orders":
                assert [line["id"] for line in record["lineItems"]["nodes"]] == [
                    line["id"] for line in expected["lineItems"]["nodes"]
                ]
                record = {k: v for k, v in record.items() if k != "lineItems"}
                expected = {k: v for k, v in expected.items() if k != "lineItems"}
            assert record == expected
        assert state.cursor == max(StreamState().advanced(r["updatedAt"]).cursor for r in by_page.values())


def test_faults_still_read_every_record_exactly_once(world_file: Path, tmp_path: Path) -> None:
    faults = "shopify:429=0.08,500=0.05,503=0.05,drop=0.05"
    with _sandbox(world_file, tmp_path, faults=faults) as server:
        _store(server).kv_put("shopify:throttle", BIG_BUCKET)
        sleeps: list[float] = []
        connector = _connector(server, sleeps, max_attempts=12, bulk_threshold=50, bulk_poll_seconds=0.01)
        for stream in ("customers", "orders", "variants", "inventory_levels", "discounts"):
            records = _records(_read(connector, stream)[0])
            ids = [record["id"] for record in records]
            stored = {o.object_id for o in _store(server).iter_all("shopify", OBJECT_TYPES[stream])}
            assert len(ids) == len(set(ids)) and set(ids) == stored, stream
        assert connector.client.http.stats.retries > 0 and sleeps


def test_malformed_records_are_quarantined(world_file: Path, tmp_path: Path) -> None:
    with _sandbox(world_file, tmp_path, faults="shopify:malformed=0.2") as server:
        _store(server).kv_put("shopify:throttle", BIG_BUCKET)
        pages, state = _read(_connector(server), "customers")
        accepted = _records(pages)
        rejected = [r for page in pages for r in page.rejected]
        assert rejected and accepted
        assert len(accepted) + len(rejected) == _store(server).count("shopify", "customers")
        assert all("updatedAt" in (r.error or "") for r in rejected)
        assert state.cursor == max(StreamState().advanced(r["updatedAt"]).cursor for r in accepted)


def _consent_status(mapper: Mapper, customer: dict[str, Any]) -> str:
    return next(m.record.status for m in mapper.map_record("customers", customer) if m.entity == "consent")  # type: ignore[attr-defined]


def test_consent_writes_are_read_back_and_then_unchanged(sandbox: SandboxServer) -> None:
    connector = _connector(sandbox, lookback_minutes=0)
    mapper = Mapper(load_mapping(shipped_mapping("shopify")), connection="web", channel="web")
    pages, state = _read(connector, "customers")
    customers = [c for c in _records(pages) if c.get("email")]
    granted = next(c for c in customers if _consent_status(mapper, c) == "granted")
    denied = next(c for c in customers if _consent_status(mapper, c) == "denied")
    unknown = next(c for c in customers if _consent_status(mapper, c) == "unknown")
    numeric = granted["id"].rsplit("/", 1)[-1]
    records = [
        {"key": "a", "source_id": numeric, "email": None, "purpose": "marketing", "channel": "email"},
        {"key": "b", "source_id": None, "email": denied["email"].upper(), "purpose": "marketing", "channel": "email"},
        {"key": "c", "source_id": unknown["id"], "email": None, "purpose": "marketing", "channel": "email"},
        {"key": "d", "source_id": denied["id"], "email": None, "purpose": "marketing", "channel": "email"},
    ]
    statuses = ["denied", "granted", "denied", "denied"]
    records = [{**record, "status": status} for record, status in zip(records, statuses, strict=True)]
    results = list(connector.write("consents", records))
    assert [(r.record_key, r.status) for r in results] == [
        ("a", "applied"),
        ("b", "applied"),
        ("c", "applied"),
        ("d", "unchanged"),
    ]
    assert {r.vendor_id for r in results} == {granted["id"], denied["id"], unknown["id"]}
    assert [r.status for r in connector.write("consents", records[:3])] == ["unchanged"] * 3

    changed = {c["id"]: c for c in _records(_read(connector, "customers", state)[0])}
    assert set(changed) == {granted["id"], denied["id"], unknown["id"]}
    assert _consent_status(mapper, changed[granted["id"]]) == "denied"
    assert _consent_status(mapper, changed[denied["id"]]) == "granted"
    assert _consent_status(mapper, changed[unknown["id"]]) == "denied"
    assert changed[denied["id"]]["emailMarketingConsent"]["marketingOptInLevel"] == "SINGLE_OPT_IN"


def test_records_are_fetched_by_id_as_a_read_returns_them(sandbox: SandboxServer) -> None:
    connector = _connector(sandbox)
    for stream in ("customers", "orders", "variants", "locations", "discounts"):
        read = {record["id"]: record for record in _records(_read(connector, stream)[0])}
        wanted = sorted(read)[:3]
        assert connector.fetches_by_id(stream) and wanted, stream
        found = list(connector.read_records_by_id(stream, [*wanted, "gid://shopify/Customer/999999999"]))
        assert sorted(record["id"] for record in found) == wanted, stream
        assert all(record == read[record["id"]] for record in found), stream
    assert not connector.fetches_by_id("inventory_levels")
