"""The Brevo emulator: wire format checked against the official client's models, paging, auth, limits and writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from canalis.sandbox.emulators.brevo import API_KEY, BrevoEmulator
from canalis.sandbox.emulators.brevo.limits import FixedWindowLimiter
from canalis.sandbox.emulators.brevo.wire import EVENT_WIRE_NAMES
from canalis.sandbox.objectstore import ObjectStore, format_timestamp
from canalis.sandbox.server import FaultPlan, SandboxApp
from canalis.sandbox.world import WorldSpec, generate_world, store_path

AUTH = {"api-key": API_KEY}
BASE = "/brevo/v3"


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("brevo-world")
    generate_world(WorldSpec(seed=11, customers=120), data_dir)
    return data_dir


@pytest.fixture
def store(world_dir: Path, tmp_path: Path) -> Iterator[ObjectStore]:
    """A private copy of the world per test, so writes do not leak between tests."""
    copy = tmp_path / "world.db"
    shutil.copyfile(store_path(world_dir), copy)
    with ObjectStore(copy) as opened:
        yield opened


@pytest.fixture
def app(store: ObjectStore) -> SandboxApp:
    return SandboxApp(store, emulators=[BrevoEmulator])


@pytest.fixture
def client(app: SandboxApp) -> Client:
    return Client(app)


def get(client: Client, path: str, **params: Any) -> Any:
    response = client.get(f"{BASE}{path}", query_string=params, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def payloads(store: ObjectStore, object_type: str) -> list[dict[str, Any]]:
    return [item.payload for item in store.iter_all("brevo", object_type)]


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"api-key": "xkeysib-wrong"}, {"Authorization": f"Bearer {API_KEY}"}])
def test_missing_or_wrong_key_is_refused_like_brevo(client: Client, headers: dict[str, str]) -> None:
    response = client.get(f"{BASE}/contacts", headers=headers)

    assert response.status_code == 401
    assert response.get_json() == {"code": "unauthorized", "message": "Key not found"}


# -- contract: responses deserialise into the official client's models ------------------------------


def test_responses_validate_against_the_official_client_models(client: Client, store: ObjectStore) -> None:
    models = pytest.importorskip("brevo")
    from brevo.account.types import GetAccountResponse
    from brevo.contacts.types import GetContactInfoResponse, GetListResponse, GetListsResponse
    from brevo.transactional_emails.types import GetEmailEventReportResponse, GetTransacBlockedContactsResponse

    contacts = models.GetContacts.model_validate(get(client, "/contacts", limit=50))
    assert contacts.count == store.count("brevo", "contacts")
    first = contacts.contacts[0]
    GetContactInfoResponse.model_validate(get(client, f"/contacts/{first.id}"))
    GetContactInfoResponse.model_validate(get(client, f"/contacts/{first.email}"))
    lists = GetListsResponse.model_validate(get(client, "/contacts/lists", limit=50))
    assert {item.id for item in lists.lists or []} == {int(p["id"]) for p in payloads(store, "lists")}
    GetListResponse.model_validate(get(client, "/contacts/lists/2"))
    GetTransacBlockedContactsResponse.model_validate(get(client, "/smtp/blockedContacts", limit=100))
    events = GetEmailEventReportResponse.model_validate(
        get(client, "/smtp/statistics/events", startDate="2025-06-01", endDate="2025-08-15", limit=500)
    )
    assert events.events
    GetAccountResponse.model_validate(get(client, "/account"))


def test_error_bodies_validate_against_the_official_error_model(client: Client) -> None:
    pytest.importorskip("brevo")
    from brevo.types import ErrorModel

    for response in (
        client.get(f"{BASE}/contacts/99999999", headers=AUTH),
        client.get(f"{BASE}/contacts", query_string={"limit": 1001}, headers=AUTH),
        client.get(f"{BASE}/contacts"),
    ):
        assert response.status_code in (400, 401, 404)
        ErrorModel.model_validate(response.get_json())


def test_official_client_works_unchanged_against_the_emulator(app: SandboxApp, store: ObjectStore) -> None:
    pytest.importorskip("brevo")
    import httpx
    from brevo import Brevo

    transport = httpx.WSGITransport(app=app)
    sdk = Brevo(
        api_key=API_KEY,
        base_url="http://sandbox/brevo/v3",
        httpx_client=httpx.Client(transport=transport, base_url="http://sandbox"),
        max_retries=0,
    )
    listed = sdk.contacts.get_contacts(limit=5, offset=0, sort="asc")
    assert listed.count == store.count("brevo", "contacts")
    assert [contact.id for contact in listed.contacts] == sorted(contact.id for contact in listed.contacts)

    created = sdk.contacts.create_contact(email="sdk.client@example.org", attributes={"FIRSTNAME": "Ada"}, list_ids=[2])
    assert created is not None and created.id is not None
    sdk.contacts.update_contact(identifier="sdk.client@example.org", attributes={"LASTNAME": "Lovelace"})
    info = sdk.contacts.get_contact_info(identifier=str(created.id))
    assert info.email == "sdk.client@example.org"
    assert info.attributes.model_dump() == {"FIRSTNAME": "Ada", "LASTNAME": "Lovelace"}

    report = sdk.transactional_emails.get_email_event_report(start_date="2025-06-01", end_date="2025-07-01", sort="asc")
    assert all(event.event in set(EVENT_WIRE_NAMES.values()) for event in report.events or [])


# -- paging ----------------------------------------------------------------------------------------


def test_offset_paging_ascending_reads_every_contact_once_in_creation_order(client: Client, store: ObjectStore) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        page = get(client, "/contacts", limit=7, offset=offset, sort="asc")
        seen += [contact["id"] for contact in page["contacts"]]
        offset += len(page["contacts"])
        if len(page["contacts"]) < 7:
            break

    expected = [item.payload["id"] for item in store.iter_all("brevo", "contacts")]
    assert seen == expected
    assert page["count"] == len(expected)


def test_descending_is_the_default_and_mirrors_ascending(client: Client) -> None:
    ascending = [c["id"] for c in get(client, "/contacts", limit=1000, sort="asc")["contacts"]]
    default = [c["id"] for c in get(client, "/contacts", limit=20)["contacts"]]
    second = [c["id"] for c in get(client, "/contacts", limit=20, offset=20)["contacts"]]

    assert default + second == list(reversed(ascending))[:40]


def test_modified_since_keeps_only_contacts_modified_at_or_after(client: Client, store: ObjectStore) -> None:
    moments = sorted(datetime.fromisoformat(p["modifiedAt"]) for p in payloads(store, "contacts"))
    since = moments[len(moments) // 2]
    wire = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z"

    page = get(client, "/contacts", limit=1000, modifiedSince=wire, sort="asc")

    expected = {p["id"] for p in payloads(store, "contacts") if datetime.fromisoformat(p["modifiedAt"]) >= since}
    assert {c["id"] for c in page["contacts"]} == expected
    assert page["count"] == len(expected)


def test_event_report_uses_report_event_names_and_covers_every_event(client: Client, store: ObjectStore) -> None:
    world = {(p["messageId"], EVENT_WIRE_NAMES[p["event"]], p["date"]) for p in payloads(store, "email_events")}
    first = min(date.fromisoformat(moment[:10]) for _, _, moment in world) - timedelta(days=1)
    last = max(date.fromisoformat(moment[:10]) for _, _, moment in world)
    seen: list[tuple[str, str, str]] = []
    while first <= last:
        end = first + timedelta(days=59)
        offset = 0
        while True:
            params = {"startDate": first.isoformat(), "endDate": end.isoformat(), "limit": 100, "offset": offset}
            events = get(client, "/smtp/statistics/events", sort="asc", **params)["events"]
            seen += [(e["messageId"], e["event"], e["date"]) for e in events]
            assert all("campaignId" not in e for e in events)
            moments = [datetime.fromisoformat(e["date"]) for e in events]
            assert moments == sorted(moments)
            offset += len(events)
            if len(events) < 100:
                break
        first = end + timedelta(days=1)

    assert len(seen) == len(set(seen))
    assert set(seen) == world


def test_event_filter_by_type(client: Client, store: ObjectStore) -> None:
    events = get(
        client, "/smtp/statistics/events", startDate="2025-01-01", endDate="2025-03-31", event="clicks", limit=5000
    )["events"]
    expected = [
        p
        for p in payloads(store, "email_events")
        if p["event"] == "clicked" and "2025-01-01" <= p["date"][:10] <= "2025-03-31"
    ]

    assert events and {e["event"] for e in events} == {"clicks"}
    assert len(events) == len(expected)


def test_blocked_contacts_are_the_blacklisted_and_hard_bounced_addresses(client: Client, store: ObjectStore) -> None:
    bounced = {p["email"] for p in payloads(store, "email_events") if p["event"] == "hardBounce"}
    expected = {p["email"] for p in payloads(store, "contacts") if p["emailBlacklisted"] or p["email"] in bounced}

    body = get(client, "/smtp/blockedContacts", limit=100, sort="asc")
    found = {c["email"] for c in body["contacts"]}
    while len(found) < body["count"]:
        found |= {c["email"] for c in get(client, "/smtp/blockedContacts", limit=100, offset=len(found))["contacts"]}

    assert found == expected
    assert body["count"] == len(expected)


# -- limits and validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/contacts", {"limit": 1001}, "out_of_range"),
        ("/contacts", {"sort": "sideways"}, "invalid_parameter"),
        ("/contacts", {"modifiedSince": "yesterday"}, "invalid_parameter"),
        ("/contacts/lists", {"limit": 51}, "out_of_range"),
        ("/smtp/blockedContacts", {"limit": 101}, "out_of_range"),
        ("/smtp/blockedContacts", {"startDate": "2025-01-01"}, "invalid_parameter"),
        ("/smtp/blockedContacts", {"startDate": "2025-01-01", "endDate": "2999-01-01"}, "invalid_parameter"),
        ("/smtp/statistics/events", {"startDate": "2025-01-01", "endDate": "2025-06-01"}, "invalid_parameter"),
        ("/smtp/statistics/events", {"limit": 5001}, "out_of_range"),
        ("/smtp/statistics/events", {"event": "bounced"}, "invalid_parameter"),
    ],
)
def test_out_of_range_parameters_answer_400(client: Client, path: str, params: dict[str, Any], code: str) -> None:
    response = client.get(f"{BASE}{path}", query_string=params, headers=AUTH)

    assert response.status_code == 400
    assert response.get_json()["code"] == code


def test_list_calls_take_at_most_150_contacts(client: Client) -> None:
    emails = [f"person{n}@example.org" for n in range(151)]

    response = client.post(f"{BASE}/contacts/lists/2/contacts/add", json={"emails": emails}, headers=AUTH)

    assert response.status_code == 400
    assert response.get_json()["code"] == "out_of_range"


def test_rate_limit_headers_and_429_when_the_window_is_used_up(app: SandboxApp, client: Client) -> None:
    emulator = app.emulators["brevo"]
    assert isinstance(emulator, BrevoEmulator)
    emulator.limiter = FixedWindowLimiter(limit=3, window_seconds=60)

    answers = [client.get(f"{BASE}/contacts/lists", headers=AUTH) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-sib-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].headers["x-sib-ratelimit-limit"] == "3"
    assert 0 < int(answers[3].headers["x-sib-ratelimit-reset"]) <= 60
    assert answers[3].get_json()["code"] == "too_many_requests"


def test_injected_429_carries_brevo_headers(store: ObjectStore) -> None:
    faulty = Client(SandboxApp(store, emulators=[BrevoEmulator], faults=FaultPlan.from_spec("brevo:429=1")))

    response = faulty.get(f"{BASE}/contacts", headers=AUTH)

    assert response.status_code == 429
    assert response.headers["x-sib-ratelimit-reset"] == "1"
    assert response.headers["x-sib-ratelimit-remaining"] == "0"


def test_malformed_fault_breaks_some_records_only(store: ObjectStore) -> None:
    faulty = Client(SandboxApp(store, emulators=[BrevoEmulator], faults=FaultPlan.from_spec("brevo:malformed=0.3")))

    contacts = faulty.get(f"{BASE}/contacts", query_string={"limit": 1000}, headers=AUTH).get_json()["contacts"]

    broken = [c for c in contacts if c["modifiedAt"] == "not-a-valid-value"]
    assert 0 < len(broken) < len(contacts)


# -- writes ----------------------------------------------------------------------------------------


def test_create_then_duplicate_then_upsert(client: Client, store: ObjectStore) -> None:
    body = {"email": "New.Person@Example.org", "attributes": {"FIRSTNAME": "Nina"}, "listIds": [2]}
    created = client.post(f"{BASE}/contacts", json=body, headers=AUTH)
    duplicate = client.post(f"{BASE}/contacts", json=body, headers=AUTH)
    upsert = client.post(
        f"{BASE}/contacts", json={**body, "attributes": {"LASTNAME": "Roy"}, "updateEnabled": True}, headers=AUTH
    )

    assert created.status_code == 201
    contact_id = created.get_json()["id"]
    assert duplicate.status_code == 400 and duplicate.get_json()["code"] == "duplicate_parameter"
    assert upsert.status_code == 204 and upsert.get_data() == b""
    stored = store.get("brevo", "contacts", str(contact_id))
    assert stored is not None
    assert stored["email"] == "new.person@example.org"
    assert stored["attributes"] == {"FIRSTNAME": "Nina", "LASTNAME": "Roy"}
    assert stored["listIds"] == [2]


def test_update_bumps_modified_at_so_incremental_reads_see_it(client: Client, store: ObjectStore) -> None:
    before = format_timestamp(datetime.now(UTC))
    target = payloads(store, "contacts")[3]

    response = client.put(
        f"{BASE}/contacts/{target['email']}", json={"attributes": {"FIRSTNAME": "Changed"}}, headers=AUTH
    )

    assert response.status_code == 204
    changed = get(client, "/contacts", modifiedSince=before, limit=1000)["contacts"]
    assert [c["id"] for c in changed] == [target["id"]]
    assert changed[0]["attributes"]["FIRSTNAME"] == "Changed"


def test_update_of_unknown_contact_is_404(client: Client) -> None:
    response = client.put(f"{BASE}/contacts/nobody@example.org", json={"emailBlacklisted": True}, headers=AUTH)

    assert response.status_code == 404
    assert response.get_json() == {"code": "document_not_found", "message": "Contact does not exist"}


def test_unknown_attribute_is_refused(client: Client, store: ObjectStore) -> None:
    target = payloads(store, "contacts")[0]

    response = client.put(f"{BASE}/contacts/{target['id']}", json={"attributes": {"SHOE_SIZE": 42}}, headers=AUTH)

    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_parameter"


def test_batch_update_answers_204_or_207_with_the_failures(client: Client, store: ObjectStore) -> None:
    target = next(p for p in payloads(store, "contacts") if not p["emailBlacklisted"])
    ok = client.post(
        f"{BASE}/contacts/batch", json={"contacts": [{"id": target["id"], "emailBlacklisted": True}]}, headers=AUTH
    )
    partial = client.post(
        f"{BASE}/contacts/batch",
        json={
            "contacts": [{"email": target["email"], "smsBlacklisted": True}, {"id": 987654, "emailBlacklisted": True}]
        },
        headers=AUTH,
    )

    assert ok.status_code == 204
    assert partial.status_code == 207
    assert partial.get_json() == {"successIds": [target["id"]], "failureIds": [987654]}
    blocked = get(client, "/smtp/blockedContacts", limit=100, sort="desc")["contacts"]
    assert blocked[0]["email"] == target["email"]
    assert blocked[0]["reason"]["code"] == "unsubscribedViaApi"


def test_unblacklisting_takes_the_address_off_the_blocklist(client: Client, store: ObjectStore) -> None:
    target = next(p for p in payloads(store, "contacts") if p["emailBlacklisted"])
    count = get(client, "/smtp/blockedContacts", limit=1)["count"]

    response = client.put(f"{BASE}/contacts/{target['id']}", json={"emailBlacklisted": False}, headers=AUTH)

    assert response.status_code == 204
    assert get(client, "/smtp/blockedContacts", limit=1)["count"] == count - 1
    assert get(client, f"/contacts/{target['id']}")["emailBlacklisted"] is False


def test_list_membership_add_and_remove(client: Client, store: ObjectStore) -> None:
    members = [p for p in payloads(store, "contacts") if 4 in p["listIds"]][:2]
    outsider = next(p for p in payloads(store, "contacts") if 5 not in p["listIds"])
    before = get(client, "/contacts/lists/5")["uniqueSubscribers"]

    removed = client.post(
        f"{BASE}/contacts/lists/4/contacts/remove",
        json={"emails": [m["email"] for m in members] + ["ghost@example.org"]},
        headers=AUTH,
    )
    added = client.post(f"{BASE}/contacts/lists/5/contacts/add", json={"ids": [outsider["id"]]}, headers=AUTH)

    assert removed.status_code == 201
    assert removed.get_json() == {
        "contacts": {"success": [m["email"] for m in members], "failure": ["ghost@example.org"]}
    }
    assert added.status_code == 201 and added.get_json()["contacts"]["success"] == [outsider["id"]]
    assert all(4 not in get(client, f"/contacts/{m['id']}")["listIds"] for m in members)
    assert get(client, "/contacts/lists/5")["uniqueSubscribers"] == before + 1


def test_import_creates_and_updates_then_reports_the_process(client: Client, store: ObjectStore) -> None:
    existing = payloads(store, "contacts")[0]
    count = store.count("brevo", "contacts")
    body = {
        "jsonBody": [
            {"email": existing["email"], "attributes": {"LASTNAME": "Imported"}},
            {"email": "imported@example.org", "attributes": {"FIRSTNAME": "Ivo"}},
        ],
        "listIds": [3],
    }

    response = client.post(f"{BASE}/contacts/import", json=body, headers=AUTH)

    assert response.status_code == 202
    process = get(client, f"/processes/{response.get_json()['processId']}")
    assert process["status"] == "completed"
    assert store.count("brevo", "contacts") == count + 1
    assert get(client, f"/contacts/{existing['id']}")["attributes"]["LASTNAME"] == "Imported"


def test_repeating_an_update_is_harmless(client: Client, store: ObjectStore) -> None:
    """Brevo takes no idempotency key; its updates set values, so a retried call leaves the same state."""
    target = payloads(store, "contacts")[5]
    change = {"attributes": {"FIRSTNAME": "Twice"}, "listIds": [5], "emailBlacklisted": True}
    count = store.count("brevo", "contacts")

    first = client.put(f"{BASE}/contacts/{target['id']}", json=change, headers=AUTH)
    state_after_first = {k: v for k, v in get(client, f"/contacts/{target['id']}").items() if k != "modifiedAt"}
    second = client.put(f"{BASE}/contacts/{target['id']}", json=change, headers=AUTH)
    state_after_second = {k: v for k, v in get(client, f"/contacts/{target['id']}").items() if k != "modifiedAt"}

    assert first.status_code == second.status_code == 204
    assert state_after_first == state_after_second
    assert store.count("brevo", "contacts") == count
