"""The Brevo connector against mocked HTTP: paging, cursors, errors, retries, malformed records, settings, writes."""

from __future__ import annotations

import importlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from canalis.connectors.brevo import CONNECTOR, BrevoConnector
from canalis.connectors.brevo.readers import event_key
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.connectors.registry import BUILTIN_MODULES
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.state import StreamState

BASE = "https://api.brevo.test/v3"
KEY = "xkeysib-5ecret-K3y/with+chars=="
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(sleeps: list[float], **values: Any) -> BrevoConnector:
    settings = BrevoSettings.model_validate({"api_key": KEY, "base_url": BASE, "lookback_minutes": 0, **values})
    return BrevoConnector(settings, connection="brevo_fr", sleep=sleeps.append, clock=lambda: NOW)


def contact(contact_id: int, modified: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "email": f"c{contact_id}@example.org",
        "emailBlacklisted": False,
        "smsBlacklisted": False,
        "createdAt": "2024-01-01T10:00:00.000+01:00",
        "modifiedAt": modified,
        "listIds": [2],
        "attributes": {"FIRSTNAME": "Ana"},
        **extra,
    }


def params(**values: Any) -> Any:
    return matchers.query_param_matcher({key: str(value) for key, value in values.items()})


def read_all(connector: BrevoConnector, stream: str, state: StreamState | None = None) -> list[Any]:
    return list(connector.read(stream, state))


# -- registry ----------------------------------------------------------------------------------------


def test_registered_as_a_builtin_marketing_connector() -> None:
    assert "brevo" in BUILTIN_MODULES
    assert importlib.import_module("canalis.connectors.brevo").CONNECTOR is BrevoConnector
    assert CONNECTOR.kind == "marketing"
    assert {s.name for s in CONNECTOR.streams if s.writable} == {"customers", "consents"}


# -- reads -------------------------------------------------------------------------------------------


def test_contacts_page_oldest_created_first_and_cursor_moves_once_the_window_is_read(rsps, sleeps) -> None:
    first = [contact(1, "2025-05-01T10:00:00.000+02:00"), contact(2, "2025-07-01T09:00:00.000+02:00")]
    rsps.get(f"{BASE}/contacts", match=[params(limit=2, offset=0, sort="asc")], json={"contacts": first, "count": 3})
    rsps.get(
        f"{BASE}/contacts",
        match=[params(limit=2, offset=2, sort="asc")],
        json={"contacts": [contact(3, "2025-06-01T00:00:00.000Z")], "count": 3},
    )

    pages = read_all(make(sleeps, page_size=2), "contacts")

    assert [[r["id"] for r in page.records] for page in pages] == [[1, 2], [3]]
    assert pages[0].state.cursor is None
    assert pages[0].state.extra["window"]["offset"] == 2
    assert pages[1].state.cursor == "2025-07-01T07:00:00+00:00"
    assert pages[1].state.extra == {"boundary": ["2"]}
    assert rsps.calls[0].request.headers["api-key"] == KEY


def test_incremental_contacts_ask_from_the_cursor_minus_the_look_back(rsps, sleeps) -> None:
    state = StreamState(cursor="2025-06-01T10:00:00+00:00", extra={"boundary": ["9"]})
    rsps.get(
        f"{BASE}/contacts",
        match=[params(limit=1000, offset=0, sort="asc", modifiedSince="2025-06-01T09:30:00.000Z")],
        json={"contacts": [contact(5, "2025-06-01T09:45:00.000Z")], "count": 1},
    )

    pages = read_all(make(sleeps, lookback_minutes=30), "contacts", state)

    assert [r["id"] for r in pages[0].records] == [5]
    assert pages[-1].state.cursor == "2025-06-01T10:00:00+00:00"


def test_contacts_already_stored_at_the_cursor_are_not_read_again(rsps, sleeps) -> None:
    state = StreamState(cursor="2025-06-01T10:00:00+00:00", extra={"boundary": ["7"]})
    at_cursor = "2025-06-01T12:00:00.000+02:00"
    rsps.get(
        f"{BASE}/contacts",
        match=[params(limit=1000, offset=0, sort="asc", modifiedSince="2025-06-01T10:00:00.000Z")],
        json={"contacts": [contact(7, at_cursor), contact(8, at_cursor)], "count": 2},
    )

    pages = read_all(make(sleeps), "contacts", state)

    assert [r["id"] for r in pages[0].records] == [8]
    assert pages[-1].state.extra["boundary"] == ["7", "8"]


def test_a_stopped_window_resumes_at_its_offset(rsps, sleeps) -> None:
    window = {"offset": 1000, "started": "2026-01-10T11:00:00+00:00", "highest": None, "keys_at_highest": []}
    state = StreamState(extra={"window": {**window, "params": {"modifiedSince": "2025-01-01T00:00:00.000Z"}}})
    rsps.get(
        f"{BASE}/contacts",
        match=[params(limit=1000, offset=1000, sort="asc", modifiedSince="2025-01-01T00:00:00.000Z")],
        json={"contacts": [contact(1001, "2025-02-01T00:00:00.000Z")], "count": 1001},
    )

    pages = read_all(make(sleeps), "contacts", state)

    assert [r["id"] for r in pages[0].records] == [1001]
    assert "window" not in pages[-1].state.extra


def test_rows_changed_during_the_read_are_read_again_next_time(rsps, sleeps) -> None:
    late = "2026-01-10T12:30:00.000Z"  # after the clock's NOW, when the window started
    rsps.get(f"{BASE}/contacts", json={"contacts": [contact(1, late)], "count": 1})

    pages = read_all(make(sleeps), "contacts")

    assert pages[-1].state.cursor == NOW.isoformat()


def test_malformed_records_are_rejected_and_the_page_goes_on(rsps, sleeps) -> None:
    good = contact(1, "2025-05-01T10:00:00.000Z")
    no_id = {k: v for k, v in contact(2, "2025-05-01T10:00:00.000Z").items() if k != "id"}
    bad_date = contact(3, "31/02/2025")
    bad_flag = contact(4, "2025-05-01T10:00:00.000Z", emailBlacklisted="yes")
    rsps.get(f"{BASE}/contacts", json={"contacts": [good, no_id, bad_date, bad_flag, "oops"], "count": 5})

    pages = read_all(make(sleeps), "contacts")

    assert [r["id"] for r in pages[0].records] == [1]
    reasons = sorted(rejected.error for rejected in pages[0].rejected)
    assert len(reasons) == 4
    assert any("modifiedAt" in reason for reason in reasons)
    assert any("missing primary key 'id'" in reason for reason in reasons)
    assert any("emailBlacklisted" in reason for reason in reasons)


def test_lists_are_read_whole(rsps, sleeps) -> None:
    lists = [
        {"id": n, "name": f"L{n}", "totalBlacklisted": 0, "totalSubscribers": 1, "uniqueSubscribers": 1, "folderId": 1}
        for n in range(1, 51)
    ]
    rsps.get(
        f"{BASE}/contacts/lists", match=[params(limit=50, offset=0, sort="asc")], json={"lists": lists, "count": 51}
    )
    rsps.get(
        f"{BASE}/contacts/lists",
        match=[params(limit=50, offset=50, sort="asc")],
        json={"lists": [{"id": 51, "name": "Last"}], "count": 51},
    )

    pages = read_all(make(sleeps), "lists")

    assert sum(len(page.records) for page in pages) == 51
    assert all(page.state.cursor is None for page in pages)


def test_blocked_contacts_from_the_day_before_the_cursor_to_today(rsps, sleeps) -> None:
    state = StreamState(cursor="2025-12-01T00:30:00+00:00")
    blocked = {
        "email": "x@example.org",
        "senderEmail": "n@example.org",
        "reason": {"code": "hardBounce", "message": "Hard bounce"},
        "blockedAt": "2025-12-02T10:00:00.000+01:00",
    }
    rsps.get(
        f"{BASE}/smtp/blockedContacts",
        match=[params(limit=100, offset=0, sort="asc", startDate="2025-11-30", endDate="2026-01-10")],
        json={"contacts": [blocked], "count": 1},
    )

    pages = read_all(make(sleeps), "blocked_contacts", state)

    assert pages[0].records == [blocked]
    assert pages[-1].state.cursor == "2025-12-02T09:00:00+00:00"


def test_email_events_are_read_window_by_window_with_a_built_key(rsps, sleeps) -> None:
    event = {
        "email": "a@example.org",
        "date": "2025-12-05T09:00:00.000+01:00",
        "messageId": "<m1@relay>",
        "event": "clicks",
        "link": "https://shop.example/x",
    }
    windows = [("2025-12-01", "2025-12-20"), ("2025-12-21", "2026-01-09"), ("2026-01-10", "2026-01-10")]
    for n, (start, end) in enumerate(windows):
        body = {"events": [event]} if n == 0 else {}
        rsps.get(
            f"{BASE}/smtp/statistics/events",
            match=[params(limit=2500, offset=0, sort="asc", startDate=start, endDate=end)],
            json=body,
        )

    pages = read_all(make(sleeps, events_start_date="2025-12-01", events_window_days=20), "email_events")

    records = [r for page in pages for r in page.records]
    assert [r["_key"] for r in records] == [event_key(event)]
    assert records[0]["_key"].startswith("<m1@relay>|clicks|2025-12-05T09:00:00.000+01:00|")
    final = pages[-1].state
    assert final.cursor == "2025-12-05T08:00:00+00:00"
    assert final.extra["scanned_until"] == NOW.isoformat()


def test_write_only_streams_read_nothing(sleeps) -> None:
    assert read_all(make(sleeps), "customers") == []


# -- errors and retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_check_names_the_api_key_when_brevo_refuses_it(rsps, sleeps, status: int) -> None:
    rsps.get(f"{BASE}/account", status=status, json={"code": "unauthorized", "message": "Key not found"})

    with pytest.raises(ConfigError) as caught:
        make(sleeps).check()

    assert caught.value.setting == "api_key"
    assert "CANALIS_BREVO_API_KEY" in str(caught.value) and "Key not found" in str(caught.value)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "answer", [{"status": 404, "json": {"message": "no route"}}, {"body": requests.ConnectionError("refused")}]
)
def test_check_names_the_base_url_when_it_does_not_reach_brevo(rsps, sleeps, answer: dict[str, Any]) -> None:
    rsps.get(f"{BASE}/account", **answer)

    with pytest.raises(ConfigError) as caught:
        make(sleeps, max_attempts=1).check()

    assert caught.value.setting == "base_url"


def test_check_names_promotional_lists_that_do_not_exist(rsps, sleeps) -> None:
    rsps.get(f"{BASE}/account", json={"companyName": "Maison"})
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 2, "name": "Newsletter"}], "count": 1})

    with pytest.raises(ConfigError) as caught:
        make(sleeps, promotional_list_ids=[2, 9]).check()

    assert caught.value.setting == "promotional_list_ids"
    assert "list 9" in str(caught.value)


def test_check_passes_with_a_good_key(rsps, sleeps) -> None:
    rsps.get(f"{BASE}/account", json={"companyName": "Maison"})
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 2, "name": "Newsletter"}], "count": 1})

    result = make(sleeps, promotional_list_ids=[2]).check()

    assert result.ok and "Maison" in result.message


def test_429_waits_as_long_as_brevo_s_reset_header_says(rsps, sleeps) -> None:
    rsps.get(
        f"{BASE}/contacts/lists",
        status=429,
        json={"message": "Too many requests"},
        headers={"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "7"},
    )
    rsps.get(f"{BASE}/contacts/lists", json={"lists": [{"id": 2, "name": "Newsletter"}], "count": 1})

    pages = read_all(make(sleeps), "lists")

    assert pages[0].records == [{"id": 2, "name": "Newsletter"}]
    assert 7.0 in sleeps
    assert sum(sleeps) < 8


def test_5xx_is_retried_then_succeeds(rsps, sleeps) -> None:
    rsps.get(f"{BASE}/contacts", status=503, json={"code": "internal_error", "message": "busy"})
    rsps.get(f"{BASE}/contacts", json={"contacts": [contact(1, "2025-01-01T00:00:00.000Z")], "count": 1})

    connector = make(sleeps)
    pages = read_all(connector, "contacts")

    assert [r["id"] for r in pages[0].records] == [1]
    assert connector.client.http.stats.as_dict()["retries"] == 1


def test_persistent_4xx_stops_the_read_with_the_vendor_message(rsps, sleeps) -> None:
    rsps.get(f"{BASE}/contacts", status=400, json={"code": "invalid_parameter", "message": "limit is invalid"})

    with pytest.raises(ApiError) as caught:
        read_all(make(sleeps), "contacts")

    assert caught.value.status == 400 and "limit is invalid" in str(caught.value)


# -- settings and secrets ----------------------------------------------------------------------------


def test_missing_api_key_fails_naming_the_setting_and_variable(monkeypatch) -> None:
    monkeypatch.delenv("CANALIS_BREVO_API_KEY", raising=False)

    with pytest.raises(ConfigError) as caught:
        CONNECTOR.from_config({"base_url": BASE}, connection="brevo_fr")

    assert caught.value.setting == "api_key"
    assert "CANALIS_BREVO_API_KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"page_size": 5000}, "page_size"),
        ({"base_url": "ftp://api.brevo.com/v3"}, "base_url"),
        ({"events_window_days": 120}, "events_window_days"),
        ({"suppression": "delete"}, "suppression"),
        ({"api_key": KEY}, "api_key"),
    ],
)
def test_wrong_settings_fail_naming_the_setting(monkeypatch, values: dict[str, Any], setting: str) -> None:
    monkeypatch.setenv("CANALIS_BREVO_API_KEY", KEY)

    with pytest.raises(ConfigError) as caught:
        CONNECTOR.from_config(values, connection="brevo_fr")

    assert caught.value.setting == setting
    assert KEY not in str(caught.value)


def test_the_key_never_shows_in_reprs_errors_or_logs(rsps, sleeps, caplog, monkeypatch) -> None:
    monkeypatch.setenv("CANALIS_BREVO_API_KEY", KEY)
    connector = CONNECTOR.from_config({"base_url": BASE, "max_attempts": 1}, connection="brevo_fr")
    rsps.get(f"{BASE}/contacts", status=500, json={"message": f"bad key {KEY}"})

    with caplog.at_level(logging.DEBUG), pytest.raises(ApiError) as caught:
        read_all(connector, "contacts")

    texts = [
        repr(connector),
        repr(connector.settings),
        repr(connector.client),
        str(caught.value),
        caplog.text,
        json.dumps(connector.settings.model_dump(mode="json")),
    ]
    assert all(KEY not in text for text in texts)


# -- writes ------------------------------------------------------------------------------------------


def test_customers_batch_known_contacts_and_upsert_the_others(rsps, sleeps) -> None:
    rsps.post(f"{BASE}/contacts/batch", status=204)
    rsps.post(f"{BASE}/contacts", status=201, json={"id": 77})
    records = [
        {
            "key": "c1",
            "source_id": "11",
            "external_id": "CUS-1",
            "email": "a@example.org",
            "given_name": "Ana",
            "family_name": "Roy",
            "phone": "+33612345678",
        },
        {"key": "c2", "source_id": "12", "external_id": "CUS-2", "email": None, "given_name": "Bo"},
        {"key": "c3", "source_id": None, "external_id": "CUS-3", "email": "New@Example.org", "given_name": "Cy"},
    ]

    results = list(make(sleeps).write("customers", records))

    assert {(r.record_key, r.status, r.vendor_id) for r in results} == {
        ("c1", "applied", "11"),
        ("c2", "applied", "12"),
        ("c3", "applied", "77"),
    }
    batch = (
        json.loads(rsps.calls[1].request.body)
        if "batch" in rsps.calls[1].request.url
        else json.loads(rsps.calls[0].request.body)
    )
    assert batch == {
        "contacts": [
            {"id": 11, "attributes": {"FIRSTNAME": "Ana", "LASTNAME": "Roy", "SMS": "+33612345678"}, "ext_id": "CUS-1"},
            {"id": 12, "attributes": {"FIRSTNAME": "Bo"}, "ext_id": "CUS-2"},
        ]
    }
    upsert = next(json.loads(c.request.body) for c in rsps.calls if c.request.url == f"{BASE}/contacts")
    assert upsert == {
        "email": "new@example.org",
        "attributes": {"FIRSTNAME": "Cy"},
        "ext_id": "CUS-3",
        "updateEnabled": True,
    }


def test_batch_failures_are_retried_alone_to_report_brevo_s_reason(rsps, sleeps) -> None:
    rsps.post(f"{BASE}/contacts/batch", status=207, json={"successIds": [11], "failureIds": [12]})
    rsps.put(
        f"{BASE}/contacts/12", status=404, json={"code": "document_not_found", "message": "Contact does not exist"}
    )
    records = [
        {"key": "c1", "source_id": "11", "given_name": "Ana"},
        {"key": "c2", "source_id": "12", "given_name": "Bo"},
    ]

    results = {r.record_key: r for r in make(sleeps).write("customers", records)}

    assert results["c1"].status == "applied"
    assert results["c2"].status == "failed"
    assert "Contact does not exist" in (results["c2"].error or "")
    assert not results["c2"].retryable


def test_records_that_cannot_be_written_get_a_result_too(sleeps) -> None:
    records = [{"key": "c1", "source_id": None, "email": None, "given_name": "Ana"}, {"key": "c2", "source_id": "5"}]

    results = {r.record_key: r for r in make(sleeps).write("customers", records)}

    assert results["c1"].status == "failed" and "source_id" in (results["c1"].error or "")
    assert results["c2"].status == "skipped"


def test_consents_blocklist_mode_sets_flags_and_leaves_promotional_lists(rsps, sleeps) -> None:
    rsps.post(f"{BASE}/contacts/batch", status=204)
    records = [
        {
            "key": "k1",
            "source_id": "1",
            "email": "a@example.org",
            "purpose": "marketing",
            "channel": "email",
            "status": "denied",
        },
        {
            "key": "k2",
            "source_id": None,
            "email": "B@example.org",
            "purpose": "marketing",
            "channel": "email",
            "status": "granted",
        },
        {"key": "k3", "source_id": "3", "email": None, "purpose": "marketing", "channel": "sms", "status": "denied"},
        {"key": "k4", "source_id": "4", "email": None, "purpose": "profiling", "channel": "email", "status": "denied"},
    ]

    results = {r.record_key: r.status for r in make(sleeps, promotional_list_ids=[2, 5]).write("consents", records)}

    assert results == {"k1": "applied", "k2": "applied", "k3": "applied", "k4": "skipped"}
    assert json.loads(rsps.calls[0].request.body) == {
        "contacts": [
            {"id": 1, "emailBlacklisted": True, "unlinkListIds": [2, 5]},
            {"email": "b@example.org", "emailBlacklisted": False},
            {"id": 3, "smsBlacklisted": True},
        ]
    }


def test_consents_lists_mode_removes_from_each_list_150_at_a_time(rsps, sleeps) -> None:
    emails = [f"p{n}@example.org" for n in range(151)]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        sent = json.loads(request.body)["emails"]
        assert len(sent) <= 150
        success = [e for e in sent if e != "p0@example.org"]
        return (
            201,
            {},
            json.dumps(
                {"contacts": {"success": success, "failure": ["p0@example.org"] if "p0@example.org" in sent else []}}
            ),
        )

    rsps.add_callback(responses.POST, f"{BASE}/contacts/lists/4/contacts/remove", callback=answer)
    records = [
        {"key": e, "source_id": None, "email": e, "purpose": "marketing", "channel": "email", "status": "denied"}
        for e in emails
    ]

    results = {
        r.record_key: r.status
        for r in make(sleeps, suppression="lists", promotional_list_ids=[4], batch_size=1000).write("consents", records)
    }

    assert len([c for c in rsps.calls if c.request.url.endswith("/remove")]) == 2
    assert results["p0@example.org"] == "unchanged"
    assert {status for key, status in results.items() if key != "p0@example.org"} == {"applied"}
    assert len(results) == 151


def test_throttled_batch_that_never_recovers_is_reported_retryable(rsps, sleeps) -> None:
    for _ in range(2):
        rsps.post(
            f"{BASE}/contacts/batch",
            status=429,
            json={"message": "Too many requests"},
            headers={"x-sib-ratelimit-reset": "1"},
        )
    records = [{"key": "k1", "source_id": "1", "purpose": "marketing", "channel": "email", "status": "denied"}]

    results = list(make(sleeps, max_attempts=2).write("consents", records))

    assert [(r.status, r.retryable) for r in results] == [("failed", True)]
