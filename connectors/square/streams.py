"""Streams of the Square connector: what is read, its key and cursor, and which canonical streams are written."""

from __future__ import annotations

from canalis.connectors.square import records
from canalis.sdk.streams import Stream, WriteOnlyStream


class Customers(Stream):
    name = "customers"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Customer
    description = "Customer profiles (POS directory), searched by updated_at."


class Orders(Stream):
    name = "orders"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Order
    description = "POS sales with line items (each line carries `_sku`), ascending by updated_at."


class Catalog(Stream):
    name = "catalog"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.CatalogItem
    description = "Catalog items with their variations (SKU, price), changed after the cursor."


class InventoryCounts(Stream):
    name = "inventory_counts"
    primary_key = "_key"
    cursor_field = "calculated_at"
    record_model = records.InventoryCount
    description = "Stock counts per variation, location and state (`_key`, `_sku` and `_location` added)."


class Discounts(Stream):
    name = "discounts"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Discount
    description = "Catalog DISCOUNT objects with the pricing rule that schedules them (`_pricing_rule`)."


class Locations(Stream):
    name = "locations"
    primary_key = "id"
    record_model = records.Location
    description = "Store locations (read in full each time)."


class Prices(WriteOnlyStream):
    name = "prices"
    description = "Write-only: set variation prices by SKU (read prices from `catalog`)."


class StockLevels(WriteOnlyStream):
    name = "stock_levels"
    description = "Write-only: set IN_STOCK physical counts by SKU and location (read from `inventory_counts`)."


class Promotions(WriteOnlyStream):
    name = "promotions"
    description = "Write-only: create or update DISCOUNT objects and their pricing rules (read from `discounts`)."


READ_STREAMS: tuple[type[Stream], ...] = (Customers, Orders, Catalog, InventoryCounts, Discounts, Locations)
WRITE_STREAMS: tuple[type[Stream], ...] = (Prices, StockLevels, Promotions)
STREAMS: tuple[type[Stream], ...] = READ_STREAMS + WRITE_STREAMS
