"""The Shopify connector against recorded GraphQL answers: settings, check, paging, retries, quarantine, writes."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from canalis.connectors.shopify import CONNECTOR, ShopifyConnector
from canalis.connectors.shopify.settings import ShopifySettings
from canalis.sdk.errors import ApiError, ConfigError
from canalis.sdk.state import StreamState

TOKEN = "shpat_test_0123456789abcdef"
URL = "https://my-shop.myshopify.com/admin/api/2026-07/graphql.json"


def _settings(**values: Any) -> ShopifySettings:
    return ShopifySettings.model_validate({"shop": "my-shop", "access_token": SecretStr(TOKEN), **values})


def _connector(sleeps: list[float] | None = None, **values: Any) -> ShopifyConnector:
    sink = sleeps if sleeps is not None else []
    values.setdefault("bulk_threshold", 0)  # bulk exports are tested against the sandbox
    return ShopifyConnector(_settings(**values), connection="web", sleep=sink.append)


def _cost(requested: int = 10, available: int = 1990) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0},
        }
    }


def _answer(data: dict[str, Any], **cost: Any) -> dict[str, Any]:
    return {"data": data, "extensions": _cost(**cost)}


def _customer(number: int, updated: str = "2026-01-0{n}T10:00:00Z") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Customer/{number}",
        "email": f"c{number}@example.com",
        "updatedAt": updated.format(n=number),
        "firstName": "Ada",
    }


def _page(nodes: list[dict[str, Any]], *, more: bool, cursor: str | None = None, root: str = "customers") -> dict:
    return _answer({root: {"nodes": nodes, "pageInfo": {"hasNextPage": more, "endCursor": cursor}}})


def _bodies(mock: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(call.request.body) for call in mock.calls]


# --- settings and check ---------------------------------------------------------------------------------------


def test_registry_finds_the_connector() -> None:
    assert CONNECTOR is ShopifyConnector and ShopifyConnector.kind == "ecommerce" and ShopifyConnector.can_write()
    names = ShopifyConnector.stream_names({})
    assert names == ["customers", "orders", "variants", "locations", "inventory_levels", "discounts"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("my-shop", "https://my-shop.myshopify.com"),
        ("My-Shop.myshopify.com", "https://my-shop.myshopify.com"),
        ("https://admin.example.com/", "https://admin.example.com"),
        ("http://127.0.0.1:8000/shopify", "http://127.0.0.1:8000/shopify"),
    ],
)
def test_shop_setting_becomes_a_base_url(given: str, expected: str) -> None:
    assert _settings(shop=given).shop == expected


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"shop": "http://shop.example.com"}, "shop"),
        ({"shop": "not a shop"}, "shop"),
        ({"shop": "my-shop", "api_version": "2026-02"}, "api_version"),
        ({"shop": "my-shop", "page_size": 500}, "page_size"),
    ],
)
def test_bad_settings_name_the_setting(values: dict[str, Any], setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALIS_SHOPIFY_ACCESS_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as caught:
        ShopifyConnector.from_config(values, connection="web")
    assert caught.value.setting == setting and setting in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_token_comes_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CANALIS_SHOPIFY_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigError) as missing:
        ShopifyConnector.from_config({"shop": "my-shop"}, connection="web")
    assert missing.value.setting == "access_token"
    with pytest.raises(ConfigError) as inline:
        ShopifyConnector.from_config({"shop": "my-shop", "access_token": TOKEN}, connection="web")
    assert inline.value.setting == "access_token" and TOKEN not in str(inline.value)


@pytest.mark.parametrize(("status", "setting"), [(401, "access_token"), (403, "access_token"), (404, "shop")])
def test_check_names_the_setting_on_refusal(status: int, setting: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json={"errors": "[API] Invalid API key or access token"}, status=status)
        with pytest.raises(ConfigError) as caught:
            _connector().check()
    assert caught.value.setting == setting and TOKEN not in str(caught.value)


def test_check_reports_the_shop_and_refuses_a_fallen_back_version() -> None:
    shop = {"shop": {"name": "Maison", "myshopifyDomain": "my-shop.myshopify.com", "currencyCode": "EUR"}}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_answer(shop), headers={"X-Shopify-API-Version": "2026-07"})
        result = _connector().check()
    assert result.ok and result.details["currency"] == "EUR"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_answer(shop), headers={"X-Shopify-API-Version": "2025-01"})
        with pytest.raises(ConfigError) as caught:
            _connector().check()
    assert caught.value.setting == "api_version"


# --- reading --------------------------------------------------------------------------------------------------


def test_customers_page_by_cursor_in_updated_order() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_page([_customer(1), _customer(2)], more=True, cursor="c2"))
        mock.post(URL, json=_page([_customer(3)], more=False, cursor="c3"))
        pages = list(_connector().read("customers"))
        bodies = _bodies(mock)
        assert mock.calls[0].request.headers["X-Shopify-Access-Token"] == TOKEN
    assert [len(page.records) for page in pages] == [2, 1]
    assert pages[0].state.cursor == "2026-01-02T10:00:00+00:00" and pages[1].state.cursor == "2026-01-03T10:00:00+00:00"
    assert "sortKey: UPDATED_AT" in bodies[0]["query"]
    assert bodies[0]["variables"]["after"] is None and bodies[1]["variables"]["after"] == "c2"
    assert bodies[0]["variables"]["query"] is None


def test_incremental_read_filters_from_the_cursor_minus_the_lookback() -> None:
    state = StreamState(cursor="2026-01-10T12:00:00+00:00")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_page([], more=False))
        pages = list(_connector(lookback_minutes=30).read("customers", state))
        body = _bodies(mock)[0]
    assert body["variables"]["query"] == "updated_at:>'2026-01-10T11:30:00Z'"
    assert pages[-1].state.cursor == state.cursor


def test_rate_limit_429_waits_as_told() -> None:
    sleeps: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json={"errors": "Exceeded 2 calls per second"}, status=429, headers={"Retry-After": "2.0"})
        mock.post(URL, json=_page([_customer(1)], more=False))
        pages = list(_connector(sleeps).read("customers"))
    assert sum(len(p.records) for p in pages) == 1 and 2.0 in sleeps


def test_throttled_answer_waits_for_the_bucket_to_refill() -> None:
    sleeps: list[float] = []
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {**_cost(requested=900, available=400)["cost"], "actualQueryCost": None}},
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=throttled)
        mock.post(URL, json=_page([_customer(1)], more=False))
        pages = list(_connector(sleeps).read("customers"))
    assert sum(len(p.records) for p in pages) == 1
    assert sleeps == [pytest.approx(5.0)]  # (900 - 400) / 100 points per second


def test_pacing_waits_before_a_query_the_bucket_cannot_pay() -> None:
    sleeps: list[float] = []
    low = _answer({"customers": {"nodes": [_customer(1)], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}}})
    low["extensions"] = _cost(requested=1000, available=200)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=low)
        mock.post(URL, json=_page([_customer(2)], more=False))
        list(_connector(sleeps).read("customers"))
    assert len(sleeps) == 1 and 7.9 < sleeps[0] <= 8.0  # 800 points missing at 100 per second


def test_server_errors_are_retried_then_succeed() -> None:
    sleeps: list[float] = []
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json={"errors": "Internal Server Error"}, status=500)
        mock.post(URL, body="<html>Bad gateway</html>", status=502)
        mock.post(URL, json=_page([_customer(1)], more=False))
        pages = list(_connector(sleeps).read("customers"))
    assert sum(len(p.records) for p in pages) == 1 and len(sleeps) == 2


def test_persistent_failure_raises_a_redacted_api_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json={"errors": f"token {TOKEN} refused"}, status=503)
        with pytest.raises(ApiError) as caught:
            list(_connector(max_attempts=2).read("customers"))
    assert caught.value.status == 503 and caught.value.retryable
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text


def test_malformed_records_are_quarantined_and_the_read_goes_on() -> None:
    broken = [
        _customer(1),
        {**_customer(2), "updatedAt": "yesterday"},
        {**_customer(3), "id": None},
        "oops",
        _customer(4),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_page(broken, more=True, cursor="c"))
        mock.post(URL, json=_page([_customer(5)], more=False))
        pages = list(_connector().read("customers"))
    records = [r["id"] for p in pages for r in p.records]
    rejected = [r.error for p in pages for r in p.rejected]
    assert records == ["gid://shopify/Customer/1", "gid://shopify/Customer/4", "gid://shopify/Customer/5"]
    assert len(rejected) == 3 and any("updatedAt" in error for error in rejected)
    assert pages[0].state.cursor == "2026-01-04T10:00:00+00:00"


def test_long_orders_get_their_remaining_lines() -> None:
    line = {
        "id": "gid://shopify/LineItem/{n}",
        "sku": "A",
        "quantity": 1,
        "originalUnitPriceSet": {"shopMoney": {"amount": "1.00", "currencyCode": "EUR"}},
    }
    lines = [{**line, "id": line["id"].format(n=n)} for n in range(3)]
    order = {
        "id": "gid://shopify/Order/1",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-02T00:00:00Z",
        "totalPriceSet": {"shopMoney": {"amount": "3.00", "currencyCode": "EUR"}},
        "lineItems": {"nodes": lines[:2], "pageInfo": {"hasNextPage": True, "endCursor": "l2"}},
    }
    more = {"node": {"lineItems": {"nodes": lines[2:], "pageInfo": {"hasNextPage": False, "endCursor": "l3"}}}}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_page([order], more=False, root="orders"))
        mock.post(URL, json=_answer(more))
        pages = list(_connector(line_items_per_order=2).read("orders"))
        bodies = _bodies(mock)
    record = pages[0].records[0]
    assert [n["id"] for n in record["lineItems"]["nodes"]] == [n["id"] for n in lines]
    assert bodies[0]["variables"]["lines"] == 2 and bodies[1]["variables"] == {"id": order["id"], "after": "l2"}


def test_page_sizes_keep_queries_under_the_cost_limit() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_page([], more=False, root="orders"))
        list(_connector(line_items_per_order=50).read("orders"))
        body = _bodies(mock)[0]
    first, lines = body["variables"]["first"], body["variables"]["lines"]
    assert 2 + first * (4 + 1 + 2 + lines * 4) <= 1000


def test_repr_and_errors_never_show_the_token() -> None:
    connector = _connector()
    assert (
        TOKEN not in repr(connector) and TOKEN not in repr(connector.settings) and TOKEN not in repr(connector.client)
    )
    assert TOKEN not in str(connector.settings.model_dump())


# --- writing --------------------------------------------------------------------------------------------------


def _variant(n: int, product: int, price: str = "10.00") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/ProductVariant/{n}",
        "sku": f"SKU-{n}",
        "price": price,
        "compareAtPrice": None,
        "product": {"id": f"gid://shopify/Product/{product}"},
        "inventoryItem": {"id": f"gid://shopify/InventoryItem/{n}"},
    }


SHOP = _answer({"shop": {"name": "Maison", "myshopifyDomain": "my-shop.myshopify.com", "currencyCode": "EUR"}})


def test_prices_are_grouped_per_product_and_errors_filed_per_record() -> None:
    variants = [_variant(1, 100), _variant(2, 100), _variant(3, 200, "5.00"), _variant(4, 300)]
    records = [
        {"key": "k1", "sku": "SKU-1", "amount": Decimal("12.00"), "currency": "EUR"},
        {
            "key": "k2",
            "sku": "SKU-2",
            "amount": Decimal("13.00"),
            "compare_at_amount": Decimal("15"),
            "currency": "EUR",
        },
        {"key": "k3", "sku": "SKU-3", "amount": Decimal("5.00"), "currency": "EUR"},
        {"key": "k4", "sku": "SKU-4", "amount": Decimal("-1"), "currency": "EUR"},
        {"key": "k5", "sku": "SKU-9", "amount": Decimal("1"), "currency": "EUR"},
        {"key": "k6", "sku": "SKU-4", "amount": Decimal("9"), "currency": "USD"},
    ]
    update = {
        "u0": {
            "productVariants": [{"id": "gid://shopify/ProductVariant/1", "price": "12.00"}],
            "userErrors": [
                {"field": ["variants", "1", "price"], "message": "Price is too high", "code": "INVALID_INPUT"}
            ],
        }
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=SHOP)
        mock.post(URL, json=_answer({"productVariants": {"nodes": variants, "pageInfo": {"hasNextPage": False}}}))
        mock.post(URL, json=_answer(update))
        results = list(_connector().write("prices", records))
        bodies = _bodies(mock)
    assert [(r.record_key, r.status) for r in results] == [
        ("k1", "applied"),
        ("k2", "failed"),
        ("k3", "unchanged"),
        ("k4", "failed"),
        ("k5", "failed"),
        ("k6", "failed"),
    ]
    assert results[1].error == "Price is too high" and "USD" in (results[5].error or "")
    mutation = bodies[2]
    assert mutation["query"].count("productVariantsBulkUpdate") == 1
    assert mutation["variables"]["p0"] == "gid://shopify/Product/100"
    assert mutation["variables"]["v0"] == [
        {"id": "gid://shopify/ProductVariant/1", "price": "12.00"},
        {"id": "gid://shopify/ProductVariant/2", "price": "13.00", "compareAtPrice": "15"},
    ]


def test_stock_writes_go_in_calls_of_at_most_250_with_a_content_key() -> None:
    variants = [_variant(n, n) for n in range(300)]
    records = [{"key": f"k{n}", "sku": f"SKU-{n}", "location": "Web", "available": n} for n in range(300)]
    locations = {
        "locations": {
            "nodes": [{"id": "gid://shopify/Location/9", "legacyResourceId": "9", "name": "web"}],
            "pageInfo": {"hasNextPage": False},
        }
    }

    by_sku = {variant["sku"]: variant for variant in variants}

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        if "productVariants" in body["query"]:
            wanted = [term.split('"')[1] for term in body["variables"]["query"].split(" OR ")]
            data: dict[str, Any] = {"productVariants": {"nodes": [by_sku[sku] for sku in wanted], "pageInfo": {}}}
        elif "locations" in body["query"]:
            data = locations
        elif "query Levels" in body["query"]:  # only SKU-1 already holds the wanted quantity
            data = {
                "nodes": [
                    {"quantities": [{"quantity": 1}]} if "=1" in i[-2:] else None for i in body["variables"]["ids"]
                ]
            }
        else:
            quantities = body["variables"]["input"]["quantities"]
            changes = [
                {
                    "name": "available",
                    "delta": 1,
                    "item": {"id": q["inventoryItemId"]},
                    "location": {"id": q["locationId"]},
                }
                for q in quantities
                if q["quantity"] % 2 == 0
            ]
            data = {"inventorySetQuantities": {"inventoryAdjustmentGroup": {"changes": changes}, "userErrors": []}}
        return 200, {}, json.dumps(_answer(data))

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add_callback(responses.POST, URL, callback=answer)
        results = list(_connector().write("stock_levels", records))
        bodies = [b for b in _bodies(mock) if "inventorySetQuantities" in b["query"]]
    assert len(results) == 300
    assert [r.status for r in results[:4]] == ["applied", "unchanged", "applied", "unchanged"]
    sizes = [len(b["variables"]["input"]["quantities"]) for b in bodies]
    assert sizes == [249, 50]
    assert all("@idempotent(key:" in b["query"] for b in bodies)
    assert bodies[0]["variables"]["input"]["quantities"][0]["changeFromQuantity"] is None


def test_promotion_created_when_missing() -> None:
    record = {
        "key": "p1",
        "code": "ETE10",
        "name": "Été -10 %",
        "discount_type": "percentage",
        "discount_value": Decimal("10"),
        "currency": "EUR",
        "starts_at": datetime(2026, 6, 1, tzinfo=UTC),
        "ends_at": None,
        "status": "active",
    }
    created = {
        "discountCodeBasicCreate": {"codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/5"}, "userErrors": []}
    }
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_answer({"codeDiscountNodeByCode": None}))
        mock.post(URL, json=_answer(created))
        results = list(_connector().write("promotions", [record]))
        body = _bodies(mock)[1]
    assert results[0].status == "applied" and results[0].vendor_id == "gid://shopify/DiscountCodeNode/5"
    sent = body["variables"]["input"]
    assert sent["customerGets"]["value"] == {"percentage": 0.1} and sent["startsAt"] == "2026-06-01T00:00:00Z"
    assert sent["context"] == {"all": "ALL"}


def test_write_failures_after_retries_are_marked_retryable() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json={"errors": "Service Unavailable"}, status=503)
        results = list(_connector(max_attempts=1).write("prices", [{"key": "k", "sku": "A", "amount": 1}]))
    assert results[0].status == "failed" and results[0].retryable


# --- consents ---------------------------------------------------------------------------------------------------


def _with_consent(number: int, state: str | None, email: str | None = "") -> dict[str, Any]:
    consent = {"marketingState": state, "marketingOptInLevel": None, "consentUpdatedAt": None} if state else None
    address = f"c{number}@example.com" if email == "" else email
    return {"id": f"gid://shopify/Customer/{number}", "email": address, "emailMarketingConsent": consent}


def _consent(key: str, status: str, source_id: str | None = None, email: str | None = None, **more: Any) -> dict:
    record = {"key": key, "source_id": source_id, "email": email, "purpose": "marketing", "channel": "email"}
    return {**record, "status": status, **more}


def test_consents_read_current_state_first_and_write_only_what_differs() -> None:
    nodes = [
        _with_consent(1, "SUBSCRIBED"),
        _with_consent(2, "UNSUBSCRIBED"),
        _with_consent(3, "NOT_SUBSCRIBED"),
        _with_consent(4, "REDACTED"),
        _with_consent(5, None, email=None),
        None,  # customer 6 no longer exists
    ]
    found_by_email = _page([_with_consent(7, "SUBSCRIBED", email="Seven@Example.com")], more=False)
    update = {
        "u0": {"customer": _with_consent(1, "UNSUBSCRIBED"), "userErrors": []},
        "u1": {"customer": None, "userErrors": [{"field": ["input"], "message": "Customer is locked", "code": None}]},
    }
    records = [
        _consent("a", "denied", "gid://shopify/Customer/1"),
        _consent("b", "denied", "2"),
        _consent("c", "denied", "3"),
        _consent("d", "granted", "4"),
        _consent("e", "granted", "5"),
        _consent("f", "denied", "6"),
        _consent("g", "granted", None, "seven@example.com"),
        _consent("h", "denied", None, "seven@example.com", channel="sms"),
        _consent("i", "unknown", "1"),
        _consent("j", "denied"),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_answer({"nodes": nodes}))
        mock.post(URL, json=found_by_email)
        mock.post(URL, json=_answer(update))
        results = list(_connector().write("consents", records))
        bodies = _bodies(mock)
    assert [(r.record_key, r.status) for r in results] == [
        ("a", "applied"),
        ("b", "unchanged"),
        ("c", "failed"),
        ("d", "failed"),
        ("e", "skipped"),
        ("f", "failed"),
        ("g", "unchanged"),
        ("h", "skipped"),
        ("i", "skipped"),
        ("j", "failed"),
    ]
    assert results[2].error == "Customer is locked" and "REDACTED" in str(results[3].error)
    assert "no email" in str(results[4].error) and "no Shopify customer 6" in str(results[5].error)
    assert bodies[0]["variables"]["ids"] == [f"gid://shopify/Customer/{n}" for n in range(1, 7)]
    assert bodies[1]["variables"]["query"] == 'email:"seven@example.com"'
    mutation = bodies[2]
    assert mutation["query"].count("customerEmailMarketingConsentUpdate") == 2
    assert mutation["variables"]["c0"]["customerId"] == "gid://shopify/Customer/1"
    assert mutation["variables"]["c0"]["emailMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    assert mutation["variables"]["c1"]["emailMarketingConsent"]["marketingState"] == "UNSUBSCRIBED"
    assert "marketingOptInLevel" not in mutation["variables"]["c0"]["emailMarketingConsent"]


def test_consent_updates_go_25_per_request_and_a_failed_call_is_retryable() -> None:
    nodes = [_with_consent(n, "UNSUBSCRIBED") for n in range(1, 31)]
    records = [_consent(f"k{n}", "granted", str(n)) for n in range(1, 31)]
    done = {f"u{n}": {"customer": None, "userErrors": []} for n in range(25)}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(URL, json=_answer({"nodes": nodes}))
        mock.post(URL, json=_answer(done))
        mock.post(URL, json={"errors": "Service Unavailable"}, status=503)
        results = list(_connector(max_attempts=1).write("consents", records))
        bodies = _bodies(mock)
    assert [r.status for r in results] == ["applied"] * 25 + ["failed"] * 5
    assert all(r.retryable for r in results[25:])
    granted = bodies[1]["variables"]["c0"]["emailMarketingConsent"]
    assert granted["marketingState"] == "SUBSCRIBED" and granted["marketingOptInLevel"] == "SINGLE_OPT_IN"
    assert bodies[2]["query"].count("customerEmailMarketingConsentUpdate") == 5


class _StatusClient:
    """Answers bulk status polls: RUNNING a number of times, then COMPLETED."""

    def __init__(self, running: int) -> None:
        self.running = running
        self.calls: list[str] = []

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, name: str) -> dict[str, Any]:
        self.calls.append(name)
        status = "RUNNING" if self.running > 0 else "COMPLETED"
        self.running -= 1
        return {
            "node": {
                "id": "gid://shopify/BulkOperation/1",
                "status": status,
                "url": "https://files/x",
                "objectCount": "3",
            }
        }


def test_bulk_status_is_polled_soon_then_backs_off_to_the_poll_interval() -> None:
    from canalis.connectors.shopify.bulk import BulkExport

    sleeps: list[float] = []
    client = _StatusClient(running=6)
    export = BulkExport(client, poll_seconds=5.0, timeout_seconds=3600, sleep=sleeps.append)  # type: ignore[arg-type]
    result = export._wait("gid://shopify/BulkOperation/1")
    assert result.status == "COMPLETED" and result.object_count == 3
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert client.calls == ["bulk_status"] * 7


def test_a_short_poll_interval_caps_the_first_wait_too() -> None:
    from canalis.connectors.shopify.bulk import BulkExport

    sleeps: list[float] = []
    export = BulkExport(_StatusClient(running=2), poll_seconds=0.01, timeout_seconds=3600, sleep=sleeps.append)  # type: ignore[arg-type]
    export._wait("gid://shopify/BulkOperation/1")
    assert sleeps == [0.01, 0.01]

