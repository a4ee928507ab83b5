"""The Salesforce connector end to end against the sandbox emulator on a small generated world."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.registry import shipped_mapping
from canalis.connectors.salesforce import SalesforceConnector
from canalis.connectors.salesforce.settings import SalesforceSettings
from canalis.connectors.salesforce.streams import READ_STREAMS, SObjectStream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sandbox.emulators.salesforce.auth import SandboxCredentials
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world
from canalis.sdk.errors import ConfigError
from canalis.sdk.settings import load_settings
from canalis.sdk.state import StreamState, parse_cursor_datetime
from canalis.sdk.streams import Page

CREDENTIALS = SandboxCredentials()
ENV = {
    "CANALIS_SALESFORCE_PASSWORD": CREDENTIALS.password,
    "CANALIS_SALESFORCE_SECURITY_TOKEN": CREDENTIALS.security_token,
}


class FakeClock:
    """Virtual time: retries and bulk polling sleep without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("sf-e2e")
    generate_world(WorldSpec(seed=21, customers=150), data_dir)
    return data_dir


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[SandboxServer]:
    with SandboxServer(world) as running:
        yield running


def make(server: SandboxServer, clock: FakeClock | None = None, **values: Any) -> SalesforceConnector:
    base = {"login_url": server.url("salesforce"), "username": CREDENTIALS.username, "bulk_enabled": False}
    settings = load_settings(SalesforceSettings, {**base, **values}, connection="sf_shop", environ=ENV)
    assert isinstance(settings, SalesforceSettings)
    clock = clock or FakeClock()
    return SalesforceConnector(settings, connection="sf_shop", sleep=clock.sleep, clock=clock.time)


def live(store: ObjectStore | None, sobject: str) -> dict[str, dict[str, Any]]:
    assert store is not None
    return {o.object_id: o.payload for o in store.iter_all("salesforce", sobject) if not o.payload.get("IsDeleted")}


def read_all(connector: SalesforceConnector, stream: str, state: StreamState | None = None) -> list[Page]:
    return list(connector.read(stream, state))


def test_check_against_the_sandbox(server: SandboxServer) -> None:
    result = make(server).check()
    assert result.ok, result.message
    assert result.details["login_flow"] == "soap_password"
    assert result.details["instance_url"] == server.url("salesforce")
    assert CREDENTIALS.password not in repr(result)
    wrong = load_settings(
        SalesforceSettings,
        {"login_url": server.url("salesforce"), "username": CREDENTIALS.username},
        connection="sf_shop",
        environ={"CANALIS_SALESFORCE_PASSWORD": "wrong"},
    )
    with pytest.raises(ConfigError) as failure:
        SalesforceConnector(wrong, connection="sf_shop").check()
    assert failure.value.setting == "password" and "INVALID_LOGIN" in str(failure.value)


@pytest.mark.parametrize(
    ("flow", "values", "environ"),
    [
        (
            "oauth_password",
            {"client_id": CREDENTIALS.client_id},
            {**ENV, "CANALIS_SALESFORCE_CLIENT_SECRET": CREDENTIALS.client_secret},
        ),
        (
            "client_credentials",
            {"client_id": CREDENTIALS.client_id, "username": None},
            {"CANALIS_SALESFORCE_CLIENT_SECRET": CREDENTIALS.client_secret},
        ),
        (
            "access_token",
            {"username": None, "login_url": None, "instance_url": "{url}"},
            {"CANALIS_SALESFORCE_ACCESS_TOKEN": CREDENTIALS.access_token},
        ),
    ],
)
def test_every_login_flow_works_against_the_sandbox(
    server: SandboxServer, flow: str, values: dict[str, Any], environ: dict[str, str]
) -> None:
    base = {"login_url": server.url("salesforce"), "username": CREDENTIALS.username, "bulk_enabled": False}
    merged = {
        **base,
        **{k: v.format(url=server.url("salesforce")) if isinstance(v, str) else v for k, v in values.items()},
    }
    settings = load_settings(
        SalesforceSettings, {k: v for k, v in merged.items() if v is not None}, connection="sf_shop", environ=environ
    )
    assert isinstance(settings, SalesforceSettings)
    connector = SalesforceConnector(settings, connection="sf_shop")
    result = connector.check()
    assert result.ok and result.details["login_flow"] == flow
    assert sum(len(p.records) for p in connector.read("products")) == len(live(server.store, "Product2"))


def test_read_every_stream_map_it_and_reread_nothing(server: SandboxServer) -> None:
    connector = make(server, page_size=200)
    mapper = Mapper(load_mapping(shipped_mapping("salesforce")), connection="sf_shop", channel="salesforce")
    entities: Counter[str] = Counter()
    complaints = 0
    finals: dict[str, StreamState] = {}
    for stream in READ_STREAMS:
        pages = read_all(connector, stream.name)
        ids = [r["Id"] for p in pages for r in p.records]
        assert not any(p.rejected for p in pages), stream.name
        assert len(ids) == len(set(ids)) and set(ids) == set(live(server.store, stream.sobject)), stream.name
        for page in pages:
            for record in page.records:
                for mapped in mapper.map_record(stream.name, record):
                    entities[mapped.entity] += 1
                    complaints += bool(getattr(mapped.record, "is_complaint", False))
        finals[stream.name] = pages[-1].state
    contacts = live(server.store, "Contact")
    cases = live(server.store, "Case")
    assert entities["customer_record"] == len(contacts) and entities["consent"] == len(contacts)
    assert entities["interaction"] == len(cases) + len(live(server.store, "Task"))
    assert complaints == sum(1 for c in cases.values() if c["Type"] == "Complaint") > 0
    assert entities["product"] == len(live(server.store, "Product2"))
    assert entities["price"] == len(live(server.store, "PricebookEntry"))
    exact = make(server, lookback_seconds=0)
    for stream in READ_STREAMS:
        assert sum(len(p.records) for p in read_all(exact, stream.name, finals[stream.name])) == 0, stream.name
    windowed = make(server)  # default look-back: only records inside the window come back
    for stream in READ_STREAMS:
        cursor = finals[stream.name].cursor_datetime()
        assert cursor is not None
        for page in read_all(windowed, stream.name, finals[stream.name]):
            for record in page.records:
                assert (cursor - parse_cursor_datetime(record["SystemModstamp"])).total_seconds() <= 300


def test_bulk_reads_the_same_records(server: SandboxServer) -> None:
    clock = FakeClock()
    bulk = make(server, clock, bulk_enabled=True, bulk_threshold=0, bulk_page_size=40)
    rest = make(server)
    for stream in (s for s in READ_STREAMS if s.name in ("contacts", "cases", "pricebook_entries")):
        bulk_pages = read_all(bulk, stream.name)
        rest_pages = read_all(rest, stream.name)
        by_bulk = {r["Id"]: r for p in bulk_pages for r in p.records}
        by_rest = {r["Id"]: r for p in rest_pages for r in p.records}
        assert by_bulk.keys() == by_rest.keys() and len(by_bulk) == sum(len(p.records) for p in bulk_pages)
        assert len(bulk_pages) == -(-len(by_bulk) // 40) + 1  # result sets of 40, then the cursor page
        assert bulk_pages[-1].state.cursor == rest_pages[-1].state.cursor
        sample = next(iter(by_rest))
        for field, value in by_rest[sample].items():
            if field in ("attributes", "SystemModstamp", "CreatedDate", "LastModifiedDate", "ClosedDate"):
                continue
            assert by_bulk[sample][field] == value, (stream.name, field)
    assert clock.sleeps  # each job answered InProgress once before completing


def test_write_back_then_read_the_change(server: SandboxServer) -> None:
    connector = make(server, lookback_seconds=0)
    states = {s.name: read_all(connector, s.name)[-1].state for s in READ_STREAMS if s.name != "accounts"}
    contacts = live(server.store, "Contact")
    first, second = sorted(c for c in contacts if not contacts[c]["HasOptedOutOfEmail"])[:2]
    entry = next(iter(live(server.store, "PricebookEntry").values()))
    new_price = Decimal(str(entry["UnitPrice"])) + Decimal("1.10")
    customers = [
        {
            "key": "c-1",
            "source_id": first,
            "external_id": "CAN-0001",
            "email": "nouvelle.adresse@example.fr",
            "given_name": "Zoé",
            "family_name": contacts[first]["LastName"],
            "phone": None,
        },
        {
            "key": "c-new",
            "source_id": None,
            "external_id": "CAN-0002",
            "email": "nouveau@example.fr",
            "given_name": "Noé",
            "family_name": "Nouveau",
            "phone": "+33 6 11 22 33 44",
        },
    ]
    consents = [
        {
            "key": "s-1",
            "source_id": second,
            "email": None,
            "purpose": "marketing",
            "channel": "email",
            "status": "denied",
        }
    ]
    prices = [{"key": "p-1", "sku": entry["ProductCode"], "amount": new_price, "currency": "EUR"}]
    assert [r.status for r in connector.write("customers", customers)] == ["applied", "applied"]
    assert [r.status for r in connector.write("consents", consents)] == ["applied"]
    assert [r.status for r in connector.write("prices", prices)] == ["applied"]
    changed = {r["Id"]: r for p in read_all(connector, "contacts", states["contacts"]) for r in p.records}
    assert changed[first]["Email"] == "nouvelle.adresse@example.fr" and changed[first]["FirstName"] == "Zoé"
    assert changed[first]["Canalis_Customer_Id__c"] == "CAN-0001"
    assert changed[second]["HasOptedOutOfEmail"] is True
    created = [r for r in changed.values() if r["Canalis_Customer_Id__c"] == "CAN-0002"]
    assert len(created) == 1 and created[0]["MobilePhone"] == "+33 6 11 22 33 44"
    assert len(changed) == 3
    repriced = [r for p in read_all(connector, "pricebook_entries", states["pricebook_entries"]) for r in p.records]
    assert [(r["Id"], Decimal(str(r["UnitPrice"]))) for r in repriced] == [(entry["Id"], new_price)]
    # the same change again changes nothing (and bumps no SystemModstamp)
    assert {r.status for r in connector.write("customers", customers)} == {"unchanged"}
    assert {r.status for r in connector.write("consents", consents)} == {"unchanged"}
    assert {r.status for r in connector.write("prices", prices)} == {"unchanged"}


def test_a_faulty_sandbox_still_gives_every_record_exactly_once(world: Path) -> None:
    spec = "salesforce:429=0.1,500=0.05,503=0.05,drop=0.05"
    with SandboxServer(world, faults=spec, seed=7) as faulty:
        connector = make(faulty, page_size=200)
        for stream in READ_STREAMS:
            ids = [r["Id"] for p in read_all(connector, stream.name) for r in p.records]
            assert len(ids) == len(set(ids)) and set(ids) == set(live(faulty.store, stream.sobject)), stream.name
        assert connector.client.http.stats.retries > 0


def test_malformed_records_are_quarantined_and_the_rest_read(world: Path) -> None:
    with SandboxServer(world, faults="salesforce:malformed=0.2", seed=5) as spoiling:
        connector = make(spoiling)
        stream: type[SObjectStream] = next(s for s in READ_STREAMS if s.name == "contacts")
        pages = read_all(connector, stream.name)
        accepted = [r["Id"] for p in pages for r in p.records]
        rejected = [q for p in pages for q in p.rejected]
        assert rejected and all(q.field == "SystemModstamp" and q.record_id for q in rejected)
        assert sorted(accepted + [q.record_id for q in rejected]) == sorted(live(spoiling.store, "Contact"))


def test_contacts_are_fetched_by_id_as_a_read_returns_them(server: SandboxServer) -> None:
    connector = make(server)
    read = {record["Id"]: record for page in read_all(connector, "contacts") for record in page.records}
    wanted = sorted(read)[:3]

    assert connector.fetches_by_id("contacts")
    found = list(connector.read_records_by_id("contacts", [*wanted, "0030000000NOPE1", "x' OR Name != '"]))

    assert sorted(record["Id"] for record in found) == wanted, "unknown ids left out, non-ids never queried"
    assert all(record == read[record["Id"]] for record in found)
