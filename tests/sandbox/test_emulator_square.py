"""The Square emulator: published response shapes, cursor paging, filters, writes, idempotency, auth and faults."""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from canalis.sandbox.emulators.square import ACCESS_TOKEN, READ_ONLY_TOKEN, SquareEmulator
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.app import SandboxApp
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.world import WorldSpec, generate_world, store_path

SPEC_FILE = "square/square-api-commerce-subset.json"
HEADERS = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Square-Version": "2025-08-20"}


def specs_dir() -> Path:
    """The shared vendor descriptions: $CANALIS_SPECS_DIR, else `shared/specs` beside the repository."""
    configured = os.environ.get("CANALIS_SPECS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "specs"


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world, made once per module."""
    folder = tmp_path_factory.mktemp("square-world")
    generate_world(WorldSpec(seed=11, customers=80), folder)
    return store_path(folder)


@pytest.fixture
def store(world_template: Path, tmp_path: Path) -> Iterator[ObjectStore]:
    """A private copy of the world's object store for one test."""
    target = tmp_path / "sandbox.db"
    shutil.copy(world_template, target)
    with ObjectStore(target) as opened:
        yield opened


def client_for(store: ObjectStore, faults: str | None = None) -> Client:
    return Client(SandboxApp(store, faults=FaultPlan.from_spec(faults), emulators=[SquareEmulator]))


@pytest.fixture
def client(store: ObjectStore) -> Client:
    return client_for(store)


def get(client: Client, path: str, headers: dict[str, str] | None = None, **params: Any) -> TestResponse:
    return client.get(f"/square{path}", query_string=params, headers=HEADERS if headers is None else headers)


def post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
    return client.post(f"/square{path}", json=body, headers=HEADERS if headers is None else headers)


# --- contract: the published OpenAPI description -----------------------------------------------------


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: `nullable` becomes a null alternative."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in converted:
            return {"anyOf": [{"$ref": converted.pop("$ref")}, {"type": "null"}], **converted}
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


@cache
def _components() -> dict[str, Any]:
    path = specs_dir() / SPEC_FILE
    if not path.is_file():
        pytest.skip(f"Square API description not found at {path} (set CANALIS_SPECS_DIR)")
    document = json.loads(path.read_text(encoding="utf-8"))
    return {"components": _openapi_to_json_schema(document["components"])}


def assert_matches(schema_name: str, body: Any) -> None:
    """Validate a response body against a named schema of the published Square description."""
    jsonschema = pytest.importorskip("jsonschema")
    components = _components()
    schema = {**components, "$ref": f"#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft7Validator(schema)
    problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not problems, f"{schema_name}: {problems[0].message} at {list(problems[0].absolute_path)}"


def assert_error(response: TestResponse, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"errors"}
    error = body["errors"][0]
    assert error["code"] == code
    if field is not None:
        assert error.get("field") == field
    assert_matches("Error", {**error, "code": "BAD_REQUEST"} if code == "VERSION_MISMATCH" else error)
    return error


def test_the_contract_check_catches_a_wrong_shape() -> None:
    with pytest.raises(AssertionError, match="ListCustomersResponse"):
        assert_matches("ListCustomersResponse", {"customers": [{"id": "A", "version": "seven"}]})
    with pytest.raises(AssertionError, match="Error"):
        assert_matches("Error", {"category": "OOPS", "code": "UNAUTHORIZED"})


def location_ids(client: Client) -> list[str]:
    return [location["id"] for location in get(client, "/v2/locations").json["locations"]]


def test_read_endpoints_answer_in_the_published_shapes(client: Client) -> None:
    locations = location_ids(client)
    checks = [
        ("ListLocationsResponse", get(client, "/v2/locations")),
        ("ListCustomersResponse", get(client, "/v2/customers", limit=5, count="true")),
        ("SearchCustomersResponse", post(client, "/v2/customers/search", {"limit": 5, "count": True})),
        ("SearchOrdersResponse", post(client, "/v2/orders/search", {"location_ids": locations, "limit": 25})),
        ("ListCatalogResponse", get(client, "/v2/catalog/list", types="ITEM,ITEM_VARIATION,DISCOUNT,PRICING_RULE")),
        ("SearchCatalogObjectsResponse", post(client, "/v2/catalog/search", {"include_related_objects": True})),
        ("BatchRetrieveInventoryCountsResponse", post(client, "/v2/inventory/counts/batch-retrieve", {"limit": 50})),
        ("CatalogInfoResponse", get(client, "/v2/catalog/info")),
    ]
    for schema, response in checks:
        assert response.status_code == 200, response.get_data(as_text=True)
        assert_matches(schema, response.json)
    item = get(client, "/v2/catalog/list", types="ITEM").json["objects"][0]
    variation = item["item_data"]["variations"][0]
    retrieved = post(
        client, "/v2/catalog/batch-retrieve", {"object_ids": [variation["id"]], "include_related_objects": True}
    )
    assert_matches("BatchRetrieveCatalogObjectsResponse", retrieved.json)
    assert retrieved.json["objects"][0]["id"] == variation["id"]
    assert retrieved.json["related_objects"][0]["id"] == item["id"]


# --- paging -------------------------------------------------------------------------------------------


def walk(client: Client, method: str, path: str, request: dict[str, Any], key: str) -> tuple[list[dict], int]:
    """Every record of a listing, following `cursor` until it is absent; returns (records, pages)."""
    records: list[dict] = []
    pages = 0
    cursor = None
    while True:
        if method == "GET":
            params = {**request, **({"cursor": cursor} if cursor else {})}
            response = get(client, path, **params)
        else:
            response = post(client, path, {**request, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.get_data(as_text=True)
        pages += 1
        records.extend(response.json.get(key, []))
        cursor = response.json.get("cursor")
        if not cursor:
            return records, pages


def test_customers_list_pages_with_a_cursor_until_it_is_absent(client: Client, store: ObjectStore) -> None:
    total = store.count("square", "customers")
    records, pages = walk(client, "GET", "/v2/customers", {"limit": 7}, "customers")
    assert len(records) == total and len({r["id"] for r in records}) == total
    assert pages == -(-total // 7)
    newest_first, _ = walk(
        client, "GET", "/v2/customers", {"limit": 9, "sort_field": "CREATED_AT", "sort_order": "DESC"}, "customers"
    )
    created = [r["created_at"] for r in newest_first]
    assert created == sorted(created, reverse=True) and len(created) == total
    assert get(client, "/v2/customers", limit=5, count="true").json["count"] == total


def test_a_cursor_only_pages_the_query_it_came_from(client: Client) -> None:
    cursor = get(client, "/v2/customers", limit=5).json["cursor"]
    assert_error(get(client, "/v2/customers", limit=5, cursor=cursor, sort_field="CREATED_AT"), 400, "INVALID_CURSOR")
    assert_error(get(client, "/v2/customers", cursor="not-a-cursor"), 400, "INVALID_CURSOR", "cursor")
    assert_error(get(client, "/v2/customers", limit=0), 400, "VALUE_TOO_LOW", "limit")
    assert_error(get(client, "/v2/customers", limit=101), 400, "VALUE_TOO_HIGH", "limit")
    assert_error(post(client, "/v2/customers/search", {"limit": 101}), 400, "VALUE_TOO_HIGH", "limit")


def test_customer_search_filters_on_updated_at_and_sorts_by_creation(client: Client, store: ObjectStore) -> None:
    everyone = [obj.payload for obj in store.iter_all("square", "customers")]
    since = sorted(c["updated_at"] for c in everyone)[len(everyone) // 2]
    query = {"filter": {"updated_at": {"start_at": since}}, "sort": {"field": "CREATED_AT", "order": "ASC"}}
    found, _ = walk(client, "POST", "/v2/customers/search", {"limit": 4, "query": query}, "customers")
    expected = {c["id"] for c in everyone if c["updated_at"] >= since}
    assert {c["id"] for c in found} == expected and len(found) == len(expected)
    created = [c["created_at"] for c in found]
    assert created == sorted(created)
    with_email = next(c for c in everyone if c.get("email_address"))
    exact = {"filter": {"email_address": {"exact": with_email["email_address"].upper()}}}
    matches = post(client, "/v2/customers/search", {"query": exact}).json["customers"]
    assert with_email["id"] in {c["id"] for c in matches}


def test_order_search_pages_ascending_by_updated_at(client: Client, store: ObjectStore) -> None:
    total = store.count("square", "orders")
    query = {"sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
    orders, pages = walk(
        client,
        "POST",
        "/v2/orders/search",
        {"location_ids": location_ids(client), "limit": 10, "query": query},
        "orders",
    )
    assert len(orders) == total and len({o["id"] for o in orders}) == total and pages == -(-total // 10)
    stamps = [o["updated_at"] for o in orders]
    assert stamps == sorted(stamps)
    since = stamps[total // 2]
    window = {"filter": {"date_time_filter": {"updated_at": {"start_at": since}}}, **query}
    later, _ = walk(
        client, "POST", "/v2/orders/search", {"location_ids": location_ids(client), "query": window}, "orders"
    )
    assert len(later) == sum(1 for s in stamps if s >= since)
    first = location_ids(client)[0]
    only_first, _ = walk(client, "POST", "/v2/orders/search", {"location_ids": [first], "query": query}, "orders")
    assert {o["location_id"] for o in only_first} == {first}
    assert len(only_first) == sum(1 for o in orders if o["location_id"] == first)


def test_order_search_rejects_what_square_rejects(client: Client) -> None:
    locations = location_ids(client)
    assert_error(post(client, "/v2/orders/search", {}), 400, "MISSING_REQUIRED_PARAMETER", "location_ids")
    assert_error(
        post(client, "/v2/orders/search", {"location_ids": [f"L{n}" for n in range(11)]}),
        400,
        "ARRAY_LENGTH_TOO_LONG",
        "location_ids",
    )
    mismatched = {
        "filter": {"date_time_filter": {"updated_at": {"start_at": "2025-01-01T00:00:00Z"}}},
        "sort": {"sort_field": "CREATED_AT"},
    }
    assert_error(
        post(client, "/v2/orders/search", {"location_ids": locations, "query": mismatched}),
        400,
        "INVALID_VALUE",
        "query.sort.sort_field",
    )
    assert_error(post(client, "/v2/orders/search", {"location_ids": locations, "limit": 1001}), 400, "VALUE_TOO_HIGH")


def test_catalog_list_shows_items_variations_and_discounts_in_pages_of_100(client: Client, store: ObjectStore) -> None:
    rows = [obj.payload for obj in store.iter_all("square", "catalog")]
    items = [row for row in rows if row["type"] == "ITEM"]
    variations = sum(len(item["item_data"]["variations"]) for item in items)
    discounts = sum(1 for row in rows if row["type"] == "DISCOUNT")
    objects, pages = walk(client, "GET", "/v2/catalog/list", {"types": "ITEM,ITEM_VARIATION,DISCOUNT"}, "objects")
    assert len(objects) == len(items) + variations + discounts
    assert pages == -(-len(objects) // 100)
    assert len({(o["type"], o["id"]) for o in objects}) == len(objects)
    assert not any(o["type"] == "PRICING_RULE" for o in objects)
    assert_error(get(client, "/v2/catalog/list", types="ITEM,GADGET"), 400, "INVALID_ENUM_VALUE", "types")


def test_catalog_search_finds_variations_by_sku_and_changes_after_begin_time(
    client: Client, store: ObjectStore
) -> None:
    item = next(obj.payload for obj in store.iter_all("square", "catalog") if obj.payload["type"] == "ITEM")
    sku = item["item_data"]["variations"][0]["item_variation_data"]["sku"]
    by_sku = {
        "object_types": ["ITEM_VARIATION"],
        "query": {"set_query": {"attribute_name": "sku", "attribute_values": [sku.lower()]}},
    }
    found = post(client, "/v2/catalog/search", by_sku).json["objects"]
    assert [o["item_variation_data"]["sku"] for o in found] == [sku]
    stamps = sorted(obj.updated_at for obj in store.iter_all("square", "catalog"))
    begin = stamps[-5]
    changed, _ = walk(client, "POST", "/v2/catalog/search", {"begin_time": begin, "limit": 2}, "objects")
    assert len(changed) == sum(1 for s in stamps if s > begin) > 0


# --- writes: catalog upsert, versions, idempotency ---------------------------------------------------------


def first_variation(client: Client) -> dict[str, Any]:
    item = get(client, "/v2/catalog/list", types="ITEM").json["objects"][0]
    return item["item_data"]["variations"][0]


def test_batch_upsert_checks_versions_and_persists_new_prices(client: Client, store: ObjectStore) -> None:
    variation = first_variation(client)
    latest_before = post(client, "/v2/catalog/search", {"limit": 1}).json["latest_time"]
    changed = copy.deepcopy(variation)
    changed["item_variation_data"]["price_money"] = {"amount": 4242, "currency": "EUR"}
    stale = {**changed, "version": variation["version"] - 1}
    refused = post(
        client, "/v2/catalog/batch-upsert", {"idempotency_key": "k-stale", "batches": [{"objects": [stale]}]}
    )
    assert_error(refused, 400, "VERSION_MISMATCH")
    response = post(client, "/v2/catalog/batch-upsert", {"idempotency_key": "k-1", "batches": [{"objects": [changed]}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_matches("BatchUpsertCatalogObjectsResponse", response.json)
    saved = response.json["objects"][0]
    assert saved["version"] > variation["version"] and saved["updated_at"] > latest_before
    again = post(client, "/v2/catalog/batch-retrieve", {"object_ids": [variation["id"]]}).json["objects"][0]
    assert again["item_variation_data"]["price_money"]["amount"] == 4242 and again["version"] == saved["version"]
    changes = post(client, "/v2/catalog/search", {"begin_time": latest_before, "object_types": ["ITEM_VARIATION"]})
    assert [o["id"] for o in changes.json["objects"]] == [variation["id"]]


def test_idempotency_key_replays_the_first_answer_and_refuses_other_bodies(client: Client) -> None:
    variation = first_variation(client)
    changed = copy.deepcopy(variation)
    changed["item_variation_data"]["price_money"]["amount"] += 100
    body = {"idempotency_key": "same-key", "batches": [{"objects": [changed]}]}
    first = post(client, "/v2/catalog/batch-upsert", body)
    replay = post(client, "/v2/catalog/batch-upsert", body)
    assert first.status_code == replay.status_code == 200
    assert replay.json == first.json
    current = post(client, "/v2/catalog/batch-retrieve", {"object_ids": [variation["id"]]}).json["objects"][0]
    assert current["version"] == first.json["objects"][0]["version"]
    other = copy.deepcopy(body)
    other["batches"][0]["objects"][0]["item_variation_data"]["price_money"]["amount"] += 1
    assert_error(post(client, "/v2/catalog/batch-upsert", other), 400, "IDEMPOTENCY_KEY_REUSED", "idempotency_key")
    assert_error(post(client, "/v2/catalog/batch-upsert", {"batches": []}), 400, "MISSING_REQUIRED_PARAMETER")


def test_new_objects_get_server_ids_and_batches_are_all_or_nothing(client: Client) -> None:
    discount = {
        "type": "DISCOUNT",
        "id": "#WINTER",
        "discount_data": {"name": "WINTER10", "discount_type": "FIXED_PERCENTAGE", "percentage": "10"},
    }
    rule = {"type": "PRICING_RULE", "id": "#RULE", "pricing_rule_data": {"name": "Winter", "discount_id": "#WINTER"}}
    broken = {"type": "DISCOUNT", "id": "#BROKEN", "discount_data": {"name": "X", "discount_type": "FIXED_AMOUNT"}}
    body = {"idempotency_key": "new-objects", "batches": [{"objects": [discount, rule]}, {"objects": [broken]}]}
    response = post(client, "/v2/catalog/batch-upsert", body)
    assert response.status_code == 200
    mapping = {m["client_object_id"]: m["object_id"] for m in response.json["id_mappings"]}
    assert set(mapping) == {"#WINTER", "#RULE"}
    saved_rule = next(o for o in response.json["objects"] if o["type"] == "PRICING_RULE")
    assert saved_rule["pricing_rule_data"]["discount_id"] == mapping["#WINTER"]
    assert response.json["errors"][0]["field"] == "batches[1].objects[0].discount_data.amount_money"
    names = {
        "object_types": ["DISCOUNT"],
        "query": {"exact_query": {"attribute_name": "name", "attribute_value": "WINTER10"}},
    }
    assert [o["id"] for o in post(client, "/v2/catalog/search", names).json["objects"]] == [mapping["#WINTER"]]
    missing = {"type": "DISCOUNT", "id": "NOSUCHID", "discount_data": discount["discount_data"]}
    only_bad = {"idempotency_key": "bad", "batches": [{"objects": [missing]}]}
    assert_error(post(client, "/v2/catalog/batch-upsert", only_bad), 400, "INVALID_VALUE")


# --- inventory --------------------------------------------------------------------------------------------


def physical_count(variation_id: str, location_id: str, quantity: str) -> dict[str, Any]:
    data = {
        "catalog_object_id": variation_id,
        "location_id": location_id,
        "state": "IN_STOCK",
        "quantity": quantity,
        "occurred_at": "2026-01-20T10:00:00Z",
    }
    return {"type": "PHYSICAL_COUNT", "physical_count": data}


def test_inventory_changes_set_and_adjust_counts_that_incremental_reads_see(client: Client) -> None:
    variation, location = first_variation(client)["id"], location_ids(client)[0]
    before = post(client, "/v2/inventory/counts/batch-retrieve", {"limit": 1000}).json["counts"]
    newest = max(c["calculated_at"] for c in before)
    adjustment = {
        "type": "ADJUSTMENT",
        "adjustment": {
            "catalog_object_id": variation,
            "location_id": location,
            "from_state": "IN_STOCK",
            "to_state": "SOLD",
            "quantity": "2",
            "occurred_at": "2026-01-20T10:05:00Z",
        },
    }
    body = {"idempotency_key": "inv-1", "changes": [physical_count(variation, location, "17"), adjustment]}
    response = post(client, "/v2/inventory/changes/batch-create", body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_matches("BatchChangeInventoryResponse", response.json)
    assert [c["quantity"] for c in response.json["counts"]] == ["15"]
    changed = post(client, "/v2/inventory/counts/batch-retrieve", {"updated_after": newest}).json["counts"]
    assert [(c["catalog_object_id"], c["location_id"], c["quantity"]) for c in changed] == [(variation, location, "15")]
    alias = {"idempotency_key": "inv-2", "changes": [physical_count(variation, location, "3.5")]}
    assert post(client, "/v2/inventory/batch-change", alias).json["counts"][0]["quantity"] == "3.5"
    legacy = post(client, "/v2/inventory/batch-retrieve-counts", {"catalog_object_ids": [variation]}).json["counts"]
    assert {c["quantity"] for c in legacy if c["location_id"] == location} == {"3.5"}


def test_inventory_changes_are_capped_at_100_and_validated_whole(client: Client, store: ObjectStore) -> None:
    variation, location = first_variation(client)["id"], location_ids(client)[0]
    too_many = {"idempotency_key": "many", "changes": [physical_count(variation, location, "1")] * 101}
    assert_error(post(client, "/v2/inventory/changes/batch-create", too_many), 400, "ARRAY_LENGTH_TOO_LONG", "changes")
    before = store.get("square", "inventory_counts", f"{variation}:{location}")
    mixed = {
        "idempotency_key": "mixed",
        "changes": [physical_count(variation, location, "99"), physical_count("NOPE", location, "1")],
    }
    error = assert_error(post(client, "/v2/inventory/changes/batch-create", mixed), 400, "INVALID_VALUE")
    assert error["field"] == "changes[1].physical_count.catalog_object_id"
    assert store.get("square", "inventory_counts", f"{variation}:{location}") == before
    no_key = {"changes": [physical_count(variation, location, "1")]}
    assert_error(post(client, "/v2/inventory/changes/batch-create", no_key), 400, "MISSING_REQUIRED_PARAMETER")


# --- auth and faults --------------------------------------------------------------------------------------


def test_credentials_are_checked_like_square_does(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ACCESS_TOKEN}):
        error = assert_error(get(client, "/v2/customers", headers=headers), 401, "UNAUTHORIZED")
        assert error["category"] == "AUTHENTICATION_ERROR"
    read_only = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
    assert get(client, "/v2/locations", headers=read_only).status_code == 200
    body = {
        "idempotency_key": "ro",
        "changes": [physical_count(first_variation(client)["id"], location_ids(client)[0], "1")],
    }
    assert_error(
        post(client, "/v2/inventory/changes/batch-create", body, headers=read_only), 403, "INSUFFICIENT_SCOPES"
    )
    bad_version = {**HEADERS, "Square-Version": "latest"}
    assert_error(get(client, "/v2/locations", headers=bad_version), 400, "INVALID_SQUARE_VERSION_FORMAT")


def test_injected_faults_answer_with_square_error_bodies(store: ObjectStore) -> None:
    limited = client_for(store, "square:429=1")
    error = assert_error(get(limited, "/v2/customers"), 429, "RATE_LIMITED")
    assert error["category"] == "RATE_LIMIT_ERROR"
    failing = client_for(store, "square:503=1")
    assert assert_error(get(failing, "/v2/customers"), 503, "SERVICE_UNAVAILABLE")["category"] == "API_ERROR"


def test_malformed_records_carry_an_unreadable_timestamp(store: ObjectStore) -> None:
    corrupting = client_for(store, "square:malformed=1")
    customers = get(corrupting, "/v2/customers", limit=3).json["customers"]
    assert len(customers) == 3 and all(c["updated_at"] == "2025-13-45T99:99:99Z" for c in customers)
