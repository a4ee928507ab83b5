"""Square v2 REST calls over the SDK's HttpClient: auth headers, cursor paging, and the calls Canalis uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from canalis.connectors.square.settings import SquareSettings
from canalis.sdk import ApiError, HttpClient, paginate_cursor

SYSTEM = "square"
CUSTOMERS_MAX_PAGE = 100
ORDERS_MAX_PAGE = 1000
ORDERS_MAX_LOCATIONS = 10
CATALOG_SEARCH_MAX_PAGE = 1000
COUNTS_MAX_PAGE = 1000
RETRIEVE_MAX_IDS = 1000
SET_QUERY_MAX_VALUES = 250
UPSERT_MAX_OBJECTS_PER_BATCH = 1000
INVENTORY_MAX_CHANGES = 100


class SquareClient:
    """The Square API calls Canalis makes over the connector's HttpClient; every list call yields one page at a time."""

    def __init__(self, http: HttpClient, settings: SquareSettings) -> None:
        self.http = http
        self.settings = settings

    def __repr__(self) -> str:
        return f"SquareClient(base_url={self.http.redact(self.settings.base_url)!r})"

    # --- reads --------------------------------------------------------------------------------------

    def locations(self) -> list[dict[str, Any]]:
        """Every location of the seller (one unpaged call)."""
        body = self.http.get_json("/v2/locations", call="ListLocations")
        return list((body or {}).get("locations") or [])

    def customer_pages(self, *, updated_from: str | None, updated_to: str | None) -> Iterator[dict[str, Any]]:
        """SearchCustomers pages, oldest created first, optionally only those updated inside a window."""
        window: dict[str, str] = {}
        if updated_from:
            window["start_at"] = updated_from
        if updated_to:
            window["end_at"] = updated_to
        query: dict[str, Any] = {"sort": {"field": "CREATED_AT", "order": "ASC"}}
        if window:
            query["filter"] = {"updated_at": window}
        body = {"limit": min(self.settings.page_size, CUSTOMERS_MAX_PAGE), "query": query}
        return self._post_pages("/v2/customers/search", body, "SearchCustomers")

    def delete_customer(self, customer_id: str) -> bool:
        """DeleteCustomer; False when Square knows no such customer (already deleted)."""
        response = self.http.request(
            "DELETE", f"/v2/customers/{customer_id}", call="DeleteCustomer", ok_statuses=(200, 404)
        )
        return response.status_code == 200

    def order_pages(self, location_ids: list[str], *, updated_from: str | None) -> Iterator[dict[str, Any]]:
        """SearchOrders pages for up to 10 locations, ascending by updated_at from `updated_from`."""
        query: dict[str, Any] = {"sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
        if updated_from:
            query["filter"] = {"date_time_filter": {"updated_at": {"start_at": updated_from}}}
        body = {
            "location_ids": location_ids,
            "limit": min(self.settings.page_size, ORDERS_MAX_PAGE),
            "query": query,
        }
        return self._post_pages("/v2/orders/search", body, "SearchOrders")

    def catalog_pages(self, object_types: list[str], *, begin_time: str | None) -> Iterator[dict[str, Any]]:
        """SearchCatalogObjects pages of some types, only objects changed after `begin_time` when given."""
        body: dict[str, Any] = {
            "object_types": object_types,
            "include_deleted_objects": begin_time is not None,
            "limit": min(self.settings.page_size, CATALOG_SEARCH_MAX_PAGE),
        }
        if begin_time:
            body["begin_time"] = begin_time
        return self._post_pages("/v2/catalog/search", body, "SearchCatalogObjects")

    def catalog_search(self, object_types: list[str], query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every catalog object of some types matching a catalog query, across pages."""
        body = {"object_types": object_types, "query": query, "limit": CATALOG_SEARCH_MAX_PAGE}
        for page in self._post_pages("/v2/catalog/search", body, "SearchCatalogObjects"):
            yield from page.get("objects") or []

    def variations_by_sku(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Current ITEM_VARIATION objects by SKU (as written), looked up 250 SKUs per search."""
        found: dict[str, dict[str, Any]] = {}
        wanted = {sku.lower(): sku for sku in skus}
        for start in range(0, len(skus), SET_QUERY_MAX_VALUES):
            chunk = skus[start : start + SET_QUERY_MAX_VALUES]
            query = {"set_query": {"attribute_name": "sku", "attribute_values": chunk}}
            for obj in self.catalog_search(["ITEM_VARIATION"], query):
                sku = (obj.get("item_variation_data") or {}).get("sku")
                if isinstance(sku, str) and sku.lower() in wanted and not obj.get("is_deleted"):
                    found[wanted[sku.lower()]] = obj
        return found

    def catalog_objects(self, object_ids: list[str]) -> list[dict[str, Any]]:
        """BatchRetrieveCatalogObjects, 1,000 ids per call."""
        objects: list[dict[str, Any]] = []
        for start in range(0, len(object_ids), RETRIEVE_MAX_IDS):
            body = {"object_ids": object_ids[start : start + RETRIEVE_MAX_IDS]}
            answer = self.http.post_json("/v2/catalog/batch-retrieve", body, call="BatchRetrieveCatalogObjects")
            objects.extend((answer or {}).get("objects") or [])
        return objects

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """RetrieveCustomer; None when Square has no such customer."""
        try:
            answer = self.http.get_json(f"/v2/customers/{quote(customer_id, safe='')}", call="RetrieveCustomer")
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        found = (answer or {}).get("customer")
        return found if isinstance(found, dict) else None

    def count_pages(
        self,
        *,
        updated_after: str | None,
        location_ids: list[str] | None = None,
        catalog_object_ids: list[str] | None = None,
        states: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """BatchRetrieveInventoryCounts pages, only counts calculated after `updated_after` when given."""
        body: dict[str, Any] = {"limit": COUNTS_MAX_PAGE}
        if states:
            body["states"] = states
        if updated_after:
            body["updated_after"] = updated_after
        if location_ids:
            body["location_ids"] = location_ids
        if catalog_object_ids:
            body["catalog_object_ids"] = catalog_object_ids
        return self._post_pages("/v2/inventory/counts/batch-retrieve", body, "BatchRetrieveInventoryCounts")

    # --- writes -------------------------------------------------------------------------------------

    def upsert_catalog(self, idempotency_key: str, batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """BatchUpsertCatalogObjects: each batch is applied all-or-nothing."""
        body = {"idempotency_key": idempotency_key, "batches": [{"objects": objects} for objects in batches]}
        return self.http.post_json("/v2/catalog/batch-upsert", body, call="BatchUpsertCatalogObjects") or {}

    def change_inventory(self, idempotency_key: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
        """BatchChangeInventory with at most 100 changes."""
        body = {"idempotency_key": idempotency_key, "changes": changes, "ignore_unchanged_counts": True}
        return self.http.post_json("/v2/inventory/changes/batch-create", body, call="BatchChangeInventory") or {}

    # --- paging -------------------------------------------------------------------------------------

    def _post_pages(self, path: str, body: dict[str, Any], call: str) -> Iterator[dict[str, Any]]:
        """Follow Square's body `cursor`, resending the same query with it until no cursor comes back."""
        for page in paginate_cursor(
            self.http, "POST", path, json=body, cursor_path="cursor", cursor_param="cursor", cursor_in="json", call=call
        ):
            yield page or {}
