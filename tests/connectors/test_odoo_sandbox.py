"""The Odoo connector end to end against the sandbox emulator: every stream, mapping, incremental reads, writes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import canalis.sandbox.server.app as sandbox_app
from canalis.connectors.odoo import OdooConnector
from canalis.connectors.odoo.connector import PROMOTION_PROGRAM_TYPES
from canalis.connectors.odoo.settings import OdooSettings
from canalis.connectors.registry import shipped_mapping
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sandbox.emulators.odoo import API_KEY, DATABASE, LOGIN, PASSWORD, OdooEmulator
from canalis.sandbox.emulators.odoo.emulator import VERSION_KEY
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.state import StreamState

SYSTEM = "odoo"


def serve_world(data_dir: Path) -> None:
    """Make the generated world the sandbox's store (the runner opens sandbox.db, the generator writes world.db)."""
    sandbox_db = data_dir / "sandbox.db"
    if not sandbox_db.exists():
        os.link(store_path(data_dir), sandbox_db)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("odoo-connector-world")
    generate_world(WorldSpec(seed=23, customers=150), data_dir)
    serve_world(data_dir)
    return data_dir


def sandbox(world_dir: Path, faults: str | None = None) -> SandboxServer:
    return SandboxServer(world_dir, faults=faults)


@pytest.fixture(scope="module")
def server(world_dir: Path) -> Iterator[SandboxServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])  # other vendors stay out
        with sandbox(world_dir) as running:
            yield running


@pytest.fixture
def store(server: SandboxServer) -> Iterator[ObjectStore]:
    assert server.store is not None
    yield server.store
    server.store.kv_delete(VERSION_KEY)


def odoo(url: str, **values: Any) -> OdooConnector:
    settings = {"database": DATABASE, "login": LOGIN, "api_key": API_KEY, "page_size": 40, "lookback_seconds": 0}
    return OdooConnector(OdooSettings(url=url, **{**settings, **values}), connection="odoo", sleep=lambda _: None)


def read_all(
    connector: OdooConnector, stream: str, state: StreamState | None = None
) -> tuple[list[Any], int, StreamState]:
    records: list[Any] = []
    rejected = 0
    final = state or StreamState.empty()
    for page in connector.read(stream, state):
        records += page.records
        rejected += len(page.rejected)
        final = page.state
    return records, rejected, final


def expected_ids(store: ObjectStore) -> dict[str, set[int]]:
    """What each stream should return, counted from the object store with the connector's default filters."""

    def ids(model: str, keep: Any = lambda payload: True) -> set[int]:
        return {int(s.object_id) for s in store.iter_all(SYSTEM, model) if keep(s.payload)}

    internal = ids("stock.location", lambda p: p["usage"] == "internal")
    return {
        "partners": ids("res.partner", lambda p: p["customer_rank"] > 0 and not p["is_company"]),
        "products": ids("product.product"),
        "pricelist_items": ids(
            "product.pricelist.item",
            lambda p: (
                p["applied_on"] == "0_product_variant" and p["compute_price"] == "fixed" and p["min_quantity"] <= 1
            ),
        ),
        "stock_quants": ids("stock.quant", lambda p: p["location_id"][0] in internal),
        "sale_orders": ids("sale.order"),
        "loyalty_programs": ids("loyalty.program", lambda p: p["program_type"] in PROMOTION_PROGRAM_TYPES),
        "consents": ids("mail.blacklist"),
    }


@pytest.mark.parametrize("protocol", ["json2", "xmlrpc", "jsonrpc"])
def test_every_stream_reads_and_maps_over_each_protocol(
    server: SandboxServer, store: ObjectStore, protocol: str
) -> None:
    connector = odoo(server.url("odoo"), protocol=protocol)
    check = connector.check()
    assert check.ok and check.details["protocol"] == protocol
    mapper = Mapper(load_mapping(shipped_mapping("odoo")), connection="odoo", channel="erp")
    expected = expected_ids(store)
    assert all(expected[name] for name in expected if name != "consents")
    for stream in connector.declared_streams():
        records, rejected, state = read_all(connector, stream.name)
        ids = [record["id"] for record in records]
        assert rejected == 0 and len(ids) == len(set(ids)) and set(ids) == expected[stream.name], stream.name
        entities = Counter(mapped.entity for record in records for mapped in mapper.map_record(stream.name, record))
        if records:
            assert state.cursor is not None
        if stream.name == "sale_orders":
            lines = sum(len(record["lines"]) for record in records)
            assert lines == store.count(SYSTEM, "sale.order.line") and entities["order_line"] == lines
            assert entities["order"] == entities["interaction"] == len(records)
        elif stream.name == "partners":
            assert entities == {"customer_record": len(records), "consent": len(records)}
        elif stream.name == "loyalty_programs":
            assert entities["promotion"] == sum(1 for record in records for rule in record["rules"] if rule["code"])
        elif stream.name != "consents":
            assert sum(entities.values()) == len(records)


def test_incremental_reread_finds_nothing_new_then_sees_a_change(server: SandboxServer, store: ObjectStore) -> None:
    connector = odoo(server.url("odoo"))
    first, _, state = read_all(connector, "products")
    assert len(first) == store.count(SYSTEM, "product.product")
    newest = max(record["write_date"] for record in first)
    again, _, same = read_all(connector, "products", state)
    assert again == [record for record in first if record["write_date"] == newest]  # only the still-open second
    assert same == state
    product = first[0]
    client = connector.client
    client.execute("product.product", "write", ids=[product["id"]], vals={"name": "Renamed by the test"})
    changed, _, later = read_all(connector, "products", state)
    assert [record["id"] for record in changed] == [record["id"] for record in again] + [product["id"]]
    assert changed[-1]["name"] == "Renamed by the test"
    assert later.cursor_datetime() > state.cursor_datetime()


def test_auto_protocol_probes_the_version(server: SandboxServer, store: ObjectStore) -> None:
    assert odoo(server.url("odoo"), protocol="auto").check().details["protocol"] == "json2"
    store.kv_put(VERSION_KEY, "17.0")
    result = odoo(server.url("odoo"), protocol="auto").check()
    assert result.details == {**result.details, "protocol": "xmlrpc", "server_version": "17.0"}
    password_only = odoo(server.url("odoo"), protocol="auto", api_key=None, password=PASSWORD)
    assert password_only.check().details["protocol"] == "xmlrpc"


def consent(key: str, status: str, **values: Any) -> dict[str, Any]:
    """A canonical `consents` write record."""
    return {"key": key, "source_id": None, "email": None, "purpose": "marketing", "channel": "email", "status": status,
            **values}  # fmt: skip


def test_consents_write_back_and_read_again(server: SandboxServer, store: ObjectStore) -> None:
    connector = odoo(server.url("odoo"), allow_writes=True)
    mapper = Mapper(load_mapping(shipped_mapping("odoo")), connection="odoo", channel="erp")
    _, _, state = read_all(connector, "consents")
    partners = [s.payload for s in store.iter_all(SYSTEM, "res.partner") if s.payload.get("email")][:3]
    records = [
        consent("c1", "denied", source_id=str(partners[0]["id"])),
        consent("c2", "denied", email=partners[1]["email"].upper()),
        consent("c3", "granted", source_id=str(partners[2]["id"]), email=partners[2]["email"]),
        consent("c4", "denied"),
        consent("c5", "denied", email="x@example.org", channel="sms"),
    ]
    results = list(connector.write("consents", records))
    assert [(r.record_key, r.status) for r in results] == [
        ("c1", "applied"), ("c2", "applied"), ("c3", "unchanged"), ("c4", "failed"), ("c5", "failed"),
    ]  # fmt: skip
    assert [r.status for r in connector.write("consents", records[:3])] == ["unchanged"] * 3
    changed, _, state = read_all(connector, "consents", state)
    assert sorted(record["email"] for record in changed) == sorted(p["email"].lower() for p in partners[:2])
    consents = [m.record for record in changed for m in mapper.map_record("consents", record)]
    assert {(c.source_id, c.status) for c in consents} >= {(str(partners[0]["id"]), "denied")}
    everyone, _, _ = read_all(odoo(server.url("odoo")), "partners")
    flagged = {record["id"] for record in everyone if record["is_blacklisted"]}
    assert {partners[0]["id"], partners[1]["id"]} & {record["id"] for record in everyone} <= flagged
    lifted = list(connector.write("consents", [{**records[0], "key": "c6", "status": "granted"}]))
    assert [r.status for r in lifted] == ["applied"]
    reread, _, _ = read_all(connector, "consents", state)
    [again] = [record for record in reread if record["email"] == partners[0]["email"].lower()]
    assert again["active"] is False
    lifted_consents = {m.record.source_id: m.record.status for m in mapper.map_record("consents", again)}
    assert lifted_consents[str(partners[0]["id"])] == "granted" and set(lifted_consents.values()) == {"granted"}


def test_faults_still_read_every_record_exactly_once(world_dir: Path, store: ObjectStore) -> None:
    expected = expected_ids(store)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])
        with sandbox(world_dir, faults="odoo:429=0.15,500=0.05,503=0.05,drop=0.05") as faulty:
            connector = odoo(faulty.url("odoo"), max_attempts=10, timeout_seconds=0.5)  # a drop hangs until timeout
            for name in ("partners", "stock_quants", "sale_orders"):
                records, rejected, _ = read_all(connector, name)
                ids = [record["id"] for record in records]
                assert rejected == 0 and len(ids) == len(set(ids)) and set(ids) == expected[name]
            assert connector.client.http.stats.retries > 0


def test_malformed_records_are_quarantined_not_lost(world_dir: Path, store: ObjectStore) -> None:
    expected = expected_ids(store)["products"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])
        with sandbox(world_dir, faults="odoo:malformed=0.2") as broken:
            pages = list(odoo(broken.url("odoo")).read("products"))
    accepted = {record["id"] for page in pages for record in page.records}
    rejected = {item.record_id for page in pages for item in page.rejected}
    assert rejected and accepted | {int(key) for key in rejected if key} == expected


def test_records_quarantined_under_faults_heal_by_id_once_the_faults_stop(
    world_dir: Path, store: ObjectStore, tmp_path: Path
) -> None:
    from canalis.ingest.replay import replay_stream
    from canalis.ingest.stream import ingest_stream
    from canalis.store import Store, tables

    expected = expected_ids(store)["sale_orders"]
    canalis_store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
    canalis_store.migrate()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [OdooEmulator])
        with sandbox(world_dir, faults="odoo:malformed=0.2") as broken:
            first = ingest_stream(canalis_store, odoo(broken.url("odoo")), "sale_orders")
        assert first.quarantined > 0
        with sandbox(world_dir) as clean:
            connector = odoo(clean.url("odoo"))
            ingest_stream(canalis_store, connector, "sale_orders")
            waiting = canalis_store.open_quarantine_count()
            assert waiting > 0, "the cursor passed them: an incremental read does not see them again"
            report = replay_stream(canalis_store, connector, "sale_orders", limit=1000)
            clean_lines = {record["id"]: len(record["lines"]) for record in read_all(connector, "sale_orders")[0]}

    assert report.method == "by id" and report.healed == waiting
    assert canalis_store.open_quarantine_count() == 0
    with canalis_store.engine.connect() as conn:
        raw = tables.raw_records
        landed = {int(key) for key in conn.execute(sa.select(raw.c.record_id)).scalars()}
        healed_ids = [key.rsplit(":", 1)[1] for key in report.healed_keys]
        healed = conn.execute(sa.select(raw.c.payload).where(raw.c.record_id.in_(healed_ids))).scalars().all()
    assert landed == expected, "nothing lost"
    assert len(healed) == waiting
    assert all(len(payload["lines"]) == clean_lines[payload["id"]] for payload in healed), "fetched whole"


def _spoil(store: ObjectStore, model: str, object_id: str, **changes: Any) -> dict[str, Any]:
    """Break one record in the emulator's store; returns the original payload to put back."""
    original = store.get(SYSTEM, model, object_id)
    assert original is not None
    store.put(SYSTEM, model, object_id, {**original, **changes})
    return original


def test_a_malformed_child_leaves_its_parent_incomplete_and_named(server: SandboxServer, store: ObjectStore) -> None:
    connector = odoo(server.url("odoo"))
    line = next(store.iter_all(SYSTEM, "sale.order.line")).payload
    order_id, line_id = line["order_id"][0], line["id"]
    program = next(p.payload for p in store.iter_all(SYSTEM, "loyalty.program") if p.payload.get("rule_ids"))
    rule_id = program["rule_ids"][0]
    # a broken link to the parent (once such a child vanished without a word) and a price that is no number
    line_back = _spoil(store, "sale.order.line", str(line_id), order_id="#corrupt", price_unit="n/a")
    rule_back = _spoil(store, "loyalty.rule", str(rule_id), program_id="#corrupt")
    try:
        orders = {
            page_record["id"]: page_record for page in connector.read("sale_orders") for page_record in page.records
        }
        rejected = [r for page in odoo(server.url("odoo")).read("sale_orders") for r in page.rejected]
        programs = [r for page in connector.read("loyalty_programs") for r in page.rejected]
    finally:
        store.put(SYSTEM, "sale.order.line", str(line_id), line_back)
        store.put(SYSTEM, "loyalty.rule", str(rule_id), rule_back)

    assert order_id in orders and line_id not in {child["id"] for child in orders[order_id]["lines"]}
    listed = store.get(SYSTEM, "sale.order", str(order_id))["order_line"]
    assert len(orders[order_id]["lines"]) == len(listed) - 1
    (entry,) = rejected
    assert entry.record_id == str(order_id) and entry.field == f"lines[{listed.index(line_id)}].order_id"
    assert "landed incomplete" in entry.error and "order_id: Input should be a valid list" in entry.error
    assert any(child["id"] == line_id for child in entry.payload["lines"])  # what was read, whole
    (rule_entry,) = programs
    assert rule_entry.record_id == str(program["id"]) and rule_entry.field == "rules[0].program_id"

    # once the children are whole again, the parent is read whole
    again = {r["id"]: r for page in connector.read("sale_orders") for r in page.records}
    assert line_id in {child["id"] for child in again[order_id]["lines"]}


def test_an_incomplete_order_heals_by_id_once_its_line_is_whole(
    server: SandboxServer, store: ObjectStore, tmp_path: Path
) -> None:
    from canalis.ingest.replay import replay_stream
    from canalis.ingest.stream import ingest_stream
    from canalis.store import Store, tables

    canalis_store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
    canalis_store.migrate()
    connector = odoo(server.url("odoo"))
    line = next(store.iter_all(SYSTEM, "sale.order.line")).payload
    order_id = str(line["order_id"][0])
    back = _spoil(store, "sale.order.line", str(line["id"]), price_unit="n/a")
    try:
        assert ingest_stream(canalis_store, connector, "sale_orders").quarantined == 1
        assert replay_stream(canalis_store, connector, "sale_orders").healed == 0, "still broken: stays open"
    finally:
        store.put(SYSTEM, "sale.order.line", str(line["id"]), back)
    assert canalis_store.open_quarantine_count() == 1

    report = replay_stream(canalis_store, connector, "sale_orders")
    assert report.healed_keys == [f"odoo:sale_orders:read:{order_id}"]
    assert canalis_store.open_quarantine_count() == 0
    with canalis_store.engine.connect() as conn:
        raw = tables.raw_records
        payload = conn.execute(sa.select(raw.c.payload).where(raw.c.record_id == order_id)).scalar_one()
    assert line["id"] in {child["id"] for child in payload["lines"]}, "the order landed whole"
