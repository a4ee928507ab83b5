"""Paged reads: cursor connections in updatedAt order, resumable from the stored cursor with a look-back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from canalis.connectors.shopify import queries
from canalis.connectors.shopify.client import MAX_QUERY_COST, ShopifyClient
from canalis.connectors.shopify.settings import ShopifySettings
from canalis.connectors.shopify.streams import record_cursor
from canalis.sdk import ConnectorError, Page, Stream, StreamState, parse_cursor_datetime

COST_MARGIN = 10


def page_size(settings: ShopifySettings, node_cost: int, overhead: int = 0) -> int:
    """The largest page (up to the page_size setting) whose query stays under the cost limit."""
    budget = MAX_QUERY_COST - COST_MARGIN - 2 - overhead
    return max(1, min(settings.page_size, budget // max(1, node_cost)))


def search_since(state: StreamState, lookback: timedelta) -> str | None:
    """The `query` filter of an incremental read: updated after the cursor minus the look-back."""
    since = state.since(lookback)
    if since is None:
        return None
    return f"updated_at:>'{since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def _cursor_value(stream: type[Stream], record: dict[str, Any]) -> datetime | None:
    value = record_cursor(stream, record)
    if not isinstance(value, str):
        return None
    try:
        return parse_cursor_datetime(value)
    except ValueError:
        return None  # a malformed record: quarantined by validation, never moves the cursor


def latest(stream: type[Stream], records: list[dict[str, Any]]) -> datetime | None:
    """The highest readable cursor value of some records."""
    values = [value for record in records if (value := _cursor_value(stream, record)) is not None]
    return max(values) if values else None


def enrich_discount(record: dict[str, Any]) -> dict[str, Any]:
    """Add `_percentage_points` (10 for a 0.1 percentage) so mappings need no arithmetic."""
    value = ((record.get("codeDiscount") or {}).get("customerGets") or {}).get("value") or {}
    percentage = value.get("percentage")
    if isinstance(percentage, int | float) and not isinstance(percentage, bool):
        try:
            points = (Decimal(str(percentage)) * 100).normalize()
        except InvalidOperation:
            return record
        record = {**record, "_percentage_points": format(points, "f")}
    return record


NODES_PER_CALL = 250  # Shopify's limit on the ids of one `nodes` query


class Reader:
    """Reads the streams of one shop page by page."""

    def __init__(self, client: ShopifyClient, settings: ShopifySettings) -> None:
        self.client = client
        self.settings = settings
        self._currency: str | None = None

    def shop_currency(self) -> str:
        """The shop currency, which variant prices are in."""
        if self._currency is None:
            self._currency = str(self.client.execute(queries.SHOP, name="shop")["shop"]["currencyCode"])
        return self._currency

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.settings.lookback_minutes)

    def sorted_stream(
        self, stream: type[Stream], state: StreamState, document: str, root: str, node_cost: int, **extra: Any
    ) -> Iterator[Page]:
        """A connection read in ascending updatedAt order: each page moves the cursor to its last record."""
        first = page_size(self.settings, node_cost)
        variables: dict[str, Any] = {
            "first": first,
            "after": None,
            "query": search_since(state, self.lookback),
            **extra,
        }
        while True:
            data = self.client.execute(document, variables, name=stream.name, estimate=2 + first * node_cost)
            connection = data[root]
            records = [self.complete(stream, node) for node in connection.get("nodes") or []]
            newest = latest(stream, records)
            state = state.advanced(newest) if newest is not None else state
            yield Page(records=records, state=state)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            variables["after"] = _next_cursor(info, variables["after"], stream.name)

    def unsorted_stream(
        self, stream: type[Stream], state: StreamState, pages: Iterator[list[dict[str, Any]]]
    ) -> Iterator[Page]:
        """A read in id order: the cursor moves only once every page was read."""
        newest: datetime | None = None
        for records in pages:
            found = latest(stream, records)
            newest = found if newest is None or (found is not None and found > newest) else newest
            yield Page(records=records, state=state)
        if newest is not None:
            yield Page(records=[], state=state.advanced(newest))

    def complete(self, stream: type[Stream], record: dict[str, Any]) -> dict[str, Any]:
        """Finish a record read from a page: all order lines, discount percentage points, price currency."""
        if stream.name == "orders":
            return self._all_lines(record)
        return self.enrich(stream, record)

    def enrich(self, stream: type[Stream], record: dict[str, Any]) -> dict[str, Any]:
        """Add the values Shopify leaves implicit: `_currency` of variant prices, `_percentage_points`."""
        if stream.name == "discounts":
            return enrich_discount(record)
        if stream.name == "variants":
            return {**record, "_currency": self.shop_currency()}
        return record

    def _all_lines(self, order: dict[str, Any]) -> dict[str, Any]:
        lines = order.get("lineItems")
        if not isinstance(lines, dict):
            return order
        nodes = list(lines.get("nodes") or [])
        info = lines.get("pageInfo") or {}
        after = None
        while info.get("hasNextPage") and order.get("id"):
            after = _next_cursor(info, after, "orders")
            node = self.client.execute(queries.ORDER_LINES, {"id": order["id"], "after": after}, name="order_lines")
            more = (node.get("node") or {}).get("lineItems") or {}
            nodes.extend(more.get("nodes") or [])
            info = more.get("pageInfo") or {}
        return {**order, "lineItems": {"nodes": nodes}}

    def by_id(self, stream: type[Stream], ids: list[str]) -> Iterator[dict[str, Any]]:
        """Records of a stream by global id, completed as a read completes them; unknown ids are left out."""
        if stream.name == "orders":
            lines = self.settings.line_items_per_order
            document, cost = (
                queries.orders_by_id(),
                queries.ORDER_HEAD_COST + 1 + 2 + lines * (1 + queries.LINE_ITEM_COST),
            )
            extra: dict[str, Any] = {"lines": lines}
        else:
            type_name, selection, cost = queries.BY_ID[stream.name]
            document, extra = queries.nodes_by_id(type_name, selection), {}
        size = min(page_size(self.settings, cost), NODES_PER_CALL)
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            data = self.client.execute(
                document, {"ids": chunk, **extra}, name=f"{stream.name} by id", estimate=2 + len(chunk) * cost
            )
            for node in data.get("nodes") or []:
                if isinstance(node, dict) and node.get("id"):
                    yield self.complete(stream, node)

    # --- streams ----------------------------------------------------------------------------------

    def customers(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        document = queries.sorted_listing("customers", queries.CUSTOMER, "UPDATED_AT")
        return self.sorted_stream(stream, state, document, "customers", queries.CUSTOMER_COST)

    def orders(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        lines = self.settings.line_items_per_order
        cost = queries.ORDER_HEAD_COST + 1 + 2 + lines * (1 + queries.LINE_ITEM_COST)
        return self.sorted_stream(stream, state, queries.orders_listing(), "orders", cost, lines=lines)

    def discounts(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        document = queries.sorted_listing("codeDiscountNodes", queries.DISCOUNT, "UPDATED_AT")
        return self.sorted_stream(stream, state, document, "codeDiscountNodes", queries.DISCOUNT_COST)

    def variants(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        document = queries.sorted_listing("productVariants", queries.VARIANT, "ID")
        first = page_size(self.settings, queries.VARIANT_COST)
        variables = {"first": first, "query": search_since(state, self.lookback)}
        pages = self._pages(document, "productVariants", variables, stream.name, 2 + first * queries.VARIANT_COST)
        enriched = ([self.enrich(stream, record) for record in records] for records in pages)
        return self.unsorted_stream(stream, state, enriched)

    def locations(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        first = page_size(self.settings, queries.LOCATION_COST)
        estimate = 2 + first * queries.LOCATION_COST
        for records in self._pages(queries.LOCATIONS, "locations", {"first": first}, stream.name, estimate):
            yield Page(records=records, state=state)

    def inventory_levels(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        return self.unsorted_stream(stream, state, self._levels(stream, state))

    def _levels(self, stream: type[Stream], state: StreamState) -> Iterator[list[dict[str, Any]]]:
        query = search_since(state, self.lookback)
        first = page_size(self.settings, queries.INVENTORY_LEVEL_COST, overhead=1)
        for location in self.location_ids():
            variables = {"location": location, "first": first, "query": query}
            estimate = 3 + first * queries.INVENTORY_LEVEL_COST
            yield from self._pages(
                queries.INVENTORY_LEVELS, "location.inventoryLevels", variables, stream.name, estimate
            )

    def location_ids(self) -> list[str]:
        """Every location id of the shop (a shop has at most a few hundred)."""
        found: list[str] = []
        variables: dict[str, Any] = {"after": None}
        for records in self._pages(queries.LOCATION_IDS, "locations", variables, "location_ids", 502):
            found.extend(record["id"] for record in records if record.get("id"))
        return found

    def _pages(
        self, document: str, root: str, variables: dict[str, Any], name: str, estimate: float
    ) -> Iterator[list[dict[str, Any]]]:
        """The node lists of a connection at a dotted root path, page by page."""
        variables = {"after": None, **variables}
        while True:
            data: Any = self.client.execute(document, variables, name=name, estimate=estimate)
            for part in root.split("."):
                data = data.get(part) if isinstance(data, dict) else None
            if data is None:
                return  # e.g. a location removed while reading
            yield list(data.get("nodes") or [])
            info = data.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            variables["after"] = _next_cursor(info, variables["after"], name)


def _next_cursor(info: dict[str, Any], previous: str | None, name: str) -> str:
    cursor = info.get("endCursor")
    if not cursor or cursor == previous:
        raise ConnectorError(f"shopify: {name} returned hasNextPage without a new endCursor; stopping")
    return str(cursor)
