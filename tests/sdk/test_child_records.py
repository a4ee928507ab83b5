"""Reading checks a record's children and numbers: a malformed child is left out and named under its parent's id;
NaN and Infinity are refused with a reason, never stored as null."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from canalis.connectors.hubspot.streams import Deals
from canalis.connectors.odoo.streams import LoyaltyPrograms, SaleOrders
from canalis.connectors.shopify.streams import Orders as ShopifyOrders
from canalis.sdk.base import validate_page
from canalis.sdk.children import child_lists, non_finite, spelled_out
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page


def _page(*records: Any) -> Page:
    return Page(records=list(records), state=StreamState.empty())


def _item(item_id: str, **properties: Any) -> dict[str, Any]:
    stamps = {"createdAt": "2026-10-01T10:00:00Z", "updatedAt": "2026-10-01T10:00:00Z"}
    return {"id": item_id, "properties": {"hs_sku": "SKU-A", "price": "10", "quantity": "1", **properties}, **stamps}


def test_record_models_declare_their_child_lists() -> None:
    assert child_lists(SaleOrders.record_model) == {("lines",)}
    assert child_lists(LoyaltyPrograms.record_model) == {("rules",), ("rewards",)}
    assert child_lists(Deals.record_model) == {("line_items",)}
    assert child_lists(ShopifyOrders.record_model) == {("lineItems", "nodes")}

    class Flat(BaseModel):
        tags: list[str]

    assert child_lists(Flat) == frozenset()


def test_a_corrupted_hubspot_line_item_leaves_its_deal_incomplete_not_a_garbage_line() -> None:
    deal = {**_item("900"), "line_items": [_item("1"), {**_item("2"), "properties": "<<corrupted>>"}, _item("3")]}
    page = validate_page(Deals, _page(deal))
    (landed,) = page.records
    assert [item["id"] for item in landed["line_items"]] == ["1", "3"]
    assert len(deal["line_items"]) == 3  # the record read is left as it was
    (rejected,) = page.rejected
    assert rejected.record_id == "900" and rejected.field == "line_items[1].properties" and rejected.incomplete
    assert "landed incomplete" in rejected.error and "valid dictionary" in rejected.error
    assert rejected.payload["line_items"][1]["properties"] == "<<corrupted>>"


def test_a_fault_in_the_parent_itself_rejects_it_whole() -> None:
    deal = {**_item("901"), "properties": "<<corrupted>>", "line_items": [{**_item("2"), "properties": 3}]}
    page = validate_page(Deals, _page(deal))
    assert page.records == []
    (rejected,) = page.rejected
    assert rejected.record_id == "901" and rejected.field == "properties" and not rejected.incomplete


def test_several_bad_children_are_named_in_one_entry_under_the_parent() -> None:
    program = {
        "id": 7,
        "write_date": "2026-10-01 10:00:00",
        "name": "Parrainage",
        "rules": [{"id": 1, "program_id": "#corrupt", "code": "PARRAINAGE20"}],
        "rewards": [{"id": 1, "program_id": [7, "Parrainage"], "discount": "lots"}, {"id": 2, "discount": 20}],
    }
    page = validate_page(LoyaltyPrograms, _page(program))
    (landed,) = page.records
    assert landed["rules"] == [] and [reward["id"] for reward in landed["rewards"]] == [2]
    (rejected,) = page.rejected
    assert rejected.record_id == "7" and rejected.field == "rules[0].program_id"
    assert "2 malformed child record(s)" in rejected.error and "rewards[0].discount" in rejected.error


def test_nan_and_infinity_are_refused_naming_where_they_are() -> None:
    good = {"id": 1, "write_date": "2026-10-01 10:00:00", "name": "S1", "partner_id": [1, "A"], "lines": []}
    good["date_order"] = good["write_date"]
    line = {"id": 5, "product_uom_qty": 1.0, "price_unit": math.nan}
    bad = {**good, "id": 2, "lines": [line]}
    page = validate_page(SaleOrders, _page(good, bad))
    assert [record["id"] for record in page.records] == [1]
    (rejected,) = page.rejected
    assert rejected.record_id == "2" and rejected.field == "lines[0].price_unit"
    assert "nan is not a finite number" in rejected.error
    assert rejected.payload["lines"][0]["price_unit"] == "nan"  # kept as text: JSON would have made it null


def test_non_finite_walks_nested_records() -> None:
    assert non_finite({"a": 1.5, "b": [1, {"c": "x"}]}) is None
    assert non_finite({"a": {"b": [0.0, -math.inf]}}) == ("a.b[1]", -math.inf)
    assert spelled_out({"a": [math.inf, 2.0]}) == {"a": ["inf", 2.0]}


def test_a_bad_line_item_of_a_shopify_order_is_left_out_of_its_connection() -> None:
    money = {"shopMoney": {"amount": "10.00", "currencyCode": "EUR"}}
    stamps = {"createdAt": "2026-10-01T10:00:00Z", "updatedAt": "2026-10-01T10:00:00Z"}
    lines = [
        {"id": "gid://shopify/LineItem/1", "quantity": 1, "originalUnitPriceSet": money},
        {"id": "gid://shopify/LineItem/2", "quantity": "many", "originalUnitPriceSet": money},
    ]
    order = {"id": "gid://shopify/Order/5", "totalPriceSet": money, "lineItems": {"nodes": lines}, **stamps}
    page = validate_page(ShopifyOrders, _page(order))
    (landed,) = page.records
    assert [line["id"] for line in landed["lineItems"]["nodes"]] == ["gid://shopify/LineItem/1"]
    assert len(order["lineItems"]["nodes"]) == 2
    (rejected,) = page.rejected
    assert rejected.record_id == "gid://shopify/Order/5" and rejected.field == "lineItems.nodes[1].quantity"
