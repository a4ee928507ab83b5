"""The Brevo connector end to end against the sandbox emulator on a small generated world."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.brevo import BrevoConnector
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.emulators.brevo import API_KEY
from canalis.sandbox.emulators.brevo import EMULATOR as BrevoEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page

READ_STREAMS = ("contacts", "lists", "blocked_contacts", "email_events")


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("brevo-e2e")
    generate_world(WorldSpec(seed=5, customers=150), data_dir)
    return data_dir


@pytest.fixture
def data_dir(world_dir: Path, tmp_path: Path) -> Path:
    """A fresh copy of the world per test, so writes in one test do not leak into another."""
    target = tmp_path / "sandbox"
    target.mkdir()
    shutil.copyfile(store_path(world_dir), store_path(target))
    return target


def serve(data_dir: Path, faults: str | None = None) -> SandboxServer:
    return SandboxServer(data_dir, faults=faults, emulators=[BrevoEmulator])


def connector_for(server: SandboxServer, **values: Any) -> BrevoConnector:
    settings = BrevoSettings.model_validate(
        {
            "api_key": API_KEY,
            "base_url": server.url("brevo") + "/v3",
            "events_start_date": "2023-06-01",
            "lookback_minutes": 0,
            "requests_per_second": 1000,
            "page_size": 40,
            "events_page_size": 250,
            **values,
        }
    )
    return BrevoConnector(settings, connection="brevo_fr", sleep=lambda seconds: None)


def read(connector: BrevoConnector, stream: str, state: StreamState | None = None) -> tuple[list[Page], StreamState]:
    pages = list(connector.read(stream, state))
    return pages, pages[-1].state if pages else (state or StreamState.empty())


def records(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def world(store: ObjectStore, object_type: str) -> list[dict[str, Any]]:
    return [item.payload for item in store.iter_all("brevo", object_type)]


def expected_blocked(store: ObjectStore) -> set[str]:
    """Read independently from the world: blacklisted contacts and hard-bounced addresses."""
    bounced = {p["email"] for p in world(store, "email_events") if p["event"] == "hardBounce"}
    return {p["email"] for p in world(store, "contacts") if p["emailBlacklisted"] or p["email"] in bounced}


def test_reads_every_stream_and_maps_every_record(data_dir: Path) -> None:
    with serve(data_dir) as server:
        connector = connector_for(server)
        assert connector.check().ok
        read_back = {stream: read(connector, stream)[0] for stream in READ_STREAMS}
        store = ObjectStore(store_path(data_dir))
        contacts, lists, events = world(store, "contacts"), world(store, "lists"), world(store, "email_events")
        blocked = expected_blocked(store)
        store.close()

    assert sorted(r["id"] for r in records(read_back["contacts"])) == sorted(p["id"] for p in contacts)
    assert sorted(r["id"] for r in records(read_back["lists"])) == sorted(p["id"] for p in lists)
    assert {r["email"] for r in records(read_back["blocked_contacts"])} == blocked
    keys = [r["_key"] for r in records(read_back["email_events"])]
    assert len(keys) == len(set(keys)) == len(events)
    assert all(not page.rejected for pages in read_back.values() for page in pages)

    mapper = Mapper(load_mapping(connector.mapping_path()), connection="brevo_fr", channel="brevo")
    mapped: Counter[str] = Counter()
    denied = 0
    for stream, pages in read_back.items():
        for record in records(pages):
            for result in mapper.map_record(stream, record):
                mapped[result.entity] += 1
                denied += getattr(result.record, "status", None) == "denied" and result.record.channel == "email"
    assert mapped["customer_record"] == len(contacts)
    assert mapped["consent"] == 2 * len(contacts)
    assert mapped["interaction"] == len(events) + len(blocked)
    assert denied == sum(p["emailBlacklisted"] for p in contacts)


def test_incremental_reread_finds_nothing_new(data_dir: Path) -> None:
    with serve(data_dir) as server:
        connector = connector_for(server)
        states = {stream: read(connector, stream)[1] for stream in READ_STREAMS if stream != "lists"}
        again = {stream: records(read(connector, stream, state)[0]) for stream, state in states.items()}

    assert again == {stream: [] for stream in states}
    assert all(state.cursor is not None for state in states.values())


def test_write_back_then_read_the_change(data_dir: Path) -> None:
    with serve(data_dir) as server:
        connector = connector_for(server, promotional_list_ids=[2])
        _, contacts_state = read(connector, "contacts")
        _, blocked_state = read(connector, "blocked_contacts")
        contacts = records(read(connector, "contacts")[0])
        open_ = [c for c in contacts if not c["emailBlacklisted"] and 2 in c["listIds"]][:2]
        closed = next(c for c in contacts if c["emailBlacklisted"])
        renamed = contacts[10]

        customers = [
            {
                "key": "cust-1",
                "source_id": str(renamed["id"]),
                "external_id": "CAN-1",
                "email": renamed["email"],
                "given_name": "Renamed",
                "family_name": "Person",
                "phone": None,
            },
            {
                "key": "cust-2",
                "source_id": None,
                "external_id": "CAN-2",
                "email": "brand.new@example.org",
                "given_name": "Brand",
                "family_name": "New",
                "phone": "+33611223344",
            },
        ]
        consents = [
            {
                "key": f"consent-{c['id']}",
                "source_id": str(c["id"]),
                "email": c["email"],
                "purpose": "marketing",
                "channel": "email",
                "status": "denied",
            }
            for c in open_
        ] + [
            {
                "key": "consent-back",
                "source_id": None,
                "email": closed["email"],
                "purpose": "marketing",
                "channel": "email",
                "status": "granted",
            }
        ]
        written = list(connector.write("customers", customers)) + list(connector.write("consents", consents))

        changed = {r["id"]: r for r in records(read(connector, "contacts", contacts_state)[0])}
        newly_blocked = {r["email"] for r in records(read(connector, "blocked_contacts", blocked_state)[0])}
        still_blocked = {r["email"] for r in records(read(connector, "blocked_contacts")[0])}

    assert [r.status for r in written] == ["applied"] * 5
    new_id = next(r.vendor_id for r in written if r.record_key == "cust-2")
    assert set(changed) == {renamed["id"], int(str(new_id)), closed["id"], *(c["id"] for c in open_)}
    attributes = changed[renamed["id"]]["attributes"]
    assert {name: attributes.get(name) for name in ("FIRSTNAME", "LASTNAME", "EXT_ID")} == {
        "FIRSTNAME": "Renamed",
        "LASTNAME": "Person",
        "EXT_ID": "CAN-1",
    }
    assert changed[int(str(new_id))]["email"] == "brand.new@example.org"
    assert all(changed[c["id"]]["emailBlacklisted"] and 2 not in changed[c["id"]]["listIds"] for c in open_)
    assert changed[closed["id"]]["emailBlacklisted"] is False
    assert newly_blocked == {c["email"] for c in open_}
    assert closed["email"] not in still_blocked


def test_a_run_with_throttling_errors_and_dropped_connections_reads_every_record_once(data_dir: Path) -> None:
    with serve(data_dir, faults="brevo:429=0.15,500=0.08,503=0.05,drop=0.05") as server:
        connector = connector_for(server, max_attempts=12)
        contacts = records(read(connector, "contacts")[0])
        events = records(read(connector, "email_events")[0])
        stats = connector.client.http.stats.as_dict()
        store = ObjectStore(store_path(data_dir))
        expected_contacts = sorted(p["id"] for p in world(store, "contacts"))
        expected_events = store.count("brevo", "email_events")
        store.close()

    assert sorted(r["id"] for r in contacts) == expected_contacts
    assert len(events) == len({r["_key"] for r in events}) == expected_events
    assert stats["retries"] > 0 and stats["throttled_waits"] > 0


def test_malformed_records_are_rejected_and_the_run_goes_on(data_dir: Path) -> None:
    with serve(data_dir, faults="brevo:malformed=0.1") as server:
        pages, state = read(connector_for(server), "contacts")
        store = ObjectStore(store_path(data_dir))
        total = store.count("brevo", "contacts")
        store.close()

    accepted = records(pages)
    rejected = [item for page in pages for item in page.rejected]
    assert rejected and accepted
    assert len(accepted) + len(rejected) == total
    assert all("modifiedAt" in item.error for item in rejected)
    assert state.cursor is not None
