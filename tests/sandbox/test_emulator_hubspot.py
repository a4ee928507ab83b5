"""The HubSpot emulator against HubSpot's own Python client (only the host changed) and the wire notes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest
from hubspot.communication_preferences.exceptions import ApiException as PreferencesApiException
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts.exceptions import ApiException

import canalis.sandbox.server.app as sandbox_app
from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN, READ_ONLY_TOKEN, HubSpotEmulator
from canalis.sandbox.emulators.hubspot import crm as crm_module
from canalis.sandbox.emulators.hubspot.emulator import RATE_LIMIT_KEY
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world

SYSTEM = "hubspot"


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("hubspot-world")
    generate_world(WorldSpec(seed=11, customers=160), data_dir)
    return data_dir


@pytest.fixture(scope="module")
def server(world_dir: Path) -> Iterator[SandboxServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [HubSpotEmulator])  # other vendors stay out
        with SandboxServer(world_dir) as running:
            yield running


@pytest.fixture
def base(server: SandboxServer) -> str:
    return server.url("hubspot")


@pytest.fixture
def store(server: SandboxServer) -> ObjectStore:
    assert server.store is not None
    return server.store


@pytest.fixture
def client(base: str) -> HubSpot:
    return HubSpot(access_token=ACCESS_TOKEN, host=base)


def auth(token: str = ACCESS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fresh_email() -> str:
    return f"canalis-{uuid.uuid4().hex[:10]}@example.org"


# -- auth and errors ----------------------------------------------------------------------------------


def test_missing_and_wrong_tokens_get_401_in_hubspots_error_shape(base: str, client: HubSpot) -> None:
    for headers in ({}, auth("pat-eu1-wrong")):
        response = requests.get(f"{base}/crm/v3/objects/contacts", headers=headers, timeout=5)
        body = response.json()
        assert response.status_code == 401
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"] and uuid.UUID(body["correlationId"])
    with pytest.raises(ApiException) as raised:
        HubSpot(access_token="pat-eu1-wrong", host=base).crm.contacts.basic_api.get_page(limit=1)
    assert raised.value.status == 401


def test_read_only_token_reads_but_cannot_write(base: str) -> None:
    search = requests.post(f"{base}/crm/v3/objects/contacts/search", json={}, headers=auth(READ_ONLY_TOKEN), timeout=5)
    assert search.status_code == 200
    upsert = requests.post(
        f"{base}/crm/v3/objects/contacts/batch/upsert",
        json={"inputs": [{"id": fresh_email(), "idProperty": "email", "properties": {}}]},
        headers=auth(READ_ONLY_TOKEN),
        timeout=5,
    )
    assert upsert.status_code == 403 and upsert.json()["category"] == "MISSING_SCOPES"


def test_unknown_object_type_and_missing_object(base: str) -> None:
    unknown = requests.get(f"{base}/crm/v3/objects/widgets", headers=auth(), timeout=5)
    assert unknown.status_code == 400 and unknown.json()["category"] == "VALIDATION_ERROR"
    missing = requests.get(f"{base}/crm/v3/objects/contacts/999999999", headers=auth(), timeout=5)
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


# -- list, get ------------------------------------------------------------------------------------------


def test_client_get_all_reads_every_contact_as_typed_models(client: HubSpot, store: ObjectStore) -> None:
    contacts = client.crm.contacts.get_all(properties=["email", "firstname", "hs_email_optout"])
    expected = {row.object_id for row in store.iter_all(SYSTEM, "contacts")}
    assert {contact.id for contact in contacts} == expected
    assert len(contacts) == len(expected)
    first = contacts[0]
    assert first.created_at.tzinfo is not None and first.updated_at >= first.created_at
    assert set(first.properties) >= {"email", "firstname", "hs_email_optout", "hs_object_id"}
    assert all(value is None or isinstance(value, str) for value in first.properties.values())


def test_list_paging_defaults_limits_and_links(base: str, store: ObjectStore) -> None:
    first = requests.get(f"{base}/crm/v3/objects/products", headers=auth(), timeout=5)
    body = first.json()
    assert len(body["results"]) == 10  # HubSpot's default page size
    link = body["paging"]["next"]["link"]
    following = requests.get(link, headers=auth(), timeout=5).json()
    ids = [item["id"] for item in body["results"] + following["results"]]
    assert len(set(ids)) == 20
    assert all(value.isdigit() for value in ids)
    too_big = requests.get(f"{base}/crm/v3/objects/products", params={"limit": 101}, headers=auth(), timeout=5)
    assert too_big.status_code == 400
    for name in ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Daily"):
        assert first.headers[name].isdigit()


def test_object_type_ids_route_like_names(base: str) -> None:
    by_name = requests.get(f"{base}/crm/v3/objects/deals", params={"limit": 2}, headers=auth(), timeout=5).json()
    by_id = requests.get(f"{base}/crm/v3/objects/0-3", params={"limit": 2}, headers=auth(), timeout=5).json()
    assert by_name["results"] == by_id["results"]
    assert by_name["paging"]["next"]["after"] == by_id["paging"]["next"]["after"]


def test_get_by_email_id_property(client: HubSpot, store: ObjectStore) -> None:
    row = next(store.iter_all(SYSTEM, "contacts"))
    email = row.payload["properties"]["email"]
    contact = client.crm.contacts.basic_api.get_by_id(email, id_property="email", properties=["email"])
    assert contact.id == row.object_id


# -- search ---------------------------------------------------------------------------------------------


def _search_request(since: str, after: str | None = None, limit: int = 100) -> PublicObjectSearchRequest:
    return PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "hs_lastmodifieddate"],
        limit=limit,
        after=after,
    )


def test_search_pages_in_ascending_modified_order(client: HubSpot, store: ObjectStore) -> None:
    since = "2025-06-01T00:00:00.000Z"
    expected = store.count(SYSTEM, "contacts", updated_since=since)
    seen, after, stamps = [], None, []
    while True:
        page = client.crm.contacts.search_api.do_search(public_object_search_request=_search_request(since, after, 7))
        assert page.total == expected
        seen += [item.id for item in page.results]
        stamps += [item.properties["hs_lastmodifieddate"] for item in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == expected
    assert stamps == sorted(stamps) and min(stamps) >= since


def test_search_accepts_epoch_millis_and_refuses_past_the_window(
    base: str, client: HubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch = client.crm.contacts.search_api.do_search(public_object_search_request=_search_request("1735689600000"))
    iso = client.crm.contacts.search_api.do_search(public_object_search_request=_search_request("2025-01-01T00:00:00Z"))
    assert epoch.total == iso.total
    monkeypatch.setattr(crm_module, "MAX_RESULTS", 15)  # a small window stands for HubSpot's 10,000
    body = {"limit": 10, "sorts": ["hs_lastmodifieddate"]}
    first = requests.post(f"{base}/crm/v3/objects/contacts/search", json=body, headers=auth(), timeout=5).json()
    second = requests.post(
        f"{base}/crm/v3/objects/contacts/search", json={**body, "after": "10"}, headers=auth(), timeout=5
    ).json()
    assert len(first["results"]) == 10 and len(second["results"]) == 5
    assert second["paging"]["next"]["after"] == "15"
    past = requests.post(
        f"{base}/crm/v3/objects/contacts/search", json={**body, "after": "15"}, headers=auth(), timeout=5
    )
    assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"
    assert "X-HubSpot-RateLimit-Max" not in past.headers


def test_search_filters_on_other_properties(client: HubSpot, store: ObjectStore) -> None:
    complaints = sum(
        1 for row in store.iter_all(SYSTEM, "tickets") if row.payload["properties"]["hs_ticket_category"] == "COMPLAINT"
    )
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_ticket_category", "operator": "EQ", "value": "COMPLAINT"}]}],
        limit=100,
    )
    page = client.crm.tickets.search_api.do_search(public_object_search_request=request)
    assert page.total == complaints == len(page.results)


# -- batches --------------------------------------------------------------------------------------------


def test_batch_upsert_by_email_creates_then_updates_and_bumps_the_modified_date(
    client: HubSpot, store: ObjectStore
) -> None:
    existing = next(store.iter_all(SYSTEM, "contacts"))
    email, new_email = existing.payload["properties"]["email"], fresh_email()
    inputs = [
        SimplePublicObjectBatchInputUpsert(id=email, id_property="email", properties={"canalis_id": "cust-1"}),
        SimplePublicObjectBatchInputUpsert(id=new_email, id_property="email", properties={"firstname": "Ada"}),
    ]
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
    answer = client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=batch)
    by_new = {item.new: item for item in answer.results}
    assert by_new[False].id == existing.object_id and by_new[False].properties["canalis_id"] == "cust-1"
    created = store.get_object(SYSTEM, "contacts", by_new[True].id)
    assert created is not None and created.payload["properties"]["email"] == new_email
    updated = store.get_object(SYSTEM, "contacts", existing.object_id)
    assert updated is not None and updated.updated_at > existing.updated_at
    assert updated.payload["properties"]["hs_lastmodifieddate"] == updated.updated_at
    again = client.crm.contacts.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=batch)
    assert {item.id for item in again.results} == {item.id for item in answer.results}  # idempotent
    assert not any(item.new for item in again.results)


def test_batch_limits_and_validation(base: str) -> None:
    too_many = {"inputs": [{"id": f"a{n}@example.org", "idProperty": "email", "properties": {}} for n in range(101)]}
    response = requests.post(f"{base}/crm/v3/objects/contacts/batch/upsert", json=too_many, headers=auth(), timeout=5)
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"
    unknown = {"inputs": [{"id": fresh_email(), "idProperty": "email", "properties": {"shoe_size": "42"}}]}
    response = requests.post(f"{base}/crm/v3/objects/contacts/batch/upsert", json=unknown, headers=auth(), timeout=5)
    assert response.status_code == 400 and "shoe_size" in response.json()["message"]
    partial = {
        "inputs": [
            {"id": "not-an-email", "idProperty": "email", "properties": {}},
            {"id": fresh_email(), "idProperty": "email", "properties": {}},
        ]
    }
    response = requests.post(f"{base}/crm/v3/objects/contacts/batch/upsert", json=partial, headers=auth(), timeout=5)
    body = response.json()
    assert response.status_code == 207 and body["numErrors"] == 1 and len(body["results"]) == 1


def test_batch_read_reports_missing_ids_with_207(client: HubSpot, store: ObjectStore) -> None:
    row = next(store.iter_all(SYSTEM, "companies"))
    request = BatchReadInputSimplePublicObjectId(inputs=[{"id": row.object_id}, {"id": "4242"}], properties=["name"])
    answer = client.crm.companies.batch_api.read(batch_read_input_simple_public_object_id=request)
    assert [item.id for item in answer.results] == [row.object_id]
    assert answer.num_errors == 1 and answer.errors[0].context["ids"] == ["4242"]


# -- associations ---------------------------------------------------------------------------------------


def test_v4_batch_association_read_matches_the_world(client: HubSpot, store: ObjectStore) -> None:
    tickets = [row.payload for _, row in zip(range(20), store.iter_all(SYSTEM, "tickets"), strict=False)]
    request = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": t["id"]} for t in tickets])
    answer = client.crm.associations.v4.batch_api.get_page("tickets", "contacts", request)
    linked = {item._from.id: [str(to.to_object_id) for to in item.to] for item in answer.results}
    expected = {t["id"]: [a["id"] for a in t["associations"]["contacts"]["results"]] for t in tickets}
    assert linked == expected
    assert answer.results[0].to[0].association_types[0].type_id == 16


def test_reverse_associations_are_derived(client: HubSpot, store: ObjectStore) -> None:
    ticket = next(store.iter_all(SYSTEM, "tickets")).payload
    contact_id = ticket["associations"]["contacts"]["results"][0]["id"]
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact_id, "tickets")
    assert ticket["id"] in {str(item.to_object_id) for item in page.results}


def test_v3_associations_parameter_on_get(client: HubSpot, store: ObjectStore) -> None:
    deal = next(store.iter_all(SYSTEM, "deals")).payload
    fetched = client.crm.deals.basic_api.get_by_id(deal["id"], associations=["line_items", "contacts"])
    expected = {
        name: [item["id"] for item in deal["associations"][name]["results"]] for name in ("line_items", "contacts")
    }
    assert {name: [item.id for item in value.results] for name, value in fetched.associations.items()} == expected


# -- email events ---------------------------------------------------------------------------------------


def test_email_events_feed_pages_through_every_event_once(base: str, store: ObjectStore) -> None:
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 40}
    while True:
        body = requests.get(f"{base}/email/public/v1/events", params=params, headers=auth(), timeout=5).json()
        seen += [event["id"] for event in body["events"]]
        if not body["hasMore"]:
            break
        params = {"limit": 40, "offset": body["offset"]}
    assert len(seen) == len(set(seen)) == store.count(SYSTEM, "email_events")


def test_email_events_time_window(base: str, store: ObjectStore) -> None:
    rows = list(store.iter_all(SYSTEM, "email_events"))
    middle = sorted(row.payload["created"] for row in rows)[len(rows) // 2]
    params = {"startTimestamp": middle, "limit": 1000}
    body = requests.get(f"{base}/email/public/v1/events", params=params, headers=auth(), timeout=5).json()
    assert len(body["events"]) == sum(1 for row in rows if row.payload["created"] >= middle)


# -- subscriptions --------------------------------------------------------------------------------------


def test_unsubscribe_and_resubscribe_through_the_client(client: HubSpot, store: ObjectStore) -> None:
    contact = next(
        row for row in store.iter_all(SYSTEM, "contacts") if row.payload["properties"]["hs_email_optout"] == "false"
    )
    email = contact.payload["properties"]["email"]
    definitions = client.communication_preferences.definition_api.get_page().subscription_definitions
    marketing = next(item for item in definitions if item.purpose == "Marketing")
    status_api = client.communication_preferences.status_api
    before = status_api.get_email_status(email)
    assert {item.id: item.status for item in before.subscription_statuses}[marketing.id] == "SUBSCRIBED"
    change = PublicUpdateSubscriptionStatusRequest(
        email_address=email, subscription_id=marketing.id, legal_basis="CONSENT_WITH_NOTICE"
    )
    assert status_api.unsubscribe(change).status == "NOT_SUBSCRIBED"
    with pytest.raises(PreferencesApiException) as raised:
        status_api.unsubscribe(change)
    assert raised.value.status == 400
    stored = store.get_object(SYSTEM, "contacts", contact.object_id)
    assert stored is not None and stored.payload["properties"][f"hs_email_optout_{marketing.id}"] == "true"
    assert stored.updated_at > contact.updated_at
    assert status_api.subscribe(change).status == "SUBSCRIBED"


def test_globally_opted_out_contacts_cannot_be_resubscribed(base: str, store: ObjectStore) -> None:
    contact = next(
        row for row in store.iter_all(SYSTEM, "contacts") if row.payload["properties"]["hs_email_optout"] == "true"
    )
    body = {"emailAddress": contact.payload["properties"]["email"], "subscriptionId": "7700101"}
    response = requests.post(f"{base}/communication-preferences/v3/subscribe", json=body, headers=auth(), timeout=5)
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


# -- rate limits and faults -----------------------------------------------------------------------------


def test_enforced_rate_limit_answers_429_like_hubspot(base: str, store: ObjectStore) -> None:
    store.kv_put(RATE_LIMIT_KEY, {"max": 1, "interval_ms": 60_000, "enforce": True})
    try:
        answers = [requests.get(f"{base}/crm/v3/objects/products", headers=auth(), timeout=5) for _ in range(3)]
    finally:
        store.kv_delete(RATE_LIMIT_KEY)
    limited = answers[-1]
    body = limited.json()
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["status"] == "error" and body["correlationId"]


def test_injected_faults_use_hubspot_bodies(world_dir: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_app, "load_emulators", lambda: [HubSpotEmulator])
        with SandboxServer(world_dir, faults="hubspot:429=1") as limited:
            response = requests.get(f"{limited.url('hubspot')}/crm/v3/objects/contacts", headers=auth(), timeout=5)
            assert response.status_code == 429 and response.json()["errorType"] == "RATE_LIMIT"
        with SandboxServer(world_dir, faults="hubspot:malformed=1") as broken:
            body = requests.get(f"{broken.url('hubspot')}/crm/v3/objects/contacts", headers=auth(), timeout=5).json()
            assert all(not isinstance(item["properties"], dict) for item in body["results"])
