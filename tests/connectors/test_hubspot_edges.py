"""HubSpot: CRM objects fetched again by id for quarantine replay, and an unavailable optional endpoint
(subscription definitions) degrading with a warning instead of failing the contacts stream."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from canalis.connectors.hubspot import HubSpotConnector
from canalis.connectors.hubspot.settings import HubSpotSettings
from canalis.sdk.settings import load_settings

BASE = "https://api.hubapi.test"
TOKEN = "pat-eu1-0123456789-secret-token"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEFINITIONS = {"subscriptionDefinitions": [{"id": "55", "purpose": "Marketing", "isActive": True}]}


def contact(object_id: int, **props: Any) -> dict[str, Any]:
    return {
        "id": str(object_id),
        "properties": {"email": f"c{object_id}@example.org", "hs_email_optout": "false", **props},
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2026-02-01T10:00:00.000Z",
        "archived": False,
    }


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> HubSpotConnector:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", TOKEN)
    settings = load_settings(HubSpotSettings, {"base_url": BASE, "requests_per_second": 0}, connection="crm")
    return HubSpotConnector(settings, connection="crm", sleep=lambda _: None, clock=NOW.timestamp)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_crm_objects_are_fetched_by_id_shaped_as_a_read_shapes_them(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"results": [contact(7, hs_email_optout_55="true")]})

    assert connector.fetches_by_id("contacts") and not connector.fetches_by_id("email_events")
    found = list(connector.read_records_by_id("contacts", ["7", "8"]))

    sent = json.loads(rsps.calls[1].request.body)
    assert sent["inputs"] == [{"id": "7"}, {"id": "8"}]
    assert "hs_email_optout_55" in sent["properties"] and "canalis_id" in sent["properties"]
    assert [record["id"] for record in found] == ["7"], "an id HubSpot no longer knows is left out"
    assert found[0]["_marketing_email_optout"] == "true"


def test_deals_fetched_by_id_carry_their_associations_and_line_items(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    deal = {"id": "9", "properties": {"amount": "10"}, "createdAt": "x", "updatedAt": "y"}
    rsps.post(f"{BASE}/crm/v3/objects/deals/batch/read", json={"results": [deal]})
    rsps.post(
        f"{BASE}/crm/v4/associations/deals/contacts/batch/read",
        json={"results": [{"from": {"id": "9"}, "to": [{"toObjectId": 4}]}]},
    )
    rsps.post(
        f"{BASE}/crm/v4/associations/deals/line_items/batch/read",
        json={"results": [{"from": {"id": "9"}, "to": [{"toObjectId": 31}]}]},
    )
    rsps.post(f"{BASE}/crm/v3/objects/line_items/batch/read", json={"results": [{"id": "31", "properties": {}}]})

    (found,) = connector.read_records_by_id("deals", ["9"])
    assert found["associations"]["contacts"]["results"][0]["id"] == "4"
    assert [item["id"] for item in found["line_items"]] == ["31"]


@pytest.mark.parametrize("status", [403, 404])
def test_contacts_are_read_without_the_optout_when_subscription_definitions_are_unavailable(
    connector: HubSpotConnector, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json={"message": "nope"}, status=status)
    rsps.get(f"{BASE}/crm/v3/objects/contacts", json={"results": [contact(1)]})

    with caplog.at_level(logging.WARNING):
        pages = list(connector.read("contacts"))

    assert [record["id"] for page in pages for record in page.records] == ["1"]
    assert f"subscription definitions unavailable (HTTP {status})" in caplog.text
    assert TOKEN not in caplog.text
    requested = rsps.calls[1].request.params["properties"].split(",")
    assert not any(name.startswith("hs_email_optout_") for name in requested)


def test_a_server_error_on_subscription_definitions_still_fails_the_read(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    from canalis.sdk.errors import ApiError

    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json={"message": "bad"}, status=400)
    with pytest.raises(ApiError, match="subscription definitions failed with HTTP 400"):
        list(connector.read("contacts"))
