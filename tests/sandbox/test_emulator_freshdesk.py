"""The Freshdesk emulator: basic auth with the API key, page/per_page paging linked by the Link header, the 30-day
default window of tickets, the update filters and orders, and Freshdesk's validation errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from werkzeug.test import Client

from canalis.sandbox.emulators.freshdesk import API_KEY, FreshdeskEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxApp
from canalis.sandbox.world import WorldSpec, generate_world, store_path

BASE = "/freshdesk/api/v2"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("freshdesk-world")
    generate_world(WorldSpec(seed=3, customers=150), data_dir)
    with ObjectStore(store_path(data_dir)) as opened:
        yield opened


@pytest.fixture
def client(store: ObjectStore) -> Client:
    return Client(SandboxApp(store, emulators=[FreshdeskEmulator]))


def test_only_the_api_key_as_basic_user_name_is_let_in(client: Client) -> None:
    assert client.get(f"{BASE}/agents/me", headers=AUTH).status_code == 200
    wrong = {"Authorization": "Basic " + base64.b64encode(b"nope:X").decode()}
    refused = client.get(f"{BASE}/contacts", headers=wrong)
    assert refused.status_code == 401 and refused.get_json()["code"] == "invalid_credentials"


def test_pages_are_linked_until_the_last_and_cover_every_contact(client: Client, store: ObjectStore) -> None:
    seen, url, pages = [], f"{BASE}/contacts?per_page=10", 0
    while url:
        response = client.get(url, headers=AUTH)
        seen += [contact["id"] for contact in response.get_json()]
        link = response.headers.get("Link")
        url = link.split(">")[0].lstrip("<").replace("http://localhost", "") if link else ""
        pages += 1
    assert pages > 1 and sorted(map(str, seen)) == sorted(
        item.object_id for item in store.iter_all("freshdesk", "contacts")
    )
    too_big = client.get(f"{BASE}/contacts?per_page=101", headers=AUTH)
    assert too_big.status_code == 400 and too_big.get_json()["errors"][0]["field"] == "per_page"


def test_tickets_without_a_filter_are_the_last_30_days_and_updated_since_orders_them(client: Client) -> None:
    recent = client.get(f"{BASE}/tickets?per_page=100", headers=AUTH).get_json()
    everything = client.get(
        f"{BASE}/tickets?per_page=100&updated_since=2000-01-01T00:00:00Z&order_by=updated_at&order_type=asc",
        headers=AUTH,
    ).get_json()
    assert len(recent) < len(everything)
    stamps = [ticket["updated_at"] for ticket in everything]
    assert stamps == sorted(stamps)
    since = stamps[len(stamps) // 2]
    later = client.get(f"{BASE}/tickets?per_page=100&updated_since={since}", headers=AUTH).get_json()
    assert later and all(ticket["updated_at"] >= since for ticket in later)
    assert client.get(f"{BASE}/tickets?page=301", headers=AUTH).status_code == 400
    assert client.get(f"{BASE}/tickets?order_by=priority", headers=AUTH).status_code == 400


def test_satisfaction_ratings_point_to_tickets_of_their_contact(client: Client, store: ObjectStore) -> None:
    ratings = client.get(
        f"{BASE}/surveys/satisfaction_ratings?per_page=100&created_since=2000-01-01", headers=AUTH
    ).get_json()
    assert ratings
    for rating in ratings:
        ticket = store.get("freshdesk", "tickets", str(rating["ticket_id"]))
        assert ticket is not None and ticket["requester_id"] == rating["user_id"] and ticket["status"] in (4, 5)
