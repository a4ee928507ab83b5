"""Shopify (GraphQL Admin API shapes): customers, orders, products, variants, locations, stock, discounts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.world.catalog import STOCK_PLACES, Product, Promotion, money
from canalis.sandbox.world.context import WorldContext, moment_between
from canalis.sandbox.world.formats import iso_seconds_z
from canalis.sandbox.world.ids import shopify_gid
from canalis.sandbox.world.people import Person, Weighted
from canalis.sandbox.world.variations import Copy, copy_for

SYSTEM = "shopify"
IDENTITY_TYPE = "customers"
CUSTOMER_BASE = 7_400_000_000_000
ORDER_BASE = 5_900_000_000_000
LINE_BASE = 14_500_000_000_000
ADDRESS_BASE = 9_100_000_000_000
PRODUCT_BASE = 8_100_000_000_000
VARIANT_BASE = 44_100_000_000_000
ITEM_BASE = 46_200_000_000_000
LOCATION_BASE = 71_000_000_000
DISCOUNT_BASE = 1_230_000_000_000
ORDER_COUNTS: Weighted[int] = Weighted(range(6), (25, 35, 18, 10, 7, 5))
CONSENT_STATES = {"subscribed": "SUBSCRIBED", "unsubscribed": "UNSUBSCRIBED", "none": "NOT_SUBSCRIBED"}


def variant_gid(product: Product) -> str:
    """The ProductVariant gid of a product's only variant."""
    return shopify_gid("ProductVariant", VARIANT_BASE + product.index + 1)


def _money_set(cents: int) -> dict[str, Any]:
    return {"shopMoney": {"amount": money(cents), "currencyCode": "EUR"}}


def emit_catalog(ctx: WorldContext) -> None:
    """Products, variants, the web location, inventory levels and discount codes."""
    catalog, now = ctx.catalog, ctx.now
    location_gids: dict[str, str] = {}
    for n, place in enumerate(p for p in STOCK_PLACES if p.channel == SYSTEM):
        gid = shopify_gid("Location", LOCATION_BASE + n + 1)
        location_gids[place.key] = gid
        payload = {
            "id": gid,
            "legacyResourceId": str(LOCATION_BASE + n + 1),
            "name": place.name,
            "isActive": True,
            "fulfillsOnlineOrders": True,
            "address": {
                "address1": place.street,
                "city": place.city,
                "zip": place.postcode,
                "countryCode": "FR",
                "phone": place.phone,
            },
        }
        ctx.add(
            SYSTEM,
            "locations",
            gid,
            payload,
            created_at=now - timedelta(days=900),
            updated_at=now - timedelta(days=400),
        )
    for product in catalog.products:
        product_gid = shopify_gid("Product", PRODUCT_BASE + product.index + 1)
        item_gid = shopify_gid("InventoryItem", ITEM_BASE + product.index + 1)
        created, updated = product.created_at, product.updated_at
        handle = product.name.lower().replace(" ", "-").replace("'", "-")
        ctx.add(
            SYSTEM,
            "products",
            product_gid,
            {
                "id": product_gid,
                "legacyResourceId": str(PRODUCT_BASE + product.index + 1),
                "title": product.name,
                "handle": f"{handle}-{product.index + 1}",
                "status": "ACTIVE",
                "vendor": "Canalis Maison",
                "productType": product.category,
                "tags": [product.category],
                "variants": {"nodes": [{"id": variant_gid(product)}]},
                "createdAt": iso_seconds_z(created),
                "updatedAt": iso_seconds_z(updated),
            },
            created_at=created,
            updated_at=updated,
        )
        available = {key: catalog.channel_available(SYSTEM, product, key) for key in location_gids}
        ctx.add(
            SYSTEM,
            "productVariants",
            variant_gid(product),
            {
                "id": variant_gid(product),
                "legacyResourceId": str(VARIANT_BASE + product.index + 1),
                "title": "Default Title",
                "sku": product.sku,
                "barcode": product.barcode,
                "price": money(catalog.channel_price(SYSTEM, product)),
                "compareAtPrice": money(product.compare_at) if product.compare_at else None,
                "inventoryQuantity": sum(available.values()),
                "inventoryItem": {"id": item_gid, "sku": product.sku, "tracked": True},
                "product": {"id": product_gid},
                "createdAt": iso_seconds_z(created),
                "updatedAt": iso_seconds_z(updated),
            },
            created_at=created,
            updated_at=updated,
        )
        for key, location_gid in location_gids.items():
            quantity, reserved = product.stock[key]
            shown = available[key]
            location_number = location_gid.rsplit("/", 1)[1]
            level_id = (
                f"gid://shopify/InventoryLevel/{location_number}?inventory_item_id={ITEM_BASE + product.index + 1}"
            )
            ctx.add(
                SYSTEM,
                "inventoryLevels",
                level_id,
                {
                    "id": level_id,
                    "item": {"id": item_gid, "sku": product.sku},
                    "location": {"id": location_gid},
                    "quantities": [
                        {"name": "available", "quantity": shown},
                        {"name": "committed", "quantity": reserved},
                        {"name": "on_hand", "quantity": shown + reserved if shown != quantity - reserved else quantity},
                    ],
                    "updatedAt": iso_seconds_z(updated),
                },
                created_at=created,
                updated_at=updated,
            )
    for promo in catalog.promotions:
        if catalog.promo_in(SYSTEM, promo):
            _discount(ctx, promo)
    count = len(catalog.products)
    for object_type, last in (
        ("products", PRODUCT_BASE + count),
        ("productVariants", VARIANT_BASE + count),
        ("inventoryItems", ITEM_BASE + count),
        ("locations", LOCATION_BASE + len(location_gids)),
        ("discountCodes", DISCOUNT_BASE + len(catalog.promotions)),
    ):
        ctx.numeric_ids[(SYSTEM, object_type)] = last


def _discount(ctx: WorldContext, promo: Promotion) -> None:
    catalog, now = ctx.catalog, ctx.now
    gid = shopify_gid("DiscountCodeNode", DISCOUNT_BASE + promo.index + 1)
    ends_at: datetime | None = promo.ends_at
    status = promo.status(now)
    updated = max(promo.created_at, min(promo.starts_at, now))
    if (SYSTEM, promo.code) in catalog.faults.expired_but_active:
        ends_at, status = None, "ACTIVE"
    value = catalog.promo_value(SYSTEM, promo)
    if promo.percentage is not None:
        customer_value: dict[str, Any] = {"__typename": "DiscountPercentage", "percentage": value}
    else:
        customer_value = {
            "__typename": "DiscountAmount",
            "amount": {"amount": money(int(value)), "currencyCode": "EUR"},
            "appliesOnEachItem": False,
        }
    ctx.add(
        SYSTEM,
        "discountCodes",
        gid,
        {
            "id": gid,
            "codeDiscount": {
                "__typename": "DiscountCodeBasic",
                "title": promo.name,
                "status": status,
                "startsAt": iso_seconds_z(promo.starts_at),
                "endsAt": iso_seconds_z(ends_at) if ends_at else None,
                "appliesOncePerCustomer": promo.once_per_customer,
                "usageLimit": None,
                "codes": {"nodes": [{"code": promo.code}]},
                "customerGets": {"value": customer_value, "items": {"allItems": True}},
                "createdAt": iso_seconds_z(promo.created_at),
                "updatedAt": iso_seconds_z(updated),
            },
        },
        created_at=promo.created_at,
        updated_at=updated,
    )


def _address(copy: Copy, numeric: int) -> dict[str, Any] | None:
    if not copy.street:
        return None
    return {
        "id": f"gid://shopify/MailingAddress/{numeric}?model_name=CustomerAddress",
        "firstName": copy.given_name,
        "lastName": copy.family_name,
        "address1": copy.street,
        "address2": None,
        "zip": copy.postcode,
        "city": copy.city,
        "province": copy.region,
        "country": copy.country,
        "countryCodeV2": copy.country_code,
        "phone": copy.phone,
    }


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's customer record (two when a duplicate is injected) and their web orders."""
    copy = copy_for(person, SYSTEM, rng)
    created = ctx.joined(rng, person, days=20)
    numeric = ctx.numeric(SYSTEM, "customers", CUSTOMER_BASE)
    gid = shopify_gid("Customer", numeric)
    orders = _orders(ctx, person, rng, copy, gid, created)
    scratch["shopify_orders"] = orders
    _customer(ctx, person, rng, copy, numeric, created, orders)
    if person.faults.get("duplicate") == SYSTEM:
        twin = copy_for(person, SYSTEM, rng)
        if twin.email and copy.email and twin.email.lower() == copy.email.lower():
            local, _, domain = twin.email.partition("@")
            twin = Copy(**{**_as_dict(twin), "email": f"{local}+boutique@{domain}"})
        twin_created = moment_between(rng, created, ctx.now - timedelta(days=2))
        twin_numeric = ctx.numeric(SYSTEM, "customers", CUSTOMER_BASE)
        _customer(ctx, person, rng, twin, twin_numeric, twin_created, [])
        ctx.fault_details[(person.person_id, "duplicate_in_channel")]["record_ids"] = [
            gid,
            shopify_gid("Customer", twin_numeric),
        ]


def _as_dict(copy: Copy) -> dict[str, Any]:
    return {name: getattr(copy, name) for name in copy.__slots__}


def _customer(
    ctx: WorldContext,
    person: Person,
    rng: random.Random,
    copy: Copy,
    numeric: int,
    created: datetime,
    orders: list[dict[str, Any]],
) -> None:
    gid = shopify_gid("Customer", numeric)
    last_order = max((o["_at"] for o in orders), default=created)
    updated = moment_between(rng, last_order, min(ctx.now, last_order + timedelta(days=60)))
    state = CONSENT_STATES[person.consent]
    consent = None
    if copy.email:
        consent = {
            "marketingState": state,
            "marketingOptInLevel": "SINGLE_OPT_IN" if state == "SUBSCRIBED" else None,
            "consentUpdatedAt": iso_seconds_z(moment_between(rng, created, updated))
            if state != "NOT_SUBSCRIBED"
            else None,
        }
    tags = []
    if person.loyalty_id:
        tags.append("fidélité")
    if person.company:
        tags.append("pro")
    if len(orders) >= 4:
        tags.append("VIP")
    spent = sum(o["_total"] for o in orders)
    display = " ".join(p for p in (copy.given_name, copy.family_name) if p) or (copy.email or "")
    ctx.add(
        SYSTEM,
        "customers",
        gid,
        {
            "id": gid,
            "legacyResourceId": str(numeric),
            "firstName": copy.given_name,
            "lastName": copy.family_name,
            "displayName": display,
            "email": copy.email,
            "phone": copy.phone,
            "verifiedEmail": bool(copy.email) and rng.random() < 0.9,
            "state": "ENABLED" if orders or rng.random() < 0.6 else "DISABLED",
            "locale": person.language,
            "note": None,
            "tags": tags,
            "numberOfOrders": str(len(orders)),
            "amountSpent": {"amount": money(spent), "currencyCode": "EUR"},
            "defaultAddress": _address(copy, ADDRESS_BASE + numeric - CUSTOMER_BASE),
            "emailMarketingConsent": consent,
            "createdAt": iso_seconds_z(created),
            "updatedAt": iso_seconds_z(updated),
        },
        created_at=created,
        updated_at=updated,
        person_id=person.person_id,
    )


def _orders(
    ctx: WorldContext, person: Person, rng: random.Random, copy: Copy, customer_gid: str, created: datetime
) -> list[dict[str, Any]]:
    """Web orders; each summary keeps `_at` and `_total` for the customer record and Odoo's mirror."""
    catalog = ctx.catalog
    count = ORDER_COUNTS.draw(rng)
    summaries: list[dict[str, Any]] = []
    moments = sorted(moment_between(rng, created, ctx.now - timedelta(hours=2)) for _ in range(count))
    for at in moments:
        number = ctx.counters.next(SYSTEM, "OrderName") + 1000
        numeric = ctx.numeric(SYSTEM, "orders", ORDER_BASE)
        gid = shopify_gid("Order", numeric)
        lines, subtotal = [], 0
        items = rng.sample(catalog.products, k=rng.choice((1, 1, 1, 2, 2, 3, 4)))
        for product in items:
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = catalog.channel_price(SYSTEM, product)
            subtotal += price * quantity
            line_numeric = ctx.numeric(SYSTEM, "line_items", LINE_BASE)
            lines.append(
                {
                    "id": shopify_gid("LineItem", line_numeric),
                    "sku": product.sku,
                    "name": product.name,
                    "quantity": quantity,
                    "originalUnitPrice": money(price),
                    "originalUnitPriceSet": _money_set(price),
                    "variant": {"id": variant_gid(product)},
                    "_product": product,
                    "_price": price,
                    "_quantity": quantity,
                }
            )
        discount, codes = 0, []
        usable = [p for p in catalog.promotions if p.web and p.starts_at <= at < p.ends_at]
        if usable and rng.random() < 0.2:
            promo = rng.choice(usable)
            codes = [promo.code]
            discount = round(subtotal * promo.percentage) if promo.percentage else min(subtotal, promo.amount or 0)
        total = subtotal - discount
        shipping = 0 if total >= 6000 else 590
        total += shipping
        updated = moment_between(rng, at, min(ctx.now, at + timedelta(days=6)))
        payload = {
            "id": gid,
            "legacyResourceId": str(numeric),
            "name": f"#{number}",
            "email": copy.email,
            "phone": copy.phone,
            "createdAt": iso_seconds_z(at),
            "updatedAt": iso_seconds_z(updated),
            "processedAt": iso_seconds_z(at),
            "closedAt": iso_seconds_z(updated),
            "cancelledAt": None,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "FULFILLED",
            "customer": {"id": customer_gid},
            "currencyCode": "EUR",
            "subtotalPrice": money(subtotal),
            "totalDiscounts": money(discount),
            "totalShippingPrice": money(shipping),
            "totalPrice": money(total),
            "totalPriceSet": _money_set(total),
            "discountCodes": codes,
            "lineItems": {"nodes": [{k: v for k, v in line.items() if not k.startswith("_")} for line in lines]},
            "shippingAddress": _address(copy, 0) if copy.street else None,
            "sourceName": "web",
        }
        if payload["shippingAddress"]:
            payload["shippingAddress"].pop("id")
        ctx.add(SYSTEM, "orders", gid, payload, created_at=at, updated_at=updated, person_id=person.person_id)
        summaries.append(
            {
                "_at": at,
                "_total": total,
                "name": f"#{number}",
                "lines": lines,
                "discount": discount,
                "shipping": shipping,
                "updated": updated,
            }
        )
    return summaries


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a customer, as Shopify holds them."""
    address = payload.get("defaultAddress") or {}
    return {
        "given_name": payload.get("firstName"),
        "family_name": payload.get("lastName"),
        "email": payload.get("email"),
        "phone": payload.get("phone"),
        "birth_date": None,
        "street": address.get("address1"),
        "postcode": address.get("zip"),
        "city": address.get("city"),
        "region": address.get("province"),
        "country": address.get("country"),
        "loyalty_id": None,
    }
