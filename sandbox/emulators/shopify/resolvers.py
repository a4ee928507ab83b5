"""Resolvers of the query root and of the object fields that are not plain payload keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pycountry
from graphql import GraphQLError, GraphQLResolveInfo

from canalis.sandbox.emulators.shopify.objects import (
    ObjectAccess,
    discount_node,
    gid,
    item_of_variant,
    parse_gid,
    seconds_z,
)
from canalis.sandbox.emulators.shopify.paging import count_matching, list_connection, store_connection
from canalis.sandbox.emulators.shopify.search import Accessor, SearchError
from canalis.sandbox.objectstore import StoredObject

Resolver = Callable[..., Any]
SHOP = {
    "__typename": "Shop",
    "id": "gid://shopify/Shop/68790000001",
    "name": "Canalis Maison",
    "myshopifyDomain": "canalis-sandbox.myshopify.com",
    "currencyCode": "EUR",
    "ianaTimezone": "Europe/Paris",
    "email": "boutique@canalis-maison.example",
}


def _access(info: GraphQLResolveInfo) -> ObjectAccess:
    return info.context["access"]


def _p(path: str) -> Accessor:
    """An accessor reading a dotted path of the payload."""
    parts = path.split(".")

    def read(stored: StoredObject) -> Any:
        value: Any = stored.payload
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return read


def _first_code(stored: StoredObject) -> list[str]:
    codes = ((stored.payload.get("codeDiscount") or {}).get("codes") or {}).get("nodes") or []
    return [code.get("code") for code in codes]


def _discount_type(stored: StoredObject) -> str:
    value = ((stored.payload.get("codeDiscount") or {}).get("customerGets") or {}).get("value") or {}
    return "percentage" if value.get("__typename") == "DiscountPercentage" else "fixed_amount"


SEARCH_FIELDS: dict[str, dict[str, Accessor]] = {
    "customers": {
        "id": _p("id"),
        "email": _p("email"),
        "first_name": _p("firstName"),
        "last_name": _p("lastName"),
        "phone": _p("phone"),
        "state": _p("state"),
        "tag": _p("tags"),
        "country": _p("defaultAddress.country"),
    },
    "orders": {
        "id": _p("id"),
        "name": _p("name"),
        "email": _p("email"),
        "customer_id": lambda stored: str(_p("customer.id")(stored) or "").rsplit("/", 1)[-1],
        "financial_status": _p("displayFinancialStatus"),
        "fulfillment_status": _p("displayFulfillmentStatus"),
        "source_name": _p("sourceName"),
    },
    "products": {
        "id": _p("id"),
        "title": _p("title"),
        "handle": _p("handle"),
        "status": _p("status"),
        "product_type": _p("productType"),
        "vendor": _p("vendor"),
        "tag": _p("tags"),
    },
    "productVariants": {
        "id": _p("id"),
        "sku": _p("sku"),
        "barcode": _p("barcode"),
        "title": _p("title"),
        "product_id": lambda stored: str(_p("product.id")(stored) or "").rsplit("/", 1)[-1],
        "inventory_item_id": lambda stored: str(_p("inventoryItem.id")(stored) or "").rsplit("/", 1)[-1],
    },
    "locations": {"id": _p("id"), "name": _p("name"), "active": _p("isActive")},
    "inventoryLevels": {"id": _p("id"), "inventory_item_id": lambda s: str(_p("item.id")(s)).rsplit("/", 1)[-1]},
    "discountCodes": {
        "id": _p("id"),
        "code": _first_code,
        "title": _p("codeDiscount.title"),
        "status": _p("codeDiscount.status"),
        "discount_type": _discount_type,
        "type": _discount_type,
    },
}
TEXT: dict[str, Accessor] = {
    "customers": lambda s: f"{s.payload.get('displayName')} {s.payload.get('email')}",
    "orders": lambda s: f"{s.payload.get('name')} {s.payload.get('email')}",
    "products": _p("title"),
    "productVariants": lambda s: f"{s.payload.get('sku')} {s.payload.get('title')}",
    "locations": _p("name"),
    "inventoryLevels": _p("item.sku"),
    "discountCodes": lambda s: f"{_p('codeDiscount.title')(s)} {' '.join(map(str, _first_code(s)))}",
}


def _sort(args: dict[str, Any]) -> str:
    return "updated_at" if args.get("sortKey") == "UPDATED_AT" else "seq"


def _listing(object_type: str, **options: Any) -> Resolver:
    def resolve(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        return store_connection(
            info,
            args,
            object_type,
            sort=_sort(args),  # type: ignore[arg-type]
            fields=SEARCH_FIELDS[object_type],
            text=TEXT[object_type],
            **options,
        )

    return resolve


def _count(object_type: str) -> Resolver:
    def resolve(_root: Any, info: GraphQLResolveInfo, query: str | None = None, limit: int | None = None) -> dict:
        try:
            total = count_matching(
                _access(info).store, object_type, query, SEARCH_FIELDS[object_type], TEXT[object_type]
            )
        except SearchError as error:
            raise GraphQLError(f"Invalid search query: {error}", nodes=info.field_nodes) from None
        if limit is not None and total > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": total, "precision": "EXACT"}

    return resolve


def _by_id(object_type: str) -> Resolver:
    def resolve(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
        return _access(info).get(object_type, id)

    return resolve


def _node(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    parsed = parse_gid(id)
    if parsed is None:
        raise GraphQLError(f"Invalid global id '{id}'", nodes=info.field_nodes)
    if parsed.type == "BulkOperation":
        return info.context["bulk_store"].served(id, info.context["request_root"])
    return _access(info).node(id)


def _nodes(_root: Any, info: GraphQLResolveInfo, ids: list[str]) -> list[dict[str, Any] | None]:
    if len(ids) > 250:
        raise GraphQLError("The number of ids must be less than or equal to 250", nodes=info.field_nodes)
    return [_node(_root, info, value) for value in ids]


def _inventory_items(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return store_connection(
        info,
        args,
        "productVariants",
        fields={"id": _p("inventoryItem.id"), "sku": _p("sku")},
        text=_p("sku"),
        wrap=item_of_variant,
    )


def _location(_root: Any, info: GraphQLResolveInfo, id: str | None = None) -> dict[str, Any] | None:
    if id is not None:
        return _access(info).get("locations", id)
    first = _access(info).store.page("shopify", "locations", limit=1)
    return _access(info).get("locations", first[0].object_id) if first else None


def _locations(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    include_inactive = bool(args.pop("includeInactive", False))
    args.pop("includeLegacy", None)
    return store_connection(
        info,
        args,
        "locations",
        fields=SEARCH_FIELDS["locations"],
        text=TEXT["locations"],
        where=None if include_inactive else (lambda stored: bool(stored.payload.get("isActive", True))),
    )


def _code_discount_by_code(_root: Any, info: GraphQLResolveInfo, code: str) -> dict[str, Any] | None:
    found = find_discount_by_code(_access(info), code)
    return _access(info).get("discountCodes", found) if found else None


def find_discount_by_code(access: ObjectAccess, code: str) -> str | None:
    """The id of the code discount holding a code (codes are unique per shop, case-insensitively)."""
    wanted = code.strip().lower()
    for stored in access.store.iter_all("shopify", "discountCodes"):
        if any(str(found).lower() == wanted for found in _first_code(stored)):
            return stored.object_id
    return None


def _discount_nodes(_root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return store_connection(
        info,
        args,
        "discountCodes",
        sort=_sort(args),  # type: ignore[arg-type]
        fields=SEARCH_FIELDS["discountCodes"],
        text=TEXT["discountCodes"],
        wrap=discount_node,
    )


def _discount_node(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    return _access(info).node(id)


def _current_bulk(_root: Any, info: GraphQLResolveInfo, type: str = "QUERY") -> dict[str, Any] | None:
    return info.context["bulk_store"].current(type, info.context["request_root"])


def _bulk_operation(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:
    return info.context["bulk_store"].served(id, info.context["request_root"])


QUERY_RESOLVERS: dict[str, Resolver] = {
    "node": _node,
    "nodes": _nodes,
    "shop": lambda _root, _info: SHOP,
    "customer": _by_id("customers"),
    "customers": _listing("customers"),
    "customersCount": _count("customers"),
    "order": _by_id("orders"),
    "orders": _listing("orders"),
    "ordersCount": _count("orders"),
    "product": _by_id("products"),
    "products": _listing("products"),
    "productsCount": _count("products"),
    "productVariant": _by_id("productVariants"),
    "productVariants": _listing("productVariants"),
    "productVariantsCount": _count("productVariants"),
    "inventoryItem": lambda _root, info, id: _access(info).inventory_item(id),
    "inventoryItems": _inventory_items,
    "inventoryLevel": _by_id("inventoryLevels"),
    "location": _location,
    "locations": _locations,
    "codeDiscountNode": _by_id("discountCodes"),
    "codeDiscountNodeByCode": _code_discount_by_code,
    "codeDiscountNodes": _listing("discountCodes"),
    "discountNode": _discount_node,
    "discountNodes": _discount_nodes,
    "currentBulkOperation": _current_bulk,
    "bulkOperation": _bulk_operation,
}


# --- object fields ---------------------------------------------------------------------------------------------


def _legacy_id(obj: dict[str, Any], _info: GraphQLResolveInfo) -> str:
    if obj.get("legacyResourceId"):
        return str(obj["legacyResourceId"])
    parsed = parse_gid(obj.get("id"))
    return str(parsed.number) if parsed else "0"


def _meta_time(name: str, key: str) -> Resolver:
    def resolve(obj: dict[str, Any], _info: GraphQLResolveInfo) -> str | None:
        if obj.get(name):
            return obj[name]
        meta = obj.get("__meta") or {}
        return seconds_z(meta[key]) if meta.get(key) else None

    return resolve


def _money_bag(scalar: str) -> Resolver:
    def resolve(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any] | None:
        set_value = obj.get(f"{scalar}Set")
        if set_value:
            return set_value
        amount = obj.get(scalar)
        if amount is None:
            return None
        return {"shopMoney": {"amount": amount, "currencyCode": obj.get("currencyCode") or SHOP["currencyCode"]}}

    return resolve


def _presentment(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return obj.get("presentmentMoney") or obj["shopMoney"]


def _customer_email(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any] | None:
    if not obj.get("email"):
        return None
    consent = obj.get("emailMarketingConsent") or {}
    return {
        "emailAddress": obj["email"],
        "marketingState": consent.get("marketingState") or "NOT_SUBSCRIBED",
        "marketingOptInLevel": consent.get("marketingOptInLevel"),
        "marketingUpdatedAt": consent.get("consentUpdatedAt"),
    }


def _customer_phone(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any] | None:
    return {"phoneNumber": obj["phone"]} if obj.get("phone") else None


def _customer_orders(obj: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    customer = obj.get("id")
    return store_connection(
        info, args, "orders", where=lambda stored: (stored.payload.get("customer") or {}).get("id") == customer
    )


def _reference(object_type: str, key: str) -> Resolver:
    """Resolve a `{id}` reference held in the payload to the whole stored object."""

    def resolve(obj: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any] | None:
        ref = obj.get(key) or {}
        if not ref.get("id"):
            return None
        cache = info.context["cache"]
        cache_key = (object_type, ref["id"])
        if cache_key not in cache:
            cache[cache_key] = _access(info).get(object_type, ref["id"])
        return cache[cache_key]

    return resolve


def _line_items(obj: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    items = [{"__typename": "LineItem", **item} for item in (obj.get("lineItems") or {}).get("nodes") or []]
    return list_connection(info, args, items)


def _line_product(obj: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any] | None:
    variant = _reference("productVariants", "variant")(obj, info)
    return _reference("products", "product")(variant, info) if variant else None


def _product_variants(obj: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    refs = (obj.get("variants") or {}).get("nodes") or []
    access = _access(info)
    variants = [variant for ref in refs if (variant := access.get("productVariants", ref["id"])) is not None]
    return list_connection(info, args, variants)


def _product_inventory(obj: dict[str, Any], info: GraphQLResolveInfo) -> int:
    access = _access(info)
    total = 0
    for ref in (obj.get("variants") or {}).get("nodes") or []:
        variant = access.get("productVariants", ref["id"]) or {}
        total += int(variant.get("inventoryQuantity") or 0)
    return total


def _variants_count(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {"count": len((obj.get("variants") or {}).get("nodes") or []), "precision": "EXACT"}


def _variant_display(obj: dict[str, Any], info: GraphQLResolveInfo) -> str:
    product = _reference("products", "product")(obj, info) or {}
    return f"{product.get('title', '')} - {obj.get('title', '')}"


def _variant_item(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return item_of_variant(obj)


def _item_variant(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return obj["__variant"]


def _levels(key: str) -> Resolver:
    """Inventory levels of a location or an item, as a connection (with the `query` filter)."""

    def resolve(obj: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        indexes = _access(info).indexes()
        wanted = set((indexes.levels_by_location if key == "location" else indexes.levels_by_item).get(obj["id"], []))
        return store_connection(
            info,
            args,
            "inventoryLevels",
            fields=SEARCH_FIELDS["inventoryLevels"],
            text=TEXT["inventoryLevels"],
            where=lambda stored: stored.object_id in wanted,
        )

    return resolve


def _item_level(obj: dict[str, Any], info: GraphQLResolveInfo, locationId: str) -> dict[str, Any] | None:
    return _access(info).level_at(obj["id"], locationId)


def _location_level(obj: dict[str, Any], info: GraphQLResolveInfo, inventoryItemId: str) -> dict[str, Any] | None:
    return _access(info).level_at(inventoryItemId, obj["id"])


def _level_item(obj: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any] | None:
    item_id = (obj.get("item") or {}).get("id")
    return _access(info).inventory_item(item_id) if item_id else None


def _quantities(obj: dict[str, Any], _info: GraphQLResolveInfo, names: list[str]) -> list[dict[str, Any]]:
    held = {quantity["name"]: quantity["quantity"] for quantity in obj.get("quantities") or []}
    stamp = obj.get("updatedAt")
    return [{"name": name, "quantity": int(held.get(name, 0)), "updatedAt": stamp} for name in names]


def _location_address(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    address = dict(obj.get("address") or {})
    code = address.get("countryCode")
    if code and not address.get("country"):
        country = pycountry.countries.get(alpha_2=code)
        address["country"] = country.name if country else code
    lines = [
        address.get("address1"),
        address.get("address2"),
        f"{address.get('zip') or ''} {address.get('city') or ''}",
    ]
    address["formatted"] = [line.strip() for line in [*lines, address.get("country")] if line and line.strip()]
    return address


def _codes(obj: dict[str, Any], info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    codes = []
    for index, code in enumerate((obj.get("codes") or {}).get("nodes") or []):
        number = int(code.get("__number") or index + 1)
        codes.append({"id": code.get("id") or gid("DiscountRedeemCode", number), "asyncUsageCount": 0, **code})
    return list_connection(info, args, codes)


def _codes_count(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {"count": len((obj.get("codes") or {}).get("nodes") or []), "precision": "EXACT"}


def _summary(obj: dict[str, Any], _info: GraphQLResolveInfo) -> str:
    value = (obj.get("customerGets") or {}).get("value") or {}
    if value.get("__typename") == "DiscountPercentage":
        shown = f"{round(float(value['percentage']) * 100, 2):g}% off entire order"
    else:
        amount = (value.get("amount") or {}).get("amount")
        shown = f"€{amount} off entire order"
    if obj.get("appliesOncePerCustomer"):
        shown += " • One use per customer"
    return shown


def _customer_gets(obj: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    gets = dict(obj.get("customerGets") or {})
    gets["items"] = {"__typename": "AllDiscountItems", "allItems": True, **(gets.get("items") or {})}
    gets.setdefault("appliesOnOneTimePurchase", True)
    gets.setdefault("appliesOnSubscription", False)
    return gets


def _zero(_obj: Any, _info: GraphQLResolveInfo) -> int:
    return 0


def _default(key: str, value: Any) -> Resolver:
    def resolve(obj: dict[str, Any], _info: GraphQLResolveInfo, **_args: Any) -> Any:
        found = obj.get(key)
        return value if found is None else found

    return resolve


_DISCOUNT_FIELDS: dict[str, Resolver] = {
    "codes": _codes,
    "codesCount": _codes_count,
    "summary": _summary,
    "asyncUsageCount": _zero,
    "customerGets": _customer_gets,
    "appliesOncePerCustomer": _default("appliesOncePerCustomer", False),
}

TYPE_RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Customer": {
        "legacyResourceId": _legacy_id,
        "defaultEmailAddress": _customer_email,
        "defaultPhoneNumber": _customer_phone,
        "orders": _customer_orders,
        "tags": _default("tags", []),
        "locale": _default("locale", "fr"),
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
    },
    "Order": {
        "legacyResourceId": _legacy_id,
        "customer": _reference("customers", "customer"),
        "subtotalPriceSet": _money_bag("subtotalPrice"),
        "totalDiscountsSet": _money_bag("totalDiscounts"),
        "totalShippingPriceSet": _money_bag("totalShippingPrice"),
        "totalPriceSet": _money_bag("totalPrice"),
        "lineItems": _line_items,
        "tags": _default("tags", []),
        "discountCodes": _default("discountCodes", []),
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
        "processedAt": _default("processedAt", None),
    },
    "MoneyBag": {"presentmentMoney": _presentment},
    "LineItem": {
        "title": lambda obj, _info: obj.get("title") or obj.get("name"),
        "currentQuantity": lambda obj, _info: obj.get("currentQuantity", obj.get("quantity")),
        "originalUnitPriceSet": _money_bag("originalUnitPrice"),
        "variant": _reference("productVariants", "variant"),
        "product": _line_product,
    },
    "Product": {
        "legacyResourceId": _legacy_id,
        "variants": _product_variants,
        "variantsCount": _variants_count,
        "totalInventory": _product_inventory,
        "tags": _default("tags", []),
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
    },
    "ProductVariant": {
        "legacyResourceId": _legacy_id,
        "displayName": _variant_display,
        "inventoryItem": _variant_item,
        "product": _reference("products", "product"),
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
    },
    "InventoryItem": {
        "legacyResourceId": _legacy_id,
        "variant": _item_variant,
        "inventoryLevels": _levels("item"),
        "inventoryLevel": _item_level,
    },
    "InventoryLevel": {
        "item": _level_item,
        "location": _reference("locations", "location"),
        "quantities": _quantities,
        "canDeactivate": lambda _obj, _info: True,
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
    },
    "Location": {
        "legacyResourceId": _legacy_id,
        "address": _location_address,
        "inventoryLevels": _levels("location"),
        "inventoryLevel": _location_level,
        "isActive": _default("isActive", True),
        "fulfillsOnlineOrders": _default("fulfillsOnlineOrders", True),
        "createdAt": _meta_time("createdAt", "created_at"),
        "updatedAt": _meta_time("updatedAt", "updated_at"),
    },
    "DiscountCodeBasic": _DISCOUNT_FIELDS,
    "DiscountCodeBxgy": {"codes": _codes, "codesCount": _codes_count},
    "DiscountCodeFreeShipping": {"codes": _codes, "codesCount": _codes_count},
    "DiscountAmount": {"appliesOnEachItem": _default("appliesOnEachItem", False)},
}
