"""The bulk query executor gives what graphql-core's `execute` gives, and bulk files stay line for line the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import execute, parse

from canalis.connectors.shopify import queries
from canalis.sandbox.emulators.shopify.bulk import BulkOperations, flatten
from canalis.sandbox.emulators.shopify.bulkquery import BulkQuery, BulkQueryError
from canalis.sandbox.emulators.shopify.objects import ObjectAccess
from canalis.sandbox.emulators.shopify.paging import BulkPager, decode_cursor
from canalis.sandbox.emulators.shopify.schema import schema_for
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.world import WorldSpec, generate_world, store_path

VERSION = "2026-07"

QUERIES = [
    *queries.BULK.values(),
    "{ products { edges { node { id title totalInventory variantsCount { count } "
    "variants { edges { node { id sku displayName inventoryItem { id } } } } } } } }",
    '{ orders(query: "financial_status:paid") { nodes { __typename id first: name total: totalPriceSet '
    "{ shopMoney { amount } presentmentMoney { amount currencyCode } } "
    "lineItems { nodes { id title currentQuantity product { id title } variant { id sku } } } } } }",
    "{ locations(includeInactive: true) { edges { node { id name address { formatted country } "
    'inventoryLevels { edges { node { id quantities(names: ["available", "on_hand"]) { name quantity } '
    "item { id sku } } } } } } } }",
    "{ codeDiscountNodes { edges { node { id codeDiscount { __typename "
    "... on DiscountCodeBasic { title summary codes { edges { node { code } } } customerGets { value { "
    "__typename ... on DiscountPercentage { percentage } ... Amount } } } } } } } } "
    "fragment Amount on DiscountAmount { amount { amount currencyCode } appliesOnEachItem }",
    '{ customers(sortKey: UPDATED_AT, query: "state:enabled") { edges { node { id email @skip(if: true) '
    "firstName @include(if: true) defaultEmailAddress { emailAddress marketingState } "
    "defaultPhoneNumber { phoneNumber } } } } }",
    "{ orders { edges { cursor node { id lineItems { edges { cursor node { id } } pageInfo { startCursor } } } } "
    "pageInfo { ...Page } } } fragment Page on PageInfo { endCursor hasNextPage }",
    "{ customers { edges { ... on CustomerEdge { cursor } node { id } } } }",
    "{ inventoryItems { edges { node { id sku tracked variant { id } "
    "inventoryLevels { edges { node { id location { id name } } } } } } } }",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    data_dir = tmp_path_factory.mktemp("bulk-world")
    generate_world(WorldSpec(seed=5, customers=700, now=datetime(2026, 1, 15, 9, tzinfo=UTC)), data_dir)
    with ObjectStore(store_path(data_dir)) as opened:
        yield opened


def _context(store: ObjectStore, pager: BulkPager) -> dict[str, Any]:
    return {
        "access": ObjectAccess(store),
        "bulk": pager,
        "version": VERSION,
        "faults": FaultPlan(),
        "corrupt": set(),
        "cache": {},
        "bulk_store": None,
        "request_root": "",
    }


def _pages(store: ObjectStore, query: str, run: Any) -> list[Any]:
    """Every page's data of a bulk query, the top-level connection paged as an export pages it."""
    pager, pages = BulkPager(page_size=40), []
    while True:
        pages.append(run(_context(store, pager)))
        if not pager.has_next:
            return pages
        pager.after, pager.next_after = pager.next_after, None


@pytest.mark.parametrize("query", QUERIES)
def test_the_bulk_executor_answers_as_graphql_core_does(store: ObjectStore, query: str) -> None:
    schema, document = schema_for(VERSION), parse(query)
    planned = BulkQuery(schema, document)

    def reference(context: dict[str, Any]) -> Any:
        result = execute(schema, document, context_value=context)
        assert result.errors is None, result.errors
        return result.data

    ours, theirs = _pages(store, query, planned.run), _pages(store, query, reference)
    assert len(theirs) > 1 or query.startswith(("{ locations", "{ codeDiscount", "{ products"))
    assert ours == theirs
    for mine, expected in zip(ours, theirs, strict=True):
        assert json.dumps(mine) == json.dumps(expected)  # the same keys in the same order
        top_mine, top_expected = next(iter(mine.values())), next(iter(expected.values()))
        for group in (True, False):
            assert flatten(top_mine, group=group) == flatten(top_expected, group=group)


def test_an_error_stops_the_bulk_query_with_graphql_cores_message(store: ObjectStore) -> None:
    schema = schema_for(VERSION)
    document = parse("{ orders { edges { node { id name } } } }")
    pager = BulkPager()
    context = _context(store, pager)
    context["access"] = None  # the resolver of the top-level connection fails
    expected = execute(schema, document, context_value=_context(store, BulkPager()) | {"access": None})
    assert expected.errors
    with pytest.raises(BulkQueryError) as raised:
        BulkQuery(schema, document).run(context)
    assert str(raised.value) == expected.errors[0].message


def test_a_bulk_export_writes_the_file_graphql_core_would_have_written(store: ObjectStore, tmp_path: Path) -> None:
    bulk = BulkOperations(ObjectAccess(store), schema_for, tmp_path)
    for number, (kind, group) in enumerate((("orders", False), ("orders", True), ("customers", True)), start=1):
        query = queries.BULK[kind]
        state = {
            "id": f"gid://shopify/BulkOperation/{number}",
            "status": "CREATED",
            "query": query,
            "version": VERSION,
            "groupObjects": group,
        }
        bulk._export(number, state)
        written = (tmp_path / f"bulk-{number}.jsonl").read_text(encoding="utf-8")
        schema, document, expected = schema_for(VERSION), parse(query), []
        for data in _pages_of(store, schema, document):
            for line in flatten(next(iter(data.values())), group=group):
                expected.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        assert written == "".join(expected)
        assert state["status"] == "COMPLETED" and state["objectCount"] == len(expected)


def _pages_of(store: ObjectStore, schema: Any, document: Any) -> Iterator[Any]:
    pager = BulkPager()
    while True:
        result = execute(schema, document, context_value=_context(store, pager))
        assert result.errors is None
        yield result.data
        if not pager.has_next:
            return
        pager.after, pager.next_after = pager.next_after, None


def test_cursors_read_by_a_bulk_query_are_the_real_ones(store: ObjectStore) -> None:
    query = (
        "{ orders { edges { cursor node { id lineItems { edges { ...Edge } } } } pageInfo { endCursor } } } "
        "fragment Edge on LineItemEdge { cursor node { id } }"
    )
    data = BulkQuery(schema_for(VERSION), parse(query)).run(_context(store, BulkPager(page_size=30)))
    edges = data["orders"]["edges"]
    seqs = [decode_cursor(edge["cursor"]) for edge in edges]
    assert seqs == [o.seq for o in store.page("shopify", "orders", limit=30)]
    assert decode_cursor(data["orders"]["pageInfo"]["endCursor"]) == seqs[-1]
    lines = [edge for order in edges for edge in order["node"]["lineItems"]["edges"]]
    assert lines and all(decode_cursor(line["cursor"]) >= 0 for line in lines)
    plain = BulkQuery(schema_for(VERSION), parse("{ orders { edges { node { id } } } }"))
    plain_edges = plain.run(_context(store, BulkPager(page_size=30)))["orders"]["edges"]
    assert [edge["node"]["id"] for edge in plain_edges] == [edge["node"]["id"] for edge in edges]
