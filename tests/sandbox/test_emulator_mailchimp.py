"""The Mailchimp emulator: the key's data center, count/offset paging with total_items, since_last_changed,
fields/exclude_fields, members by the MD5 of their address, batch updates (500 at most, per-member errors,
compliance state), tags, reports per campaign, problem+json errors and the limit of simultaneous connections."""

from __future__ import annotations

import base64
import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from canalis.sandbox.emulators.mailchimp import API_KEY, DATA_CENTER, MailchimpEmulator
from canalis.sandbox.emulators.mailchimp import emulator as emulator_module
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxApp
from canalis.sandbox.world import WorldSpec, generate_world, store_path

LIST = "a1c9e4d2f7"
BASE = f"/mailchimp/{DATA_CENTER}/3.0"


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anystring:{key}".encode()).decode()}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mailchimp-world")
    generate_world(WorldSpec(seed=13, customers=150), folder)
    return folder


@pytest.fixture
def store(world_dir: Path, tmp_path: Path) -> Iterator[ObjectStore]:
    shutil.copyfile(store_path(world_dir), tmp_path / "world.db")
    with ObjectStore(tmp_path / "world.db") as opened:
        yield opened


@pytest.fixture
def client(store: ObjectStore) -> Client:
    return Client(SandboxApp(store, emulators=[MailchimpEmulator]))


def get(client: Client, path: str, **params: Any) -> Any:
    response = client.get(BASE + path, query_string=params, headers=auth())
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_key_is_the_basic_password_and_works_on_its_data_center_only(client: Client) -> None:
    assert get(client, "/ping") == {"health_status": "Everything's Chimpy!"}
    wrong_center = client.get("/mailchimp/us6/3.0/ping", headers=auth())
    assert wrong_center.status_code == 401 and "wrong datacenter" in wrong_center.get_json()["detail"]
    assert wrong_center.content_type.startswith("application/problem+json")
    assert client.get(BASE + "/ping", headers=auth("other-us21")).status_code == 401


def test_members_page_by_count_and_offset_with_a_total_and_filter_on_last_change(
    client: Client, store: ObjectStore
) -> None:
    everyone = [item.payload for item in store.iter_all("mailchimp", "members")]
    seen, offset = [], 0
    while True:
        page = get(client, f"/lists/{LIST}/members", count=20, offset=offset, exclude_fields="_links,members._links")
        assert page["total_items"] == len(everyone) and "_links" not in page
        seen += page["members"]
        if len(page["members"]) < 20:
            break
        offset += 20
    assert sorted(m["id"] for m in seen) == sorted(m["id"] for m in everyone)
    assert all("_links" not in member for member in seen)
    since = sorted(m["last_changed"] for m in everyone)[len(everyone) // 2]
    later = get(client, f"/lists/{LIST}/members", count=1000, since_last_changed=since)["members"]
    assert later and all(m["last_changed"] >= since for m in later) and len(later) < len(everyone)
    narrow = get(client, f"/lists/{LIST}/members", count=3, fields="members.id,members.email_address,total_items")
    assert set(narrow) == {"members", "total_items"} and set(narrow["members"][0]) == {"id", "email_address"}
    assert client.get(BASE + f"/lists/{LIST}/members?count=1001", headers=auth()).status_code == 400


def test_a_member_is_its_lower_cased_address_hashed(client: Client, store: ObjectStore) -> None:
    member = next(store.iter_all("mailchimp", "members")).payload
    address = member["email_address"]
    assert member["id"] == hashlib.md5(address.lower().encode()).hexdigest()
    assert get(client, f"/lists/{LIST}/members/{member['id']}")["email_address"] == address
    assert get(client, f"/lists/{LIST}/members/{address.upper()}")["id"] == member["id"]
    missing = client.get(BASE + f"/lists/{LIST}/members/{'0' * 32}", headers=auth())
    assert missing.status_code == 404 and missing.get_json()["title"] == "Resource Not Found"


def test_batch_updates_report_each_refused_member_and_keep_to_500(client: Client, store: ObjectStore) -> None:
    members = [item.payload for item in store.iter_all("mailchimp", "members")]
    subscribed = next(m for m in members if m["status"] == "subscribed")
    self_unsubscribed = next(
        m for m in members if m["status"] == "unsubscribed" and "admin" not in str(m["unsubscribe_reason"])
    )
    body = {
        "members": [
            {"email_address": subscribed["email_address"], "status": "unsubscribed"},
            {"email_address": self_unsubscribed["email_address"], "status": "subscribed"},
            {"email_address": "not-an-address", "status": "subscribed"},
        ],
        "update_existing": True,
    }
    answer = client.post(BASE + f"/lists/{LIST}", json=body, headers=auth()).get_json()
    assert answer["total_updated"] == 1 and answer["error_count"] == 2
    assert {error["error_code"] for error in answer["errors"]} == {"MEMBER_IN_COMPLIANCE_STATE", "ERROR_GENERIC"}
    changed = get(client, f"/lists/{LIST}/members/{subscribed['id']}")
    assert changed["status"] == "unsubscribed" and changed["last_changed"] > subscribed["last_changed"]
    assert changed["marketing_permissions"][0]["enabled"] is False
    # an admin unsubscribe can be undone through the API
    again = {
        "members": [{"email_address": subscribed["email_address"], "status": "subscribed"}],
        "update_existing": True,
    }
    assert client.post(BASE + f"/lists/{LIST}", json=again, headers=auth()).get_json()["total_updated"] == 1
    too_many = {"members": [{"email_address": f"p{n}@example.org", "status": "subscribed"} for n in range(501)]}
    refused = client.post(BASE + f"/lists/{LIST}", json=too_many, headers=auth())
    assert refused.status_code == 400 and "500 members" in refused.get_json()["detail"]


def test_tags_and_campaign_reports(client: Client, store: ObjectStore) -> None:
    member = next(store.iter_all("mailchimp", "members")).payload
    tags = {"tags": [{"name": "Lapsed", "status": "active"}], "is_syncing": False}
    assert (
        client.post(BASE + f"/lists/{LIST}/members/{member['id']}/tags", json=tags, headers=auth()).status_code == 204
    )
    assert "Lapsed" in [tag["name"] for tag in get(client, f"/lists/{LIST}/members/{member['id']}")["tags"]]
    campaigns = get(client, "/campaigns", status="sent", list_id=LIST, count=100)["campaigns"]
    activity = [item.payload for item in store.iter_all("mailchimp", "email_activity")]
    served = sum(
        get(client, f"/reports/{campaign['id']}/email-activity", count=1000)["total_items"] for campaign in campaigns
    )
    assert campaigns and served == len(activity)
    first = campaigns[0]["id"]
    late = max(
        action["timestamp"] for record in activity for action in record["activity"] if record["campaign_id"] == first
    )
    since = get(client, f"/reports/{first}/email-activity", count=1000, since=late)["emails"]
    assert all(not email["activity"] for email in since)  # nothing after the last action


def test_an_eleventh_simultaneous_connection_is_throttled(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = threading.Semaphore(0), threading.Event()
    original = MailchimpEmulator.ping

    def slow_ping(self: MailchimpEmulator, request: Any, dc: str) -> Any:
        entered.release()
        release.wait(5)
        return original(self, request, dc)

    monkeypatch.setattr(MailchimpEmulator, "ping", slow_ping)
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(client.get(BASE + "/ping", headers=auth()).status_code))
        for _ in range(emulator_module.MAX_CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert entered.acquire(timeout=5)
    throttled = client.get(BASE + "/ping", headers=auth())
    release.set()
    for thread in threads:
        thread.join(5)
    assert throttled.status_code == 429 and throttled.get_json()["title"] == "Too Many Requests"
    assert statuses == [200] * emulator_module.MAX_CONNECTIONS
