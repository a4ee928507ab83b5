"""The Square connector against mocked HTTP: settings, check, paging, retries, quarantine, redaction and writes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from responses import matchers

from canalis.connectors.square import CONNECTOR, SquareConnector
from canalis.connectors.square.settings import SquareSettings
from canalis.connectors.square.writes import idempotency_key
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.settings import load_settings
from canalis.sdk.state import StreamState

BASE = "https://square.test"
TOKEN = "EAAAtest-secret-token-123456"
LOCATIONS = {
    "locations": [{"id": "L1", "name": "Paris", "status": "ACTIVE"}, {"id": "L2", "name": "Lyon", "status": "INACTIVE"}]
}


class Waits:
    """Injected sleep and clock: waiting moves a virtual clock forward and is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make(waits: Waits | None = None, **values: Any) -> SquareConnector:
    waits = waits or Waits()
    settings = SquareSettings(access_token=TOKEN, base_url=BASE, **values)
    return SquareConnector(settings, connection="store", sleep=waits.sleep)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def customer(n: int, updated: str = "2026-01-02T10:00:00.000Z") -> dict[str, Any]:
    return {"id": f"C{n}", "created_at": "2025-01-01T00:00:00.000Z", "updated_at": updated, "given_name": f"N{n}"}


def body_of(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


# --- settings and check ----------------------------------------------------------------------------------------


def test_settings_name_what_is_wrong_and_keep_the_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANALIS_SQUARE_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError) as missing:
        load_settings(SquareSettings, {}, connection="store")
    assert missing.value.setting == "access_token" and "CANALIS_SQUARE_ACCESS_TOKEN" in str(missing.value)
    with pytest.raises(ConfigError) as inline:
        load_settings(SquareSettings, {"access_token": TOKEN}, connection="store")
    assert inline.value.setting == "access_token" and TOKEN not in str(inline.value)
    monkeypatch.setenv("CANALIS_SQUARE_ACCESS_TOKEN", TOKEN)
    for name, value in (("square_version", "latest"), ("base_url", "ftp://x"), ("lookback_minutes", -1)):
        with pytest.raises(ConfigError) as wrong:
            load_settings(SquareSettings, {name: value}, connection="store")
        assert wrong.value.setting == name
    settings = load_settings(SquareSettings, {"location_ids": ["L1"]}, connection="store")
    connector = CONNECTOR(settings, connection="store")
    assert TOKEN not in repr(settings) and TOKEN not in repr(connector) and TOKEN not in repr(connector.client)
    assert TOKEN not in json.dumps(settings.model_dump(mode="json"))


def test_check_reports_locations_and_names_refused_settings(api: responses.RequestsMock) -> None:
    api.get(
        f"{BASE}/v2/locations",
        json=LOCATIONS,
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}", "Square-Version": "2025-08-20"})],
    )
    result = make().check()
    assert result.ok and result.details["locations"] == 2 and result.details["locations_read"] == 1
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    with pytest.raises(ConfigError) as unknown:
        make(location_ids=["L9"]).check()
    assert unknown.value.setting == "location_ids"


@pytest.mark.parametrize("status", [401, 403])
def test_check_turns_refused_credentials_into_a_config_error_without_the_token(
    api: responses.RequestsMock, status: int
) -> None:
    detail = f"This request could not be authorized for Bearer {TOKEN}."
    code = {"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED", "detail": detail}]}
    api.get(f"{BASE}/v2/locations", json=code, status=status)
    with pytest.raises(ConfigError) as refused:
        make().check()
    assert refused.value.setting == "access_token" and f"HTTP {status}" in str(refused.value)
    assert TOKEN not in str(refused.value) and "CANALIS_SQUARE_ACCESS_TOKEN" in str(refused.value)


# --- reads -------------------------------------------------------------------------------------------------------


def test_customers_page_with_the_cursor_and_move_the_state_after_the_last_page(api: responses.RequestsMock) -> None:
    first = api.post(
        f"{BASE}/v2/customers/search",
        json={"customers": [customer(1, "2026-01-03T00:00:00.000Z"), customer(2)], "cursor": "NEXT"},
    )
    second = api.post(
        f"{BASE}/v2/customers/search",
        json={"customers": [customer(3, "2026-01-04T00:00:00.000Z")]},
        match=[matchers.json_params_matcher({"cursor": "NEXT"}, strict_match=False)],
    )
    state = StreamState(cursor="2026-01-01T12:00:00+00:00")
    pages = list(make(lookback_minutes=30).read("customers", state))
    assert [len(page.records) for page in pages] == [2, 1]
    assert pages[0].state == state  # creation order: the cursor moves only when the window is read
    assert pages[1].state.cursor == "2026-01-04T00:00:00+00:00"
    sent = body_of(second.calls[0])
    assert sent["cursor"] == "NEXT" and first.call_count == 1
    assert sent["query"]["sort"] == {"field": "CREATED_AT", "order": "ASC"}
    window = sent["query"]["filter"]["updated_at"]
    assert window["start_at"] == "2026-01-01T11:30:00.000Z" and window["end_at"] > window["start_at"]
    assert sent["limit"] == 100


def test_orders_read_ascending_for_the_active_locations_and_carry_line_skus(api: responses.RequestsMock) -> None:
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    line = {
        "uid": "u1",
        "quantity": "2",
        "catalog_object_id": "V1",
        "base_price_money": {"amount": 990, "currency": "EUR"},
    }
    order = {
        "id": "O1",
        "location_id": "L1",
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-05T10:01:00Z",
        "line_items": [line],
    }
    search = api.post(f"{BASE}/v2/orders/search", json={"orders": [order], "cursor": "C2"})
    api.post(f"{BASE}/v2/orders/search", json={})
    api.post(
        f"{BASE}/v2/catalog/batch-retrieve",
        json={"objects": [{"type": "ITEM_VARIATION", "id": "V1", "item_variation_data": {"sku": "SKU-1"}}]},
        match=[matchers.json_params_matcher({"object_ids": ["V1"]})],
    )
    pages = list(make(location_map={"L1": "paris"}).read("orders"))
    assert pages[0].records[0]["line_items"][0]["_sku"] == "SKU-1" and pages[0].records[0]["_location"] == "paris"
    assert pages[0].state.cursor == "2026-01-05T10:01:00+00:00"  # ascending: every page moves the cursor
    sent = body_of(search.calls[0])
    assert sent["location_ids"] == ["L1"] and sent["query"]["sort"] == {"sort_field": "UPDATED_AT", "sort_order": "ASC"}
    assert "filter" not in sent["query"]


def test_a_429_waits_as_long_as_retry_after_says_and_5xx_is_retried(api: responses.RequestsMock) -> None:
    limited = {"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED", "detail": "Slow down"}]}
    api.post(f"{BASE}/v2/customers/search", json=limited, status=429, headers={"Retry-After": "7"})
    api.post(f"{BASE}/v2/customers/search", json={"errors": [{"category": "API_ERROR", "code": "X"}]}, status=503)
    api.post(f"{BASE}/v2/customers/search", json={"customers": [customer(1)]})
    waits = Waits()
    connector = make(waits)
    (page,) = list(connector.read("customers"))
    assert [r["id"] for r in page.records] == ["C1"]
    assert 7.0 in waits.sleeps and connector.client.http.stats.retries == 2


def test_a_4xx_read_error_stops_the_read_with_the_vendor_message(api: responses.RequestsMock) -> None:
    error = {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "INVALID_CURSOR", "detail": "Bad cursor"}]}
    api.post(f"{BASE}/v2/customers/search", json=error, status=400)
    with pytest.raises(ApiError) as failed:
        list(make().read("customers"))
    assert failed.value.status == 400 and "INVALID_CURSOR: Bad cursor" in str(failed.value)


def test_malformed_records_are_quarantined_and_the_run_goes_on(api: responses.RequestsMock) -> None:
    broken = [{"given_name": "no id"}, {**customer(2), "updated_at": "yesterday"}, customer(3), "not an object"]
    api.post(f"{BASE}/v2/customers/search", json={"customers": broken, "cursor": "N"})
    api.post(f"{BASE}/v2/customers/search", json={"customers": [customer(4)]})
    pages = list(make().read("customers"))
    assert [r["id"] for p in pages for r in p.records] == ["C3", "C4"]
    rejected = pages[0].rejected
    assert [r.field for r in rejected] == ["id", "updated_at", None]
    assert pages[-1].state.cursor == "2026-01-02T10:00:00+00:00"


def test_counts_get_a_key_a_sku_and_only_in_stock_is_asked(api: responses.RequestsMock) -> None:
    count = {
        "catalog_object_id": "V1",
        "location_id": "L2",
        "state": "IN_STOCK",
        "quantity": "4",
        "calculated_at": "2026-01-07T00:00:00Z",
    }
    api.post(
        f"{BASE}/v2/inventory/counts/batch-retrieve",
        json={"counts": [count]},
        match=[matchers.json_params_matcher({"limit": 1000, "states": ["IN_STOCK"]})],
    )
    api.post(f"{BASE}/v2/catalog/batch-retrieve", json={})
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    (page,) = list(make().read("inventory_counts"))
    assert page.records[0]["_key"] == "V1:L2:IN_STOCK" and page.records[0]["_sku"] is None
    assert page.records[0]["_location"] == "L2" and page.state.cursor == "2026-01-07T00:00:00+00:00"


def test_secrets_stay_out_of_debug_logs(api: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    with caplog.at_level(logging.DEBUG):
        make().check()
    assert caplog.records and TOKEN not in caplog.text


# --- writes ------------------------------------------------------------------------------------------------------


def variation(sku: str, amount: int, version: int = 5) -> dict[str, Any]:
    data = {
        "item_id": "I1",
        "sku": sku,
        "pricing_type": "FIXED_PRICING",
        "price_money": {"amount": amount, "currency": "EUR"},
    }
    return {"type": "ITEM_VARIATION", "id": f"V-{sku}", "version": version, "item_variation_data": data}


def test_prices_send_the_version_read_first_and_report_each_record(api: responses.RequestsMock) -> None:
    found = {"objects": [variation("A", 1000), variation("B", 2500)]}
    search = api.post(f"{BASE}/v2/catalog/search", json=found)
    upsert = api.post(
        f"{BASE}/v2/catalog/batch-upsert",
        json={"objects": [{**variation("A", 1290), "version": 6}], "updated_at": "2026-01-08T00:00:00Z"},
    )
    records = [
        {"key": "k1", "sku": "A", "amount": Decimal("12.90"), "currency": "EUR"},
        {"key": "k2", "sku": "B", "amount": Decimal("25.00"), "currency": "EUR"},
        {"key": "k3", "sku": "C", "amount": Decimal("1.00"), "currency": "EUR"},
        {"key": "k4", "sku": "A", "amount": Decimal("1.001"), "currency": "EUR"},
    ]
    results = list(make().write("prices", records))
    assert [(r.record_key, r.status) for r in results] == [
        ("k1", "applied"),
        ("k2", "unchanged"),
        ("k3", "failed"),
        ("k4", "failed"),
    ]
    assert "SKU 'C'" in results[2].error and "decimals" in results[3].error
    query = body_of(search.calls[0])["query"]["set_query"]
    assert query == {"attribute_name": "sku", "attribute_values": ["A", "B", "C"]}
    sent = body_of(upsert.calls[0])
    (obj,) = sent["batches"][0]["objects"]
    assert obj["version"] == 5 and obj["item_variation_data"]["price_money"] == {"amount": 1290, "currency": "EUR"}
    assert sent["idempotency_key"] == idempotency_key("prices", [obj]) and len(sent["idempotency_key"]) <= 128


def test_a_rejected_price_batch_is_retried_record_by_record(api: responses.RequestsMock) -> None:
    api.post(f"{BASE}/v2/catalog/search", json={"objects": [variation("A", 1000), variation("B", 2000)]})
    mismatch = {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "VERSION_MISMATCH", "detail": "stale"}]}
    api.post(f"{BASE}/v2/catalog/batch-upsert", json=mismatch, status=400)
    api.post(f"{BASE}/v2/catalog/search", json={"objects": [variation("A", 1000, version=9)]})
    api.post(f"{BASE}/v2/catalog/batch-upsert", json={"objects": [variation("A", 1100, version=10)]})
    api.post(f"{BASE}/v2/catalog/search", json={"objects": [variation("B", 2000)]})
    api.post(f"{BASE}/v2/catalog/batch-upsert", json=mismatch, status=400)
    records = [
        {"key": "a", "sku": "A", "amount": Decimal("11"), "currency": "EUR"},
        {"key": "b", "sku": "B", "amount": Decimal("21"), "currency": "EUR"},
    ]
    results = list(make().write("prices", records))
    assert [r.status for r in results] == ["applied", "failed"]
    assert "VERSION_MISMATCH" in results[1].error and not results[1].retryable


def test_prices_that_keep_failing_with_5xx_are_marked_retryable(api: responses.RequestsMock) -> None:
    api.post(f"{BASE}/v2/catalog/search", json={"objects": [variation("A", 1000)]})
    for _ in range(2):
        api.post(f"{BASE}/v2/catalog/batch-upsert", json={"errors": []}, status=503)
    (result,) = make(max_attempts=2).write("prices", [{"key": "a", "sku": "A", "amount": "12", "currency": "EUR"}])
    assert result.status == "failed" and result.retryable


def test_stock_goes_in_calls_of_at_most_100_changes_and_skips_counts_already_right(api: responses.RequestsMock) -> None:
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    skus = [f"S{n}" for n in range(150)]
    for chunk in (skus[:100], skus[100:]):
        api.post(f"{BASE}/v2/catalog/search", json={"objects": [variation(sku, 100) for sku in chunk]})
        counts = [{"catalog_object_id": "V-S0", "location_id": "L1", "state": "IN_STOCK", "quantity": "3"}]
        api.post(f"{BASE}/v2/inventory/counts/batch-retrieve", json={"counts": counts if chunk[0] == "S0" else []})
        api.post(f"{BASE}/v2/inventory/changes/batch-create", json={"counts": []})
    records = [{"key": f"k{n}", "sku": sku, "location": "Paris", "available": 3} for n, sku in enumerate(skus)]
    results = list(make().write("stock_levels", records))
    assert len(results) == 150 and results[0].status == "unchanged"
    assert all(r.status == "applied" for r in results[1:])
    calls = [body_of(c) for c in api.calls if c.request.url.endswith("/v2/inventory/changes/batch-create")]
    assert [len(c["changes"]) for c in calls] == [99, 50]
    change = calls[0]["changes"][0]["physical_count"]
    assert change["location_id"] == "L1" and change["quantity"] == "3" and change["state"] == "IN_STOCK"
    assert calls[0]["idempotency_key"] == idempotency_key("stock", calls[0]["changes"])


def test_stock_records_that_cannot_be_sent_fail_with_a_reason(api: responses.RequestsMock) -> None:
    api.get(f"{BASE}/v2/locations", json=LOCATIONS)
    records = [
        {"key": "a", "sku": "S1", "location": "Nowhere", "available": 1},
        {"key": "b", "sku": "S1", "location": "L1", "available": -2},
        {"key": "c", "sku": "", "location": "L1", "available": 1},
    ]
    results = list(make().write("stock_levels", records))
    assert [r.status for r in results] == ["failed"] * 3
    assert "Nowhere" in results[0].error and "zero or more" in results[1].error and "sku" in results[2].error


def test_promotions_create_a_discount_with_its_pricing_rule_or_find_it_unchanged(api: responses.RequestsMock) -> None:
    existing = {
        "type": "DISCOUNT",
        "id": "D1",
        "version": 3,
        "discount_data": {"name": "SUMMER", "discount_type": "FIXED_PERCENTAGE", "percentage": "20.0"},
    }
    api.post(f"{BASE}/v2/catalog/search", json={"objects": [existing]})
    api.post(f"{BASE}/v2/catalog/search", json={})
    upsert = api.post(
        f"{BASE}/v2/catalog/batch-upsert",
        json={
            "objects": [{"type": "DISCOUNT", "id": "NEWID"}, {"type": "PRICING_RULE", "id": "RULEID"}],
            "id_mappings": [{"client_object_id": "#WINTER", "object_id": "NEWID"}],
        },
    )
    records = [
        {
            "key": "p1",
            "code": "SUMMER",
            "discount_type": "percentage",
            "discount_value": Decimal("20"),
            "status": "active",
        },
        {
            "key": "p2",
            "code": "WINTER",
            "name": "Winter sale",
            "discount_type": "fixed_amount",
            "discount_value": Decimal("5"),
            "currency": "EUR",
            "starts_at": "2026-12-01T00:00:00Z",
            "ends_at": "2026-12-31T00:00:00Z",
            "status": "scheduled",
        },
        {"key": "p3", "code": "BAD", "discount_type": "bogo", "discount_value": 1},
    ]
    results = list(make().write("promotions", records))
    assert [(r.status, r.vendor_id) for r in results] == [("unchanged", "D1"), ("applied", "NEWID"), ("failed", None)]
    (batch,) = body_of(upsert.calls[0])["batches"]
    discount, rule = batch["objects"]
    assert discount["discount_data"]["amount_money"] == {"amount": 500, "currency": "EUR"}
    assert rule["pricing_rule_data"] == {
        "name": "Winter sale",
        "discount_id": "#WINTER",
        "valid_from_date": "2026-12-01",
        "valid_until_date": "2026-12-31",
    }


def test_write_only_streams_read_nothing_and_unknown_streams_are_refused() -> None:
    connector = make()
    assert list(connector.read("prices")) == [] and connector.can_write()
    with pytest.raises(Exception, match="read-only"):
        list(connector.write("customers", [{"key": "x"}]))
