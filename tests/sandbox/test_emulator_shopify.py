"""The Shopify GraphQL Admin API emulator: wire format, paging, search, cost throttling, writes and bulk exports."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import parse, validate
from werkzeug.test import Client

from canalis.connectors.shopify import queries
from canalis.sandbox.emulators.shopify import ACCESS_TOKEN, EMULATOR, READ_ONLY_ACCESS_TOKEN
from canalis.sandbox.emulators.shopify.schema import SUPPORTED_VERSIONS, schema_for
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.app import SandboxApp
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.world import WorldSpec, generate_world, store_path

SPEC = Path("/work/shared/specs/shopify/shopify-admin-rest-2026-01-subset.yaml")
VERSION = "2026-07"
GID = re.compile(r"^gid://shopify/[A-Z][A-Za-z]+/\d+(\?[a-z_]+=\d+)?$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("shopify-world")
    generate_world(WorldSpec(seed=11, customers=120), data_dir)
    return store_path(data_dir)


class Shop:
    """A test client of the emulator on a private copy of the world, with a controllable clock."""

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        self.store = store
        self.app = SandboxApp(store, emulators=[EMULATOR], faults=faults)
        self.emulator = self.app.emulators["shopify"]
        self.now = 1000.0
        self.emulator.clock = lambda: self.now
        self.client = Client(self.app)

    def post(
        self, query: str, variables: dict | None = None, *, version: str = VERSION, token: str | None = ACCESS_TOKEN
    ):
        headers = {"X-Shopify-Access-Token": token} if token else {}
        return self.client.post(
            f"/shopify/admin/api/{version}/graphql.json", json={"query": query, "variables": variables}, headers=headers
        )

    def gql(self, query: str, variables: dict | None = None, **options: Any) -> dict[str, Any]:
        response = self.post(query, variables, **options)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def data(self, query: str, variables: dict | None = None, **options: Any) -> dict[str, Any]:
        body = self.gql(query, variables, **options)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def shop(world_file: Path, tmp_path: Path) -> Iterator[Shop]:
    copy = tmp_path / "world.db"
    shutil.copy(world_file, copy)
    with ObjectStore(copy) as store:
        yield Shop(store)


def _all(shop: Shop, root: str, selection: str, first: int, **arguments: str) -> list[dict[str, Any]]:
    extra = "".join(f", {name}: {value}" for name, value in arguments.items())
    document = (
        f"query($after: String) {{ {root}(first: {first}, after: $after{extra}) "
        f"{{ nodes {{ {selection} }} edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )
    found, after = [], None
    while True:
        connection = shop.data(document, {"after": after})[root]
        assert [edge["node"]["id"] for edge in connection["edges"]] == [node["id"] for node in connection["nodes"]]
        found.extend(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


# --- auth, versions, request shapes ---------------------------------------------------------------------------


def test_missing_or_wrong_token_gets_shopifys_401(shop: Shop) -> None:
    expected = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    for token in (None, "shpat_wrong"):
        response = shop.post("{ shop { name } }", token=token)
        assert response.status_code == 401
        assert response.get_json() == expected


def test_versions_fall_forward_or_are_not_found(shop: Shop) -> None:
    old = shop.post("{ shop { name } }", version="2024-01")
    assert old.status_code == 200 and old.headers["X-Shopify-API-Version"] == SUPPORTED_VERSIONS[0]
    assert shop.post("{ shop { name } }", version="2099-01").status_code == 404
    assert shop.post("{ shop { name } }", version="latest").get_json() == {"errors": "Not Found"}
    assert shop.post("", version=VERSION).status_code == 400


def test_every_supported_version_builds_and_gates_its_fields() -> None:
    old, new = schema_for("2025-10"), schema_for("2026-07")
    assert "compareQuantity" in old.type_map["InventoryQuantityInput"].fields
    assert "changeFromQuantity" not in old.type_map["InventoryQuantityInput"].fields
    assert "changeFromQuantity" in new.type_map["InventoryQuantityInput"].fields
    assert "ignoreCompareQuantity" not in new.type_map["InventorySetQuantitiesInput"].fields
    assert old.get_directive("idempotent") is None and new.get_directive("idempotent") is not None
    for version in SUPPORTED_VERSIONS:
        assert schema_for(version).query_type is not None


def test_connector_documents_validate_against_the_schema() -> None:
    """Contract: every document the connector sends is valid for the version it is sent to."""
    schema = schema_for(VERSION)
    documents = [
        queries.SHOP,
        queries.sorted_listing("customers", queries.CUSTOMER, "UPDATED_AT"),
        queries.orders_listing(),
        queries.sorted_listing("productVariants", queries.VARIANT, "ID"),
        queries.sorted_listing("codeDiscountNodes", queries.DISCOUNT, "UPDATED_AT"),
        queries.ORDER_LINES,
        queries.LOCATIONS,
        queries.LOCATION_IDS,
        queries.INVENTORY_LEVELS,
        queries.VARIANTS_BY_SKU,
        queries.BULK_RUN,
        queries.BULK_STATUS,
        queries.BULK_CURRENT,
        queries.BULK_CANCEL,
        queries.DISCOUNT_BY_CODE,
        queries.DISCOUNT_CREATE,
        queries.DISCOUNT_UPDATE,
        queries.DISCOUNT_DEACTIVATE,
        queries.CUSTOMER_CONSENTS,
        queries.CUSTOMERS_BY_EMAIL,
        CONSENT,
        queries.INVENTORY_SET.replace("{directive}", ' @idempotent(key: "k")'),
        *queries.COUNTS.values(),
        *queries.BULK.values(),
    ]
    for document in documents:
        assert validate(schema, parse(document)) == [], document
    old = queries.INVENTORY_SET.replace("{directive}", "")
    assert validate(schema_for("2025-10"), parse(old)) == []


def test_wire_formats_match_the_published_rest_examples(shop: Shop) -> None:
    """Contract: ids, timestamps and money look like the examples of Shopify's published REST description."""
    document = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    examples: dict[str, set[str]] = {"admin_graphql_api_id": set(), "updated_at": set(), "price": set()}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in examples and isinstance(item, str):
                    examples[key].add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    assert all(len(found) > 10 for found in examples.values())
    assert all(GID.match(value) for value in examples["admin_graphql_api_id"])
    assert all(MONEY.match(value) for value in examples["price"])
    for value in examples["updated_at"]:
        assert datetime.fromisoformat(value).tzinfo is not None
    data = shop.data(
        "{ productVariants(first: 50) { nodes { id price compareAtPrice updatedAt product { id } } } "
        "orders(first: 20) { nodes { id updatedAt totalPriceSet { shopMoney { amount } } lineItems(first: 5) "
        "{ nodes { id originalUnitPriceSet { shopMoney { amount } } } } } } }"
    )
    for variant in data["productVariants"]["nodes"]:
        assert GID.match(variant["id"]) and GID.match(variant["product"]["id"])
        assert MONEY.match(variant["price"]) and (
            variant["compareAtPrice"] is None or MONEY.match(variant["compareAtPrice"])
        )
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", variant["updatedAt"])
    for order in data["orders"]["nodes"]:
        assert MONEY.match(order["totalPriceSet"]["shopMoney"]["amount"])
        assert all(GID.match(line["id"]) for line in order["lineItems"]["nodes"])


# --- paging and search ----------------------------------------------------------------------------------------


def test_customers_page_through_every_stored_customer_once(shop: Shop) -> None:
    found = _all(shop, "customers", "id email updatedAt", 7, sortKey="UPDATED_AT")
    stored = {o.object_id for o in shop.store.iter_all("shopify", "customers")}
    assert len(found) == len(stored) and {c["id"] for c in found} == stored
    stamps = [c["updatedAt"] for c in found]
    assert stamps == sorted(stamps)


def test_updated_at_filter_matches_the_stored_timestamps(shop: Shop) -> None:
    orders = [o.payload for o in shop.store.iter_all("shopify", "orders")]
    pivot = sorted(o["updatedAt"] for o in orders)[len(orders) // 2]
    found = _all(shop, "orders", "id updatedAt", 25, sortKey="UPDATED_AT", query=json.dumps(f"updated_at:>'{pivot}'"))
    assert {o["id"] for o in found} == {o["id"] for o in orders if o["updatedAt"] > pivot}
    count = shop.data(f"{{ ordersCount(query: {json.dumps(f'updated_at:<={pivot}')}) {{ count precision }} }}")
    assert count["ordersCount"] == {"count": len(orders) - len(found), "precision": "EXACT"}


def test_sku_search_with_or(shop: Shop) -> None:
    skus = [o.payload["sku"] for o in shop.store.page("shopify", "productVariants", limit=3)]
    query = " OR ".join(f'sku:"{sku}"' for sku in skus)
    found = shop.data("query($q: String!) { productVariants(first: 10, query: $q) { nodes { sku } } }", {"q": query})
    assert sorted(node["sku"] for node in found["productVariants"]["nodes"]) == sorted(skus)


def test_paging_arguments_are_checked(shop: Shop) -> None:
    too_many = shop.gql("{ customers(first: 251) { nodes { id } } }")
    assert "250" in too_many["errors"][0]["message"]
    missing = shop.gql("{ customers { nodes { id } } }")
    assert "first or last" in missing["errors"][0]["message"]
    bad_cursor = shop.gql('{ customers(first: 2, after: "nope") { nodes { id } } }')
    assert "cursor" in bad_cursor["errors"][0]["message"].lower()


def test_stock_levels_per_location_and_item(shop: Shop) -> None:
    location = shop.data("{ locations(first: 5) { nodes { id } } }")["locations"]["nodes"][0]["id"]
    levels = []
    after = None
    while True:
        page = shop.data(
            "query($id: ID!, $after: String) { location(id: $id) { inventoryLevels(first: 40, after: $after) { nodes "
            '{ id item { id sku } quantities(names: ["available", "on_hand", "incoming"]) { name quantity } } '
            "pageInfo { hasNextPage endCursor } } } }",
            {"id": location, "after": after},
        )["location"]["inventoryLevels"]
        levels.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    stored = {o.object_id: o.payload for o in shop.store.iter_all("shopify", "inventoryLevels")}
    assert {level["id"] for level in levels} == set(stored)
    for level in levels:
        names = [q["name"] for q in level["quantities"]]
        assert names == ["available", "on_hand", "incoming"]
        held = {q["name"]: q["quantity"] for q in stored[level["id"]]["quantities"]}
        assert level["quantities"][0]["quantity"] == held["available"] and level["quantities"][2]["quantity"] == 0
    item = levels[0]["item"]["id"]
    by_item = shop.data(
        "query($id: ID!) { inventoryItem(id: $id) { sku inventoryLevels(first: 5) { nodes { id } } } }", {"id": item}
    )
    assert by_item["inventoryItem"]["inventoryLevels"]["nodes"][0]["id"] == levels[0]["id"]


# --- cost and throttling --------------------------------------------------------------------------------------


def test_cost_extension_follows_the_query(shop: Shop) -> None:
    body = shop.gql("{ customers(first: 10) { nodes { id defaultAddress { city } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * 2
    nodes = body["data"]["customers"]["nodes"]
    assert cost["actualQueryCost"] == 2 + sum(1 + (node["defaultAddress"] is not None) for node in nodes)
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0
    big = shop.gql("{ orders(first: 250) { nodes { id lineItems(first: 50) { nodes { id } } } } }")
    assert big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED" and "data" not in big


def test_bucket_runs_dry_then_refills(shop: Shop) -> None:
    shop.store.kv_put("shopify:throttle", {"maximumAvailable": 100, "restoreRate": 10})
    query = "{ customers(first: 50) { nodes { id } } }"  # 52 points
    assert "errors" not in shop.gql(query)
    throttled = shop.post(query)
    assert throttled.status_code == 200
    body = throttled.get_json()
    assert body["errors"][0]["message"] == "Throttled" and body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 52
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 52
    shop.now += 6.0
    assert "errors" not in shop.gql(query)


def test_injected_faults_use_shopify_shapes(world_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "world.db"
    shutil.copy(world_file, copy)
    with ObjectStore(copy) as store:
        limited = Shop(store, FaultPlan.from_spec("shopify:429=1"))
        response = limited.post("{ shop { name } }")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1.0"
        assert "errors" in response.get_json()
        corrupt = Shop(store, FaultPlan.from_spec("shopify:malformed=1"))
        nodes = corrupt.data("{ customers(first: 3) { nodes { id updatedAt } } }")["customers"]["nodes"]
        assert [node["updatedAt"] for node in nodes] == ["not-a-timestamp"] * 3


# --- writes ---------------------------------------------------------------------------------------------------

PRICES = """
mutation($p: ID!, $v: [ProductVariantsBulkInput!]!, $partial: Boolean) {
  productVariantsBulkUpdate(productId: $p, variants: $v, allowPartialUpdates: $partial) {
    productVariants { id price compareAtPrice updatedAt } userErrors { field message code }
  }
}
"""


CONSENT = (
    "mutation($input: CustomerEmailMarketingConsentUpdateInput!) { customerEmailMarketingConsentUpdate(input: $input) "
    f"{{ {queries.CONSENT_UPDATE_FIELDS} }} }}"
)


def _consent(shop: Shop, customer: str, state: str, **more: Any) -> dict[str, Any]:
    variables = {"input": {"customerId": customer, "emailMarketingConsent": {"marketingState": state, **more}}}
    return shop.data(CONSENT, variables)["customerEmailMarketingConsentUpdate"]


def _customer_in(shop: Shop, state: str) -> Any:
    return next(
        c
        for c in shop.store.iter_all("shopify", "customers")
        if c.payload.get("email") and (c.payload.get("emailMarketingConsent") or {}).get("marketingState") == state
    )


def test_consent_update_persists_bumps_updated_at_and_is_seen_by_incremental_reads(shop: Shop) -> None:
    customer = _customer_in(shop, "SUBSCRIBED")
    result = _consent(shop, customer.object_id, "UNSUBSCRIBED", consentUpdatedAt="2026-01-02T03:04:05Z")
    assert result["userErrors"] == []
    assert result["customer"]["emailMarketingConsent"] == {
        "marketingState": "UNSUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN",
        "consentUpdatedAt": "2026-01-02T03:04:05Z",
    }
    stored = shop.store.get_object("shopify", "customers", customer.object_id)
    assert stored is not None and stored.updated_at > customer.updated_at
    assert stored.payload["updatedAt"] == stored.updated_at[:19] + "Z"
    since = customer.updated_at[:19] + "Z"
    changed = shop.data(
        "query($q: String) { customers(first: 250, query: $q) { nodes { id } } }", {"q": f"updated_at:>'{since}'"}
    )
    assert {"id": customer.object_id} in changed["customers"]["nodes"]
    again = _consent(shop, customer.object_id, "UNSUBSCRIBED")
    assert again["userErrors"] == [] and shop.store.get_object("shopify", "customers", customer.object_id) == stored
    unsubscribed = _customer_in(shop, "NOT_SUBSCRIBED")
    subscribed = _consent(shop, unsubscribed.object_id, "SUBSCRIBED")["customer"]["emailMarketingConsent"]
    assert subscribed["marketingState"] == "SUBSCRIBED" and subscribed["marketingOptInLevel"] == "SINGLE_OPT_IN"
    assert subscribed["consentUpdatedAt"] is not None


def test_consent_update_errors_and_scope(shop: Shop) -> None:
    customer = _customer_in(shop, "SUBSCRIBED")
    missing = _consent(shop, "gid://shopify/Customer/1", "UNSUBSCRIBED")
    assert missing == {
        "customer": None,
        "userErrors": [{"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}],
    }
    assert _consent(shop, customer.object_id, "NOT_SUBSCRIBED")["userErrors"][0]["code"] == "INCLUSION"
    future = _consent(shop, customer.object_id, "UNSUBSCRIBED", consentUpdatedAt="2999-01-01T00:00:00Z")
    assert future["userErrors"][0]["field"] == ["input", "emailMarketingConsent", "consentUpdatedAt"]
    no_email = next(c for c in shop.store.iter_all("shopify", "customers") if not c.payload.get("email"))
    assert _consent(shop, no_email.object_id, "SUBSCRIBED")["userErrors"][0]["code"] == "INVALID"
    payload = dict(customer.payload, emailMarketingConsent={"marketingState": "REDACTED"})
    shop.store.put("shopify", "customers", customer.object_id, payload)
    assert _consent(shop, customer.object_id, "SUBSCRIBED")["userErrors"][0]["code"] == "INVALID"
    variables = {"input": {"customerId": customer.object_id, "emailMarketingConsent": {"marketingState": "PENDING"}}}
    denied = shop.gql(CONSENT, variables, token=READ_ONLY_ACCESS_TOKEN)
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "write_customers" in denied["errors"][0]["message"]


def test_price_update_persists_and_bumps_updated_at(shop: Shop) -> None:
    variant = shop.store.page("shopify", "productVariants", limit=1)[0]
    product = variant.payload["product"]["id"]
    result = shop.data(PRICES, {"p": product, "v": [{"id": variant.object_id, "price": "12.5", "compareAtPrice": 15}]})
    updated = result["productVariantsBulkUpdate"]["productVariants"][0]
    assert updated["price"] == "12.50" and updated["compareAtPrice"] == "15.00"
    stored = shop.store.get_object("shopify", "productVariants", variant.object_id)
    assert stored is not None and stored.payload["price"] == "12.50" and stored.updated_at > variant.updated_at
    since = variant.updated_at[:19] + "Z"
    changed = shop.data(
        "query($q: String) { productVariants(first: 5, query: $q) { nodes { id } } }", {"q": f"updated_at:>'{since}'"}
    )
    assert {"id": variant.object_id} in changed["productVariants"]["nodes"]


def test_price_update_errors_and_scopes(shop: Shop) -> None:
    variants = shop.store.page("shopify", "productVariants", limit=2)
    product = variants[0].payload["product"]["id"]
    wrong = {"id": variants[1].object_id, "price": "1.00"}
    errors = shop.data(PRICES, {"p": product, "v": [wrong]})["productVariantsBulkUpdate"]["userErrors"]
    assert errors == [
        {
            "field": ["variants", "0", "id"],
            "message": "Product variant does not exist",
            "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
        }
    ]
    missing = shop.data(PRICES, {"p": "gid://shopify/Product/1", "v": [wrong]})["productVariantsBulkUpdate"]
    assert missing["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"
    denied = shop.gql(PRICES, {"p": product, "v": [wrong]}, token=READ_ONLY_ACCESS_TOKEN)
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert denied["data"] == {"productVariantsBulkUpdate": None}


STOCK = """
mutation($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "%s") {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""


def _level(shop: Shop) -> dict[str, Any]:
    return shop.store.page("shopify", "inventoryLevels", limit=1)[0].payload


def _stock_input(level: dict[str, Any], quantity: int, **extra: Any) -> dict[str, Any]:
    entry = {
        "inventoryItemId": level["item"]["id"],
        "locationId": level["location"]["id"],
        "quantity": quantity,
        **extra,
    }
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://canalis/Test/1",
        "quantities": [entry],
    }


def _available(shop: Shop, level_id: str) -> int:
    payload = shop.store.get("shopify", "inventoryLevels", level_id) or {}
    return {q["name"]: q["quantity"] for q in payload["quantities"]}["available"]


def test_inventory_set_is_idempotent_per_key(shop: Shop) -> None:
    level = _level(shop)
    first = shop.data(STOCK % "key-1", {"input": _stock_input(level, 1234, changeFromQuantity=None)})
    group = first["inventorySetQuantities"]["inventoryAdjustmentGroup"]
    assert {c["name"]: c["quantityAfterChange"] for c in group["changes"]}["available"] == 1234
    shop.data(STOCK % "key-2", {"input": _stock_input(level, 7, changeFromQuantity=None)})
    again = shop.data(STOCK % "key-1", {"input": _stock_input(level, 1234, changeFromQuantity=None)})
    assert again == first and _available(shop, level["id"]) == 7
    reused = shop.gql(STOCK % "key-1", {"input": _stock_input(level, 99, changeFromQuantity=None)})
    assert "different arguments" in reused["errors"][0]["message"]
    missing_key = shop.gql(
        STOCK.replace(' @idempotent(key: "%s")', ""), {"input": _stock_input(level, 5, changeFromQuantity=None)}
    )
    assert "@idempotent" in missing_key["errors"][0]["message"]


def test_inventory_set_checks_compare_quantities_by_version(shop: Shop) -> None:
    level = _level(shop)
    current = _available(shop, level["id"])
    stale = shop.data(STOCK % "k3", {"input": _stock_input(level, 3, changeFromQuantity=current + 1)})
    assert stale["inventorySetQuantities"]["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    no_choice = shop.data(STOCK % "k4", {"input": _stock_input(level, 3)})
    assert "changeFromQuantity" in no_choice["inventorySetQuantities"]["userErrors"][0]["message"]
    old = STOCK.replace(' @idempotent(key: "%s")', "")
    required = shop.data(old, {"input": _stock_input(level, 3)}, version="2025-10")
    assert required["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_REQUIRED"
    ignored = shop.data(old, {"input": {**_stock_input(level, 3), "ignoreCompareQuantity": True}}, version="2025-10")
    assert ignored["inventorySetQuantities"]["userErrors"] == [] and _available(shop, level["id"]) == 3
    unchanged = shop.data(old, {"input": {**_stock_input(level, 3), "ignoreCompareQuantity": True}}, version="2025-10")
    assert unchanged["inventorySetQuantities"]["inventoryAdjustmentGroup"] is None


def test_inventory_set_caps_quantities_at_250(shop: Shop) -> None:
    level = _level(shop)
    data = _stock_input(level, 1, changeFromQuantity=None)
    data["quantities"] = data["quantities"] * 251
    body = shop.gql(STOCK % "big", {"input": data})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


DISCOUNT = """
mutation($d: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $d) {
  codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status } } }
  userErrors { field code message } } }
"""


def test_discount_create_update_deactivate(shop: Shop) -> None:
    data = {
        "title": "Essai -15 %",
        "code": "ESSAI15",
        "startsAt": "2026-01-01T00:00:00Z",
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
    }
    created = shop.data(DISCOUNT, {"d": data})["discountCodeBasicCreate"]
    node = created["codeDiscountNode"]
    assert created["userErrors"] == [] and node["codeDiscount"]["status"] == "ACTIVE"
    taken = shop.data(DISCOUNT, {"d": data})["discountCodeBasicCreate"]["userErrors"]
    assert taken[0]["code"] == "TAKEN"
    found = shop.data('{ codeDiscountNodeByCode(code: "essai15") { id } }')["codeDiscountNodeByCode"]
    assert found == {"id": node["id"]}
    update = shop.data(
        "mutation($id: ID!, $d: DiscountCodeBasicInput!) { discountCodeBasicUpdate(id: $id, basicCodeDiscount: $d) "
        "{ codeDiscountNode { codeDiscount { ... on DiscountCodeBasic { customerGets { value { ... on DiscountAmount "
        "{ amount { amount } } } } } } } userErrors { message } } }",
        {"id": node["id"], "d": {"customerGets": {"value": {"discountAmount": {"amount": "5"}}}}},
    )["discountCodeBasicUpdate"]
    assert update["codeDiscountNode"]["codeDiscount"]["customerGets"]["value"]["amount"]["amount"] == "5.00"
    ended = shop.data(
        "mutation($id: ID!) { discountCodeDeactivate(id: $id) { codeDiscountNode { codeDiscount { ... on "
        "DiscountCodeBasic { status endsAt } } } } }",
        {"id": node["id"]},
    )["discountCodeDeactivate"]["codeDiscountNode"]["codeDiscount"]
    assert ended["status"] == "EXPIRED" and ended["endsAt"] is not None
    bad = shop.data(DISCOUNT, {"d": {**data, "code": "X1", "customerGets": {"value": {"percentage": 1.5}}}})
    assert bad["discountCodeBasicCreate"]["userErrors"][0]["code"] == "VALUE_OUTSIDE_RANGE"


# --- bulk operations ------------------------------------------------------------------------------------------


def _finished(shop: Shop, operation: str) -> dict[str, Any]:
    status_query = (
        "query($id: ID!) { node(id: $id) { ... on BulkOperation { status objectCount rootObjectCount url } } }"
    )
    for _ in range(500):
        node = shop.data(status_query, {"id": operation})["node"]
        if node["status"] not in ("CREATED", "RUNNING"):
            return node
        time.sleep(0.01)  # the export runs in a background thread of the emulator
    raise AssertionError("bulk operation did not finish")


def test_bulk_export_writes_jsonl_with_parent_ids(shop: Shop) -> None:
    run = shop.data(queries.BULK_RUN, {"query": queries.BULK["orders"]})["bulkOperationRunQuery"]
    assert run["userErrors"] == []
    node = _finished(shop, run["bulkOperation"]["id"])
    orders = [o.payload for o in shop.store.iter_all("shopify", "orders")]
    lines_total = sum(len(o["lineItems"]["nodes"]) for o in orders)
    assert node["status"] == "COMPLETED"
    assert int(node["rootObjectCount"]) == len(orders) and int(node["objectCount"]) == len(orders) + lines_total
    path = node["url"].split("/", 3)[3]
    response = shop.client.get("/" + path)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    parent = None
    for line in lines:
        if "__parentId" in line:
            assert line["__parentId"] == parent and line["id"].startswith("gid://shopify/LineItem/")
        else:
            parent = line["id"]
            assert "lineItems" not in line
    resumed = shop.client.get("/" + path, headers={"Range": "bytes=10-"})
    assert resumed.status_code == 206 and resumed.get_data() == response.get_data()[10:]
    assert shop.client.get("/" + path.replace("X-Goog-Signature=", "X-Goog-Signature=0")).status_code == 403
    current = shop.data("{ currentBulkOperation { id status } }")["currentBulkOperation"]
    assert current == {"id": run["bulkOperation"]["id"], "status": "COMPLETED"}


def test_bulk_queries_are_checked(shop: Shop) -> None:
    for query, words in (
        ("{ shop { name } }", "connection"),
        ("{ customers { edges { node { orders { edges { node { id } } } } } } }", "'id'"),
        ("{ nope }", "Invalid bulk query"),
    ):
        errors = shop.data(queries.BULK_RUN, {"query": query})["bulkOperationRunQuery"]["userErrors"]
        assert errors and words in errors[0]["message"] and errors[0]["code"] == "INVALID"
