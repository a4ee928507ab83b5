"""Mailchimp's own edge cases, against the Mailchimp emulator of the Canalis sandbox: the key's data center, the
whole audience read and read again from its state, unsubscribes written in batches and read back, the compliance
state Mailchimp holds to, tags, flattened campaign activity, and throttling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from canalis_mailchimp import MailchimpConnector

from canalis.sdk import ConfigError, StreamState, load_settings
from canalis.testing import Sandbox, SandboxWorld

LIST_ID = "a1c9e4d2f7"  # the sandbox world's audience


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SandboxWorld:
    return SandboxWorld.generate(tmp_path_factory.mktemp("mailchimp-world"), customers=160, seed=21)


@pytest.fixture
def server(world: SandboxWorld) -> Iterator[Sandbox]:
    """The Mailchimp emulator over a fresh copy of the world (writes stay in the test)."""
    with world.serve("mailchimp") as sandbox:
        yield sandbox


def connect(server: Sandbox, *, key: str | None = None, **values: Any) -> MailchimpConnector:
    settings = load_settings(
        MailchimpConnector.settings_model,
        {"base_url": server.url("mailchimp") + "/{dc}/3.0", "list_id": LIST_ID, "page_size": 25, **values},
        connection="marketing_mailchimp",
        environ={"CANALIS_MAILCHIMP_API_KEY": key or server.credentials("mailchimp")["api_key"]},
    )
    return MailchimpConnector(settings, connection="marketing_mailchimp", sleep=lambda seconds: None)


def read(connector: MailchimpConnector, stream: str, state: StreamState | None = None) -> tuple[list[dict], Any]:
    pages = list(connector.read(stream, state))
    assert not [item for page in pages for item in page.rejected]
    return [record for page in pages for record in page.records], pages[-1].state


def held(server: Sandbox, object_type: str) -> list[dict[str, Any]]:
    return server.objects("mailchimp", object_type)


def test_the_key_names_its_data_center_and_a_key_of_another_is_refused_by_name(server: Sandbox) -> None:
    with connect(server) as connector:
        assert connector.check().ok
        center = server.credentials("mailchimp")["data_center"]
        assert connector.api_url().endswith(f"/{center}/3.0")
    other = server.credentials("mailchimp")["api_key"].rsplit("-", 1)[0] + "-us6"
    with pytest.raises(ConfigError) as refused, connect(server, key=other) as connector:
        connector.check()
    assert refused.value.setting == "api_key" and "wrong datacenter" in str(refused.value)
    assert other not in str(refused.value)
    with pytest.raises(ConfigError, match=r"api_key: must end with -<data center>"):
        connect(server, key="no-data-center-here!")


def test_the_whole_audience_is_read_with_tags_and_permissions_then_only_what_changed(server: Sandbox) -> None:
    with connect(server) as connector:
        members, state = read(connector, "members")
        expected = {member["id"]: member for member in held(server, "members")}
        assert len(members) == len(expected) > 25  # several pages
        assert {member["id"] for member in members} == set(expected)
        assert any(member["tags"] for member in members) and all("_links" not in member for member in members)
        assert all(member["marketing_permissions"][0]["text"] == "Email" for member in members)
        again, _ = read(connector, "members", state)
        assert len(again) < len(members)  # the look-back window only


def test_unsubscribes_are_written_in_batches_and_read_back_incrementally(server: Sandbox) -> None:
    with connect(server, batch_size=3, lookback_minutes=0) as connector:
        members, state = read(connector, "members")
        subscribed = [member for member in members if member["status"] == "subscribed"][:7]
        records = [{"key": f"k{n}", "email": m["email_address"], "status": "denied"} for n, m in enumerate(subscribed)]
        results = list(connector.write("consents", records))
        assert [result.status for result in results] == ["applied"] * 7
        assert connector.http.stats.requests == 1 + len(members) // 25 + 3  # the reads, then 3 batch calls
        changed, _ = read(connector, "members", state)
    assert {m["email_address"] for m in changed} >= {m["email_address"] for m in subscribed}
    assert all(m["status"] == "unsubscribed" for m in changed if m["email_address"] in {r["email"] for r in records})


def test_a_consent_reaches_the_member_read_even_when_its_canonical_email_differs(server: Sandbox) -> None:
    before = held(server, "members")
    member = next(m for m in before if m["status"] == "subscribed")
    canonical = "Corrected." + member["email_address"].upper()  # what normalisation might have made of it
    record = {"key": "k", "source_id": member["id"], "email": canonical, "status": "denied"}
    with connect(server) as connector:
        (result,) = list(connector.write("consents", [record]))
        after = connector.http.get_json(f"/lists/{LIST_ID}/members/{member['id']}")
    assert result.status == "applied" and after["status"] == "unsubscribed"
    assert len(held(server, "members")) == len(before)  # no member added for the canonical address


def test_a_member_who_unsubscribed_themselves_cannot_be_subscribed_again(server: Sandbox) -> None:
    members = held(server, "members")
    own = next(m for m in members if m["status"] == "unsubscribed" and "admin" not in str(m["unsubscribe_reason"]))
    cleaned = [m for m in members if m["status"] == "cleaned"][:1]
    records = [{"key": "own", "email": own["email_address"], "status": "granted"}]
    records += [{"key": "bounced", "email": m["email_address"], "status": "granted"} for m in cleaned]
    records.append({"key": "sms", "email": own["email_address"], "status": "denied", "channel": "sms"})
    with connect(server) as connector:
        results = {result.record_key: result for result in connector.write("consents", records)}
    assert results["own"].status == "failed" and "compliance state" in (results["own"].error or "")
    assert not results["own"].retryable
    assert all(results[key].status == "failed" for key in results if key == "bounced")  # cleaned addresses too
    assert results["sms"].status == "skipped"


def test_tags_are_set_and_removed_on_the_member(server: Sandbox) -> None:
    member = held(server, "members")[0]
    with connect(server) as connector:
        first = list(
            connector.write("tags", [{"key": "t", "email": member["email_address"], "tags": {"Lapsed": True}}])
        )
        assert first[0].status == "applied"
        tags = connector.http.get_json(f"/lists/{LIST_ID}/members/{member['id']}")["tags"]
        assert "Lapsed" in [tag["name"] for tag in tags]
        list(connector.write("tags", [{"key": "t", "email": member["email_address"], "tags": {"Lapsed": False}}]))
        tags = connector.http.get_json(f"/lists/{LIST_ID}/members/{member['id']}")["tags"]
        assert "Lapsed" not in [tag["name"] for tag in tags]
        unknown = list(connector.write("tags", [{"key": "u", "email": "nobody@example.org", "tags": {"X": True}}]))
    assert unknown[0].status == "failed" and "HTTP 404" in (unknown[0].error or "")


def test_campaign_activity_is_one_record_per_action_of_every_sent_campaign(server: Sandbox) -> None:
    with connect(server) as connector:
        activity, state = read(connector, "email_activity")
        unsubscribes, _ = read(connector, "unsubscribes")
        campaigns, _ = read(connector, "campaigns")
    actions = sum(len(record["activity"]) for record in held(server, "email_activity"))
    assert len(activity) == actions and len({record["_key"] for record in activity}) == actions
    assert {record["action"] for record in activity} <= {"open", "click", "bounce"}
    assert len(unsubscribes) == len(held(server, "unsubscribes")) and len(campaigns) == len(held(server, "campaigns"))
    assert state.cursor is not None


def test_throttling_and_server_errors_lose_nothing(world: SandboxWorld) -> None:
    with world.serve("mailchimp", faults="mailchimp:429=0.2,503=0.1") as faulty, connect(faulty) as connector:
        expected = {member["id"] for member in held(faulty, "members")}
        members, _ = read(connector, "members")
        assert connector.http.stats.retries > 0
    assert {member["id"] for member in members} == expected
