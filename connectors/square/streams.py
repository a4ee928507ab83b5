"""Streams of the Square connector: what is read, its key and cursor, and which canonical streams are written."""

from __future__ import annotations

from canalis.connectors.square import records
from canalis.sdk import Stream, WriteOnlyStream

# The fields of the Square v2 objects read, as Square documents them, and those the connector adds (`_sku`,
# `_location`, `_key`, `_pricing_rule`). Open by nature: `metadata` (the seller's own keys) and
# `custom_attribute_values` (keyed by custom attribute). The detail objects of order fulfillments (pickup,
# shipment, delivery) and of returns are not declared field by field.


def _under(prefix: str, paths: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{prefix}.{path}" for path in paths)


def _money(*names: str) -> tuple[str, ...]:
    return tuple(f"{name}.{part}" for name in names for part in ("amount", "currency"))


ADDRESS = (
    "address_line_1", "address_line_2", "address_line_3", "locality", "sublocality", "sublocality_2",
    "sublocality_3", "administrative_district_level_1", "administrative_district_level_2",
    "administrative_district_level_3", "postal_code", "country", "first_name", "last_name",
)  # fmt: skip
CATALOG_OBJECT = (
    "type", "id", "created_at", "updated_at", "version", "is_deleted", "custom_attribute_values.*",
    "catalog_v1_ids.catalog_v1_id", "catalog_v1_ids.location_id", "present_at_all_locations",
    "present_at_location_ids", "absent_at_location_ids", "image_id",
)  # fmt: skip
MEASUREMENT_UNIT = (
    "custom_unit.name", "custom_unit.abbreviation", "area_unit", "length_unit", "volume_unit", "weight_unit",
    "generic_unit", "time_unit", "type",
)  # fmt: skip
APPLIED_TAXES = ("uid", "tax_uid", *_money("applied_money"))
ORDER_LINE_ITEM = (
    "uid", "name", "quantity", *_under("quantity_unit.measurement_unit", MEASUREMENT_UNIT),
    "quantity_unit.precision", "quantity_unit.catalog_object_id", "quantity_unit.catalog_version", "note",
    "catalog_object_id", "catalog_version", "variation_name", "item_type", "metadata.*",
    *_under("modifiers", (
        "uid", "catalog_object_id", "catalog_version", "name", "quantity", "metadata.*",
        *_money("base_price_money", "total_price_money"),
    )),
    *_under("applied_taxes", APPLIED_TAXES),
    *_under("applied_discounts", ("uid", "discount_uid", *_money("applied_money"))),
    *_under("applied_service_charges", ("uid", "service_charge_uid", *_money("applied_money"))),
    *_money(
        "base_price_money", "variation_total_price_money", "gross_sales_money", "total_tax_money",
        "total_discount_money", "total_money", "total_service_charge_money",
    ),
    "pricing_blocklists.blocked_discounts.uid", "pricing_blocklists.blocked_discounts.discount_uid",
    "pricing_blocklists.blocked_discounts.discount_catalog_object_id", "pricing_blocklists.blocked_taxes.uid",
    "pricing_blocklists.blocked_taxes.tax_uid", "pricing_blocklists.blocked_taxes.tax_catalog_object_id",
    "_sku",
)  # fmt: skip
ORDER_TAX = (
    "uid", "catalog_object_id", "catalog_version", "name", "type", "percentage", "metadata.*", "scope",
    "auto_applied", *_money("applied_money"),
)  # fmt: skip
ORDER_DISCOUNT = (
    "uid", "catalog_object_id", "catalog_version", "name", "type", "percentage", "metadata.*", "scope",
    "reward_ids", "pricing_rule_id", *_money("amount_money", "applied_money"),
)  # fmt: skip
ORDER_SERVICE_CHARGE = (
    "uid", "name", "catalog_object_id", "catalog_version", "percentage", "calculation_phase", "taxable",
    "metadata.*", "type", "treatment_type", "scope", *_under("applied_taxes", APPLIED_TAXES),
    *_money("amount_money", "applied_money", "total_money", "total_tax_money"),
)  # fmt: skip
MONEY_AMOUNTS = ("total_money", "tax_money", "discount_money", "tip_money", "service_charge_money")
ORDER_TENDER = (
    "id", "location_id", "transaction_id", "created_at", "note", "customer_id", "type", "payment_id",
    *_money("amount_money", "tip_money", "processing_fee_money"), "card_details.status",
    "card_details.entry_method",
    *_under("card_details.card", (
        "id", "card_brand", "last_4", "exp_month", "exp_year", "cardholder_name", "fingerprint", "card_type",
        "prepaid_type", "bin",
    )),
    *_money("cash_details.buyer_tendered_money", "cash_details.change_back_money"),
)  # fmt: skip
ORDER_REFUND = (
    "id", "location_id", "transaction_id", "tender_id", "created_at", "reason", "status",
    *_money("amount_money", "processing_fee_money"),
)  # fmt: skip
ORDER_FIELDS = (
    "id", "location_id", "reference_id", "source.name", "customer_id", "created_at", "updated_at", "closed_at",
    "state", "version", "ticket_name", "metadata.*",
    *_under("line_items", ORDER_LINE_ITEM),
    *_under("taxes", ORDER_TAX),
    *_under("discounts", ORDER_DISCOUNT),
    *_under("service_charges", ORDER_SERVICE_CHARGE),
    *_under("fulfillments", (
        "uid", "type", "state", "line_item_application", "metadata.*", "entries.uid", "entries.line_item_uid",
        "entries.quantity", "entries.metadata.*",
    )),
    "returns.uid", "returns.source_order_id",
    *_money(*(f"return_amounts.{name}" for name in MONEY_AMOUNTS), *(f"net_amounts.{name}" for name in MONEY_AMOUNTS)),
    "rounding_adjustment.uid", "rounding_adjustment.name", *_money("rounding_adjustment.amount_money"),
    *_under("tenders", ORDER_TENDER),
    *_under("refunds", ORDER_REFUND),
    *_money(
        "total_money", "total_tax_money", "total_discount_money", "total_tip_money", "total_service_charge_money",
        "net_amount_due_money",
    ),
    "pricing_options.auto_apply_discounts", "pricing_options.auto_apply_taxes", "rewards.id",
    "rewards.reward_tier_id", "_location",
)  # fmt: skip
ITEM_VARIATION_DATA = (
    "item_id", "name", "sku", "upc", "ordinal", "pricing_type", *_money("price_money"),
    *_under("location_overrides", (
        "location_id", *_money("price_money"), "pricing_type", "track_inventory", "inventory_alert_type",
        "inventory_alert_threshold", "sold_out", "sold_out_valid_until",
    )),
    "track_inventory", "inventory_alert_type", "inventory_alert_threshold", "user_data", "service_duration",
    "available_for_booking", "item_option_values.item_option_id", "item_option_values.item_option_value_id",
    "measurement_unit_id", "sellable", "stockable", "image_ids", "team_member_ids",
    "stockable_conversion.stockable_item_variation_id", "stockable_conversion.stockable_quantity",
    "stockable_conversion.nonstockable_quantity",
)  # fmt: skip
ITEM_DATA = (
    "name", "description", "abbreviation", "label_color", "is_taxable", "available_online", "available_for_pickup",
    "available_electronically", "category_id", "tax_ids", "product_type", "skip_modifier_screen",
    "item_options.item_option_id", "image_ids", "sort_name", "categories.id", "categories.ordinal",
    "description_html", "description_plaintext", "channels", "is_archived", "reporting_category.id",
    "reporting_category.ordinal", "is_alcoholic",
    *_under("modifier_list_info", (
        "modifier_list_id", "min_selected_modifiers", "max_selected_modifiers", "enabled",
    )),
    *_under("variations", (*CATALOG_OBJECT, *_under("item_variation_data", ITEM_VARIATION_DATA))),
)  # fmt: skip
DISCOUNT_DATA = (
    "name", "discount_type", "percentage", "pin_required", "label_color", "modify_tax_basis",
    *_money("amount_money", "maximum_amount_money"),
)  # fmt: skip
PRICING_RULE_DATA = (
    "name", "time_period_ids", "discount_id", "match_products_id", "apply_products_id", "exclude_products_id",
    "valid_from_date", "valid_from_local_time", "valid_until_date", "valid_until_local_time", "exclude_strategy",
    *_money("minimum_order_subtotal_money"), "customer_group_ids_any",
    "application_mode",  # set on the sandbox's rules; not among the fields Square publishes for pricing rules
)  # fmt: skip


class Customers(Stream):
    name = "customers"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Customer
    description = "Customer profiles (POS directory), searched by updated_at."
    # Square lists no deleted customers: one missing from a complete read was deleted
    deletes_by_absence = True
    field_paths = (
        "id", "created_at", "updated_at", "given_name", "family_name", "nickname", "company_name", "email_address",
        *_under("address", ADDRESS), "phone_number", "birthday", "reference_id", "note",
        "preferences.email_unsubscribed", "creation_source", "group_ids", "segment_ids", "version", "tax_ids.eu_vat",
    )  # fmt: skip


class Orders(Stream):
    name = "orders"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Order
    description = "POS sales with line items (each line carries `_sku`), ascending by updated_at."
    field_paths = ORDER_FIELDS


class Catalog(Stream):
    name = "catalog"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.CatalogItem
    description = "Catalog items with their variations (SKU, price), changed after the cursor."
    # incremental searches include deleted objects, flagged is_deleted
    deleted_when = ("is_deleted", True)
    field_paths = (*CATALOG_OBJECT, *_under("item_data", ITEM_DATA))


class InventoryCounts(Stream):
    name = "inventory_counts"
    primary_key = "_key"
    cursor_field = "calculated_at"
    record_model = records.InventoryCount
    description = "Stock counts per variation, location and state (`_key`, `_sku` and `_location` added)."
    field_paths = (
        "catalog_object_id", "catalog_object_type", "state", "location_id", "quantity", "calculated_at",
        "is_estimated", "_key", "_sku", "_location",
    )  # fmt: skip


class Discounts(Stream):
    name = "discounts"
    primary_key = "id"
    cursor_field = "updated_at"
    record_model = records.Discount
    description = "Catalog DISCOUNT objects with the pricing rule that schedules them (`_pricing_rule`)."
    field_paths = (
        *CATALOG_OBJECT,
        *_under("discount_data", DISCOUNT_DATA),
        *_under("_pricing_rule", (*CATALOG_OBJECT, *_under("pricing_rule_data", PRICING_RULE_DATA))),
    )


class Locations(Stream):
    name = "locations"
    primary_key = "id"
    record_model = records.Location
    description = "Store locations (read in full each time)."
    field_paths = (
        "id", "name", *_under("address", ADDRESS), "timezone", "capabilities", "status", "created_at", "merchant_id",
        "country", "language_code", "currency", "phone_number", "business_name", "type", "website_url",
        "business_hours.periods.day_of_week", "business_hours.periods.start_local_time",
        "business_hours.periods.end_local_time", "business_email", "description", "twitter_username",
        "instagram_username", "facebook_url", "coordinates.latitude", "coordinates.longitude", "logo_url",
        "pos_background_url", "mcc", "full_format_logo_url",
        *_under("tax_ids", ("eu_vat", "fr_siret", "fr_naf", "es_nif", "jp_qii")), "_location",
    )  # fmt: skip


class Prices(WriteOnlyStream):
    name = "prices"
    batch_size = 1000
    description = "Write-only: set variation prices by SKU (read prices from `catalog`)."


class StockLevels(WriteOnlyStream):
    name = "stock_levels"
    batch_size = 100
    description = "Write-only: set IN_STOCK physical counts by SKU and location (read from `inventory_counts`)."


class Promotions(WriteOnlyStream):
    name = "promotions"
    batch_size = 1000
    description = "Write-only: create or update DISCOUNT objects and their pricing rules (read from `discounts`)."


READ_STREAMS: tuple[type[Stream], ...] = (Customers, Orders, Catalog, InventoryCounts, Discounts, Locations)
WRITE_STREAMS: tuple[type[Stream], ...] = (Prices, StockLevels, Promotions)
STREAMS: tuple[type[Stream], ...] = READ_STREAMS + WRITE_STREAMS
