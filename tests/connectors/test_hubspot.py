"""The HubSpot connector against mocked HubSpot answers: settings, paging, retries, quarantine, writes, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from canalis.connectors.hubspot import CONNECTOR, HubSpotConnector
from canalis.connectors.hubspot import client as client_module
from canalis.connectors.hubspot.settings import HubSpotSettings
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.settings import load_settings
from canalis.sdk.state import StreamState

BASE = "https://api.hubapi.test"
TOKEN = "pat-eu1-0123456789-secret-token"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEFINITIONS = {
    "subscriptionDefinitions": [
        {"id": "55", "name": "Marketing Information", "purpose": "Marketing", "isActive": True},
        {"id": "56", "name": "Service", "purpose": "Customer Service", "isActive": True},
    ]
}


def contact(object_id: int, updated: str = "2026-02-01T10:00:00.000Z", **props: Any) -> dict[str, Any]:
    return {
        "id": str(object_id),
        "properties": {"email": f"c{object_id}@example.org", "hs_email_optout": "false", **props},
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": updated,
        "archived": False,
    }


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> HubSpotConnector:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", TOKEN)
    settings = load_settings(HubSpotSettings, {"base_url": BASE, "requests_per_second": 0}, connection="crm")
    return HubSpotConnector(settings, connection="crm", sleep=sleeps.append, clock=NOW.timestamp)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def all_pages(connector: HubSpotConnector, stream: str, state: StreamState | None = None) -> list[Any]:
    return list(connector.read(stream, state))


# -- settings and secrets ----------------------------------------------------------------------------


def test_registry_name_and_declared_streams() -> None:
    assert CONNECTOR is HubSpotConnector and CONNECTOR.kind == "crm"
    names = {stream.name: stream for stream in CONNECTOR.streams}
    assert set(names) == {
        "contacts",
        "companies",
        "tickets",
        "deals",
        "products",
        "email_events",
        "customers",
        "consents",
    }
    assert {name for name, stream in names.items() if stream.writable} == {"customers", "consents"}


def test_missing_token_names_the_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANALIS_HUBSPOT_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError) as raised:
        HubSpotConnector.from_config({}, connection="crm")
    assert raised.value.setting == "access_token" and "CANALIS_HUBSPOT_ACCESS_TOKEN" in str(raised.value)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"base_url": "ftp://example.org"}, "base_url"),
        ({"page_size": 500}, "page_size"),
        ({"external_id_property": "Canalis Id"}, "external_id_property"),
        ({"marketing_subscription_id": "marketing"}, "marketing_subscription_id"),
        ({"access_token": TOKEN}, "access_token"),  # secrets only come from the environment
    ],
)
def test_bad_settings_fail_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, Any], setting: str
) -> None:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as raised:
        HubSpotConnector.from_config(values, connection="crm")
    assert raised.value.setting == setting
    assert TOKEN not in str(raised.value)


def test_wrong_token_fails_check_naming_the_setting_without_the_secret(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    body = {
        "status": "error",
        "message": f"token {TOKEN} is invalid",
        "correlationId": "x",
        "category": "INVALID_AUTHENTICATION",
    }
    rsps.get(f"{BASE}/crm/v3/objects/contacts", json=body, status=401)
    with pytest.raises(ConfigError) as raised:
        connector.check()
    assert raised.value.setting == "access_token" and "CANALIS_HUBSPOT_ACCESS_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_check_sends_the_bearer_token_and_checks_a_configured_subscription(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    monkeypatch.setenv("CANALIS_HUBSPOT_ACCESS_TOKEN", TOKEN)
    connector = HubSpotConnector.from_config({"base_url": BASE, "marketing_subscription_id": "99"}, connection="crm")
    rsps.get(
        f"{BASE}/crm/v3/objects/contacts",
        json={"results": []},
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    with pytest.raises(ConfigError) as raised:
        connector.check()
    assert raised.value.setting == "marketing_subscription_id"


def test_secrets_stay_out_of_repr_logs_and_errors(
    connector: HubSpotConnector, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    assert TOKEN not in repr(connector) and TOKEN not in repr(connector.settings)
    assert TOKEN not in repr(connector.client)
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.get(f"{BASE}/crm/v3/objects/contacts", body=f"bad token {TOKEN}", status=403)
    with caplog.at_level(logging.DEBUG), pytest.raises(ApiError) as raised:
        all_pages(connector, "contacts")
    assert raised.value.status == 403
    assert TOKEN not in str(raised.value) and TOKEN not in caplog.text


# -- reading -----------------------------------------------------------------------------------------


def test_full_read_pages_through_the_list_api_and_ends_with_the_start_time(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    first = {"results": [contact(1), contact(2, hs_email_optout_55="true")], "paging": {"next": {"after": "2"}}}
    rsps.get(
        f"{BASE}/crm/v3/objects/contacts",
        json=first,
        match=[matchers.query_param_matcher({"limit": "100", "archived": "false"}, strict_match=False)],
    )
    rsps.get(
        f"{BASE}/crm/v3/objects/contacts",
        json={"results": [contact(3)]},
        match=[matchers.query_param_matcher({"after": "2"}, strict_match=False)],
    )
    pages = all_pages(connector, "contacts")
    assert [r["id"] for page in pages for r in page.records] == ["1", "2", "3"]
    assert pages[0].state.extra["list_after"] == "2" and pages[0].state.cursor is None
    assert pages[-1].state.cursor_datetime() == NOW and pages[-1].state.extra == {}
    optouts = [r["_marketing_email_optout"] for page in pages for r in page.records]
    assert optouts == ["false", "true", "false"]
    requested = rsps.calls[1].request.params["properties"].split(",")
    assert "canalis_id" in requested and "hs_email_optout_55" in requested


def test_interrupted_full_read_resumes_from_the_stored_page(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.get(
        f"{BASE}/crm/v3/objects/contacts",
        json={"results": [contact(3)]},
        match=[matchers.query_param_matcher({"after": "2"}, strict_match=False)],
    )
    state = StreamState(extra={"list_after": "2", "list_started": "2026-02-20T00:00:00+00:00"})
    pages = all_pages(connector, "contacts", state)
    assert [r["id"] for page in pages for r in page.records] == ["3"]
    assert pages[-1].state.cursor == "2026-02-20T00:00:00+00:00"


def _search_body(request: Any) -> dict[str, Any]:
    return json.loads(request.body)


def test_incremental_read_searches_from_the_cursor_less_the_lookback(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    page = {"total": 2, "results": [contact(7, "2026-02-10T10:00:00.000Z"), contact(8, "2026-02-11T10:00:00.000Z")]}
    rsps.post(f"{BASE}/crm/v3/objects/contacts/search", json=page)
    archived = [
        {**contact(3, "2026-02-10T11:00:00.000Z"), "archived": True, "archivedAt": "2026-02-10T11:00:00.000Z"},
        {**contact(2, "2026-01-05T11:00:00.000Z"), "archived": True, "archivedAt": "2026-01-05T11:00:00.000Z"},
    ]
    rsps.get(f"{BASE}/crm/v3/objects/contacts", json={"results": archived})
    state = StreamState(cursor="2026-02-10T10:05:00+00:00")
    pages = all_pages(connector, "contacts", state)
    assert _archived_query(rsps.calls[-1].request)
    # objects archived since the cursor (less the look-back) come as deletions; older ones were seen before
    assert [(d.record_id, d.kind) for page in pages for d in page.deleted] == [("3", "archived")]
    body = _search_body(rsps.calls[1].request)
    assert body["filterGroups"][0]["filters"] == [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "2026-02-10T09:55:00.000Z"}
    ]
    assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert pages[-1].state.cursor_datetime() == datetime(2026, 2, 11, 10, 0, tzinfo=UTC)


def test_search_restarts_before_the_result_window_fills_without_duplicates(
    connector: HubSpotConnector, rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "SEARCH_WINDOW", 4)
    settings = connector.settings.model_copy(update={"page_size": 2})
    connector = HubSpotConnector(settings, connection="crm", sleep=lambda _: None)
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    t = "2026-02-0{}T00:00:00.000Z".format
    windows = [
        {"total": 9, "results": [contact(1, t(1)), contact(2, t(2))], "paging": {"next": {"after": "2"}}},
        {"total": 9, "results": [contact(3, t(3)), contact(4, t(4))], "paging": {"next": {"after": "4"}}},
        {"total": 6, "results": [contact(4, t(4)), contact(5, t(5))], "paging": {"next": {"after": "2"}}},
        {"total": 6, "results": [contact(6, t(6))]},
    ]
    for answer in windows:
        rsps.post(f"{BASE}/crm/v3/objects/contacts/search", json=answer)
    rsps.get(f"{BASE}/crm/v3/objects/contacts", json={"results": []})
    pages = all_pages(connector, "contacts", StreamState(cursor="2026-01-01T00:00:00+00:00"))
    ids = [r["id"] for page in pages for r in page.records]
    assert ids == ["1", "2", "3", "4", "5", "6"]
    bodies = [_search_body(call.request) for call in rsps.calls[1:-1]]
    assert [body.get("after") for body in bodies] == [None, "2", None, "2"]
    assert bodies[2]["filterGroups"][0]["filters"][0]["value"] == t(4)  # restarted from the last time seen


def test_429_with_retry_after_then_success(
    connector: HubSpotConnector, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    limited = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
    }
    rsps.get(f"{BASE}/crm/v3/objects/companies", json=limited, status=429, headers={"Retry-After": "3"})
    rsps.get(f"{BASE}/crm/v3/objects/companies", json={"results": [contact(1)]})
    pages = all_pages(connector, "companies")
    assert [r["id"] for page in pages for r in page.records] == ["1"]
    assert sleeps == [3.0]


def test_server_errors_are_retried_then_succeed(
    connector: HubSpotConnector, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{BASE}/crm/v3/objects/companies", json={"status": "error", "message": "internal error"}, status=502)
    rsps.get(f"{BASE}/crm/v3/objects/companies", json={"status": "error", "message": "internal error"}, status=500)
    rsps.get(f"{BASE}/crm/v3/objects/companies", json={"results": [contact(1), contact(2)]})
    pages = all_pages(connector, "companies")
    assert sum(len(page.records) for page in pages) == 2 and len(sleeps) == 2


def test_malformed_records_are_quarantined_and_the_run_goes_on(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    broken = [{**contact(2), "properties": "<<corrupted>>"}, {**contact(3), "id": "abc"}, {"properties": {}}]
    rsps.get(f"{BASE}/crm/v3/objects/companies", json={"results": [contact(1), *broken, contact(4)]})
    pages = all_pages(connector, "companies")
    assert [r["id"] for r in pages[0].records] == ["1", "4"]
    assert len(pages[0].rejected) == 3


def _archived_query(request: Any) -> bool:
    """Whether a request lists archived objects."""
    return "archived=true" in str(request.url)


def test_tickets_from_search_get_their_contacts_from_the_v4_batch_read(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    tickets = [contact(21, subject="Colis abîmé"), contact(22, subject="Question")]
    rsps.post(f"{BASE}/crm/v3/objects/tickets/search", json={"total": 2, "results": tickets})
    linked = {
        "status": "COMPLETE",
        "results": [{"from": {"id": "21"}, "to": [{"toObjectId": 7, "associationTypes": []}]}],
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "none", "context": {"ids": ["22"]}}],
    }
    rsps.post(f"{BASE}/crm/v4/associations/tickets/contacts/batch/read", json=linked, status=207)
    rsps.get(f"{BASE}/crm/v3/objects/tickets", json={"results": []})
    pages = all_pages(connector, "tickets", StreamState(cursor="2026-01-01T00:00:00+00:00"))
    records = pages[0].records
    assert records[0]["associations"]["contacts"]["results"][0]["id"] == "7"
    assert "associations" not in records[1]


def test_email_events_read_one_window_and_resume_from_the_offset(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    event = {"id": "e1", "type": "OPEN", "recipient": "a@example.org", "created": 1767225600000}
    end = str(int(NOW.timestamp() * 1000))
    rsps.get(
        f"{BASE}/email/public/v1/events",
        json={"events": [event], "hasMore": True, "offset": "tok"},
        match=[matchers.query_param_matcher({"endTimestamp": end, "limit": "1000"})],
    )
    rsps.get(
        f"{BASE}/email/public/v1/events",
        json={"events": [{**event, "id": "e2"}], "hasMore": False, "offset": "tok2"},
        match=[matchers.query_param_matcher({"endTimestamp": end, "limit": "1000", "offset": "tok"})],
    )
    pages = all_pages(connector, "email_events")
    assert pages[0].state.extra == {"window": [None, int(end)], "offset": "tok"} and pages[0].state.cursor is None
    assert pages[-1].state.cursor_datetime() == NOW and pages[-1].state.extra == {}


# -- writing -----------------------------------------------------------------------------------------


def customer(n: int, **extra: Any) -> dict[str, Any]:
    return {"key": f"k{n}", "external_id": f"cust-{n}", "email": f"C{n}@Example.org", "given_name": "Ada", **extra}


def test_customers_are_upserted_by_email_and_unchanged_ones_skipped(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    same = {"id": "501", "properties": {"email": "c1@example.org", "canalis_id": "cust-1", "firstname": "Ada"}}
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"status": "COMPLETE", "results": [same]}, status=207)
    answer = {
        "status": "COMPLETE",
        "results": [{"id": "502", "properties": {"email": "c2@example.org"}, "new": True}],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property invalid",
                "context": {"ids": ["c3@example.org"]},
            }
        ],
    }
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/upsert", json=answer, status=207)
    records = [customer(1), customer(2), customer(3), {"key": "k4", "email": "not-an-email"}]
    results = {r.record_key: r for r in connector.write("customers", records)}
    assert results["k1"].status == "unchanged" and results["k1"].vendor_id == "501"
    assert results["k2"].status == "applied" and results["k2"].vendor_id == "502"
    assert results["k3"].status == "failed" and "Property invalid" in (results["k3"].error or "")
    assert results["k4"].status == "failed"
    sent = json.loads(rsps.calls[1].request.body)["inputs"]
    assert [item["id"] for item in sent] == ["c2@example.org", "c3@example.org"]
    assert sent[0] == {
        "idProperty": "email",
        "id": "c2@example.org",
        "properties": {"canalis_id": "cust-2", "firstname": "Ada"},
    }


def test_customer_writes_go_in_batches_of_100_with_one_record_per_email(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    def upserted(request: Any) -> tuple[int, dict[str, str], str]:
        inputs = json.loads(request.body)["inputs"]
        results = [{"id": str(n), "properties": {"email": item["id"]}} for n, item in enumerate(inputs)]
        return 200, {}, json.dumps({"status": "COMPLETE", "results": results})

    for _ in range(3):
        rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"status": "COMPLETE", "results": []})
        rsps.add_callback(responses.POST, f"{BASE}/crm/v3/objects/contacts/batch/upsert", callback=upserted)
    records = [customer(n) for n in range(150)] + [customer(120, key="dup")]
    results = list(connector.write("customers", records))
    sizes = [len(json.loads(call.request.body)["inputs"]) for call in rsps.calls if call.request.url.endswith("upsert")]
    assert sizes == [100, 50, 1]
    assert len(results) == 151 and {r.status for r in results} == {"applied"}


def test_failed_batch_call_fails_every_record_and_marks_transient_ones_retryable(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    for _ in range(connector.settings.max_attempts):
        rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"message": "down"}, status=503)
    results = list(connector.write("customers", [customer(1), customer(2)]))
    assert [r.status for r in results] == ["failed", "failed"] and all(r.retryable for r in results)


def consent(key: str, status: str, source_id: str | None = None, email: str | None = None, **more: Any) -> dict:
    record = {"key": key, "source_id": source_id, "email": email, "purpose": "marketing", "channel": "email"}
    return {**record, "status": status, **more}


def test_consents_read_the_contacts_state_then_unsubscribe_the_address_hubspot_holds(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    fields = ["email", "hs_email_optout", "hs_email_optout_55"]
    by_id = {
        "results": [
            contact(9, email="a.b@example.org"),  # the canonical email dropped the dot
            contact(10, hs_email_optout="true"),
            contact(11, hs_email_optout_55="true"),
        ]
    }
    ids = [{"id": "10"}, {"id": "11"}, {"id": "9"}]
    rsps.post(
        f"{BASE}/crm/v3/objects/contacts/batch/read",
        json=by_id,
        match=[matchers.json_params_matcher({"inputs": ids, "properties": fields})],
    )
    by_email = {"inputs": [{"id": "b@example.org"}], "properties": fields, "idProperty": "email"}
    rsps.post(
        f"{BASE}/crm/v3/objects/contacts/batch/read",
        json={"results": [contact(12, email="b@example.org")]},
        match=[matchers.json_params_matcher(by_email)],
    )
    rsps.post(
        f"{BASE}/communication-preferences/v3/unsubscribe",
        json={"id": "55", "status": "NOT_SUBSCRIBED"},
        match=[matchers.json_params_matcher({"emailAddress": "a.b@example.org", "subscriptionId": "55"})],
    )
    records = [
        consent("1", "denied", "9", "ab@example.org"),
        consent("2", "granted", None, "b@example.org"),
        consent("3", "denied", None, "c@example.org", channel="sms"),
        consent("4", "granted", "10", "c10@example.org"),
        consent("5", "denied", "11", "c11@example.org"),
    ]
    results = list(connector.write("consents", records))
    assert [r.status for r in results] == ["applied", "unchanged", "skipped", "failed", "unchanged"]
    assert results[0].vendor_id == "9" and "opted out of all email" in str(results[3].error)


def test_consent_write_already_applied_by_a_retried_call_counts_as_applied(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"results": [contact(9, email="z@example.org")]})
    already = {
        "status": "error",
        "message": "z@example.org is already unsubscribed from subscription 55",
        "category": "VALIDATION_ERROR",
    }
    rsps.post(f"{BASE}/communication-preferences/v3/unsubscribe", json=already, status=400)
    [result] = connector.write("consents", [consent("1", "denied", "9")])
    assert result.status == "applied" and result.vendor_id == "9"


def test_a_consent_for_a_contact_hubspot_no_longer_has_fails_without_a_write(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"results": []})
    [result] = connector.write("consents", [consent("1", "denied", "9", "z@example.org")])
    assert result.status == "failed" and "no HubSpot contact 9" in str(result.error)


def test_an_address_without_a_contact_is_unsubscribed_through_its_own_status(
    connector: HubSpotConnector, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{BASE}/communication-preferences/v3/definitions", json=DEFINITIONS)
    rsps.post(f"{BASE}/crm/v3/objects/contacts/batch/read", json={"results": []})
    status = {"recipient": "q@example.org", "subscriptionStatuses": [{"id": "55", "status": "SUBSCRIBED"}]}
    rsps.get(f"{BASE}/communication-preferences/v3/status/email/q@example.org", json=status)
    rsps.post(f"{BASE}/communication-preferences/v3/unsubscribe", json={"id": "55", "status": "NOT_SUBSCRIBED"})
    [result] = connector.write("consents", [consent("1", "denied", None, "Q@example.org")])
    assert result.status == "applied" and result.vendor_id is None


@pytest.mark.parametrize("portal", [None, "", "true", "false", "TRUE", False])
@pytest.mark.parametrize("marketing", [None, "", "true", "false", "True"])
def test_marketing_optout_folds_the_portal_and_subscription_flags(portal, marketing) -> None:
    from canalis.connectors.hubspot.optout import marketing_optout

    props = {"hs_email_optout": portal, "hs_email_optout_55": marketing}
    flags = [str(flag).lower() for flag in (portal, marketing) if flag not in (None, "")]
    expected = None if not flags else ("true" if "true" in flags else "false")
    assert marketing_optout(props, "55") == expected
    assert marketing_optout(props, None) == (None if portal in (None, "") else str(portal).lower())
