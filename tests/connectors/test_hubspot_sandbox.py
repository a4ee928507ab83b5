"""The HubSpot connector end to end against the sandbox emulator: full and incremental reads, mapping,
writes read back, and runs through injected faults."""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import canalis.sandbox.server.app as sandbox_app
from canalis.connectors.hubspot import HubSpotConnector
from canalis.connectors.hubspot.settings import HubSpotSettings
from canalis.connectors.registry import shipped_mapping
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN, HubSpotEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.errors import MappingError
from canalis.sdk.settings import load_settings
from canalis.sdk.state import StreamState

SYSTEM = "hubspot"
READ_STREAMS = ("contacts", "companies", "tickets", "deals", "products", "email_events")


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("hubspot-template")
    generate_world(WorldSpec(seed=5, customers=150), data_dir)
    return data_dir


def sandbox_dir(template: Path, target: Path) -> Path:
    """A private copy of the world for one test (the sandbox serves the store at `store_path`)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store_path(template), store_path(target))
    return target


@pytest.fixture
def serve(world_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start sandboxes (only the HubSpot emulator) on a fresh copy of the world."""
    monkeypatch.setattr(sandbox_app, "load_emulators", lambda: [HubSpotEmulator])
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", ACCESS_TOKEN)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    data_dir = sandbox_dir(world_template, tmp_path / "sandbox")
    started: list[SandboxServer] = []

    def start(faults: str | None = None) -> SandboxServer:
        server = SandboxServer(data_dir, faults=faults, seed=3).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect(server: SandboxServer, **values: Any) -> HubSpotConnector:
    settings = {"base_url": server.url("hubspot"), "requests_per_second": 0, **values}
    loaded = load_settings(HubSpotSettings, settings, connection="hubspot")
    assert isinstance(loaded, HubSpotSettings)
    return HubSpotConnector(loaded, connection="hubspot", sleep=lambda _: None)  # no real waits in tests


def read_all(
    connector: HubSpotConnector, stream: str, state: StreamState | None = None
) -> tuple[list[dict], list, StreamState | None]:
    records, rejected, last = [], [], state
    for page in connector.read(stream, state):
        records += page.records
        rejected += page.rejected
        last = page.state
    return records, rejected, last


def store_of(server: SandboxServer) -> ObjectStore:
    assert server.store is not None
    return server.store


def test_every_stream_reads_completely_and_maps_cleanly(serve: Any) -> None:
    server = serve()
    connector = connect(server)
    assert connector.check().ok
    mapper = Mapper(load_mapping(shipped_mapping("hubspot")), connection="hubspot", channel="hubspot")
    for stream in READ_STREAMS:
        records, rejected, state = read_all(connector, stream)
        ids = [str(record["id"]) for record in records]
        assert not rejected, stream
        assert len(ids) == len(set(ids)) == store_of(server).count(SYSTEM, stream) > 0, stream
        assert state is not None and state.cursor is not None and state.extra == {}
        entities: Counter[str] = Counter()
        for record in records:
            try:
                entities.update(mapped.entity for mapped in mapper.map_record(stream, record))
            except MappingError as error:  # pragma: no cover - the message says which field
                pytest.fail(str(error))
        if stream == "contacts":
            assert entities["customer_record"] == entities["consent"] == len(records)
        if stream == "tickets":
            complaints = [
                m.record
                for r in records
                for m in mapper.map_record(stream, r)
                if m.record.is_complaint  # type: ignore[attr-defined]
            ]
            expected = [r for r in records if r["properties"]["hs_ticket_category"] == "COMPLAINT"]
            assert len(complaints) == len(expected) > 0
            assert all(m.record.customer_source_id for r in records for m in mapper.map_record(stream, r))  # type: ignore[attr-defined]
        if stream == "deals":
            won = [r for r in records if r["properties"]["dealstage"] == "closedwon"]
            lines = sum(len(r["line_items"]) for r in won)
            assert entities["order"] == len(won) and entities["order_line"] == lines > 0
            assert entities["interaction"] == len(records)


def test_incremental_reread_finds_nothing_new_then_sees_written_changes(serve: Any) -> None:
    server = serve()
    connector = connect(server)
    states = {}
    for stream in ("contacts", "email_events"):
        _, _, states[stream] = read_all(connector, stream)
    again, _, _ = read_all(connector, "contacts", states["contacts"])
    events, _, _ = read_all(connector, "email_events", states["email_events"])
    assert again == [] and events == []

    contacts = [row.payload for row in store_of(server).iter_all(SYSTEM, "contacts")]
    subscribed = next(c for c in contacts if c["properties"]["hs_email_optout"] == "false")
    existing = contacts[1]
    customers = [
        {"key": "a", "external_id": "CAN-1", "email": existing["properties"]["email"], "given_name": "Zoé"},
        {"key": "b", "external_id": "CAN-2", "email": "nouvelle.cliente@example.org", "family_name": "Martin"},
    ]
    results = {r.record_key: r for r in connector.write("customers", customers)}
    assert results["a"].status == "applied" and results["a"].vendor_id == existing["id"]
    assert results["b"].status == "applied" and results["b"].vendor_id
    assert [r.status for r in connector.write("customers", customers)] == ["unchanged", "unchanged"]
    consent = {
        "key": "c",
        "source_id": subscribed["id"],
        "email": subscribed["properties"]["email"],
        "purpose": "marketing",
        "channel": "email",
        "status": "denied",
    }
    assert [r.status for r in connector.write("consents", [consent])] == ["applied"]
    assert [r.status for r in connector.write("consents", [consent])] == ["unchanged"]

    changed, rejected, _ = read_all(connector, "contacts", states["contacts"])
    by_id = {record["id"]: record for record in changed}
    assert not rejected
    assert set(by_id) == {existing["id"], results["b"].vendor_id, subscribed["id"]}
    assert by_id[existing["id"]]["properties"]["canalis_id"] == "CAN-1"
    assert by_id[existing["id"]]["properties"]["firstname"] == "Zoé"
    mapper = Mapper(load_mapping(shipped_mapping("hubspot")), connection="hubspot", channel="hubspot")
    consents = {
        m.record.source_id: m.record.status  # type: ignore[attr-defined]
        for m in mapper.map_record("contacts", by_id[subscribed["id"]])
        if m.entity == "consent"
    }
    assert consents == {subscribed["id"]: "denied"}


def test_interrupted_full_read_resumes_without_losing_or_repeating_records(serve: Any) -> None:
    server = serve()
    connector = connect(server, page_size=20)
    pages = connector.read("contacts")
    first = next(pages)
    pages.close()
    rest, _, _ = read_all(connector, "contacts", first.state)
    ids = [r["id"] for r in first.records + rest]
    assert len(ids) == len(set(ids)) == store_of(server).count(SYSTEM, "contacts")


def test_a_run_through_429s_5xx_and_dropped_connections_reads_every_record_once(serve: Any) -> None:
    server = serve(faults="hubspot:429=0.15,500=0.1,503=0.05,drop=0.05")
    connector = connect(server, page_size=10, max_attempts=12)
    for stream in ("contacts", "tickets", "deals", "email_events"):
        records, rejected, _ = read_all(connector, stream)
        ids = [r["id"] for r in records]
        assert not rejected
        assert len(ids) == len(set(ids)) == store_of(server).count(SYSTEM, stream), stream
    stats = connector.client.http.stats.as_dict()
    assert stats["retries"] > 0 and stats["throttled_waits"] > 0


def test_malformed_records_are_quarantined_while_the_rest_is_read(serve: Any) -> None:
    server = serve(faults="hubspot:malformed=0.2")
    connector = connect(server)
    records, rejected, _ = read_all(connector, "contacts")
    assert rejected and records
    assert len(records) + len(rejected) == store_of(server).count(SYSTEM, "contacts")
    assert all(r.error.startswith("properties") for r in rejected)


def test_search_windows_restart_against_the_emulator(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from canalis.connectors.hubspot import client as client_module
    from canalis.sandbox.emulators.hubspot import crm as emulator_crm

    monkeypatch.setattr(emulator_crm, "MAX_RESULTS", 30)  # the emulator's window, standing for 10,000
    monkeypatch.setattr(client_module, "SEARCH_WINDOW", 30)
    server = serve()
    connector = connect(server, page_size=10)
    records, _, state = read_all(connector, "contacts", StreamState(cursor="2000-01-01T00:00:00+00:00"))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == store_of(server).count(SYSTEM, "contacts") > 30
    stamps = [r["updatedAt"] for r in records]
    assert stamps == sorted(stamps) and state is not None and state.cursor_datetime() is not None


def test_settings_from_environment_reach_the_sandbox(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve()
    monkeypatch.setenv("CANALIS_HUBSPOT_BASE_URL", server.url("hubspot"))
    connector = HubSpotConnector.from_config({}, connection="hubspot")
    assert connector.check().ok
    assert os.environ["CANALIS_HUBSPOT_ACCESS_TOKEN"] not in repr(connector)


def _mapped(mapper: Mapper, contact: dict[str, Any], entity: str) -> Any:
    return next(m.record for m in mapper.map_record("contacts", contact) if m.entity == entity)


def test_a_consent_written_with_the_canonical_email_sticks_on_the_contact_read_back(serve: Any) -> None:
    """Canalis sends the canonical email (dots of a Gmail mailbox dropped); the contact's own address must change."""
    server = serve()
    connector = connect(server)
    mapper = Mapper(load_mapping(shipped_mapping("hubspot")), connection="hubspot", channel="hubspot")
    contacts, _, state = read_all(connector, "contacts")
    differing = [
        c
        for c in contacts
        if _mapped(mapper, c, "consent").status == "granted"
        and _mapped(mapper, c, "customer_record").email not in (None, c["properties"]["email"].lower())
    ]
    assert differing, "the world holds no contact whose canonical email differs from HubSpot's"
    contact = differing[0]
    consent = {
        "key": "k",
        "source_id": contact["id"],
        "email": _mapped(mapper, contact, "customer_record").email,
        "purpose": "marketing",
        "channel": "email",
        "status": "denied",
    }
    assert [r.status for r in connector.write("consents", [consent])] == ["applied"]
    changed, _, _ = read_all(connector, "contacts", state)
    [reread] = [c for c in changed if c["id"] == contact["id"]]
    assert _mapped(mapper, reread, "consent").status == "denied"
    assert [r.status for r in connector.write("consents", [consent])] == ["unchanged"]
    assert [r.status for r in connector.write("consents", [{**consent, "status": "granted"}])] == ["applied"]
    again, _, _ = read_all(connector, "contacts", state)
    assert _mapped(mapper, next(c for c in again if c["id"] == contact["id"]), "consent").status == "granted"


def test_contacts_quarantined_under_faults_heal_by_id_and_deals_by_their_window(serve: Any, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from canalis.ingest.replay import replay_stream
    from canalis.ingest.stream import ingest_stream
    from canalis.store import Store, tables

    store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
    store.migrate()
    broken = serve(faults="hubspot:malformed=0.2")
    for stream in ("contacts", "deals"):
        assert ingest_stream(store, connect(broken), stream).quarantined > 0, stream
    broken.stop()
    clean = serve()
    connector = connect(clean, lookback_minutes=0)
    for stream in ("contacts", "deals"):
        ingest_stream(store, connector, stream)
    by_id = replay_stream(store, connector, "contacts", limit=10_000)

    class WindowOnly(HubSpotConnector):
        def fetches_by_id(self, stream: str) -> bool:
            return False

    window = replay_stream(store, WindowOnly(connector.settings, connection="hubspot"), "deals", limit=10_000)

    assert by_id.method == "by id" and by_id.healed > 0
    assert window.method == "window" and window.healed > 0
    assert store.open_quarantine_count() == 0
    with store.engine.connect() as conn:
        raw = tables.raw_records
        for stream in ("contacts", "deals"):
            landed = conn.execute(sa.select(sa.func.count()).where(raw.c.stream == stream)).scalar_one()
            assert landed == store_of(clean).count(SYSTEM, stream), f"{stream}: nothing lost"
