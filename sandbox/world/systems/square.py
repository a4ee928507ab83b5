"""Square: POS customers, orders, catalog (items, variations, discounts, pricing rules), stock, locations."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.world.catalog import STOCK_PLACES, Product, Promotion, StockPlace
from canalis.sandbox.world.context import WorldContext, moment_between
from canalis.sandbox.world.formats import epoch_millis, iso_millis_z
from canalis.sandbox.world.ids import opaque_id
from canalis.sandbox.world.people import Person, Weighted
from canalis.sandbox.world.variations import Copy, copy_for

SYSTEM = "square"
IDENTITY_TYPE = "customers"
SALE_COUNTS: Weighted[int] = Weighted(range(5), (20, 40, 20, 12, 8))
PLACES: tuple[StockPlace, ...] = tuple(p for p in STOCK_PLACES if p.channel == SYSTEM)


def location_id(place: StockPlace) -> str:
    """The Square location id of a store."""
    return "L" + opaque_id(f"location:{place.key}", 0, 12)


def item_id(product: Product) -> str:
    """The catalog ITEM id of a product."""
    return opaque_id("item", product.index, 24)


def variation_id(product: Product) -> str:
    """The catalog ITEM_VARIATION id of a product."""
    return opaque_id("variation", product.index, 24)


def discount_id(promo: Promotion) -> str:
    """The catalog DISCOUNT id of a promotion."""
    return opaque_id("discount", promo.index, 24)


def _money(cents: int) -> dict[str, Any]:
    return {"amount": cents, "currency": "EUR"}


def _catalog_object(
    kind: str, object_id: str, updated: datetime, created: datetime, data_key: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": object_id,
        "updated_at": iso_millis_z(updated),
        "created_at": iso_millis_z(created),
        "version": epoch_millis(updated),
        "is_deleted": False,
        "present_at_all_locations": True,
        data_key: data,
    }


def emit_catalog(ctx: WorldContext) -> None:
    """Locations, catalog items with their variations, discounts with pricing rules, and inventory counts."""
    catalog, now = ctx.catalog, ctx.now
    opened = now - timedelta(days=1100)
    for place in PLACES:
        ctx.add(
            SYSTEM,
            "locations",
            location_id(place),
            {
                "id": location_id(place),
                "name": place.name,
                "business_name": "Canalis Maison",
                "type": "PHYSICAL",
                "status": "ACTIVE",
                "address": {
                    "address_line_1": place.street,
                    "locality": place.city,
                    "postal_code": place.postcode,
                    "country": "FR",
                },
                "phone_number": place.phone,
                "timezone": "Europe/Paris",
                "country": "FR",
                "currency": "EUR",
                "language_code": "fr-FR",
                "merchant_id": "MLCANALIS0SANDBOX",
                "created_at": iso_millis_z(opened),
            },
            created_at=opened,
            updated_at=opened,
        )
    for product in catalog.products:
        created, updated = product.created_at, product.updated_at
        variation = _catalog_object(
            "ITEM_VARIATION",
            variation_id(product),
            updated,
            created,
            "item_variation_data",
            {
                "item_id": item_id(product),
                "name": "Standard",
                "sku": product.sku,
                "upc": product.barcode,
                "ordinal": 0,
                "pricing_type": "FIXED_PRICING",
                "price_money": _money(catalog.channel_price(SYSTEM, product)),
                "track_inventory": True,
                "sellable": True,
                "stockable": True,
            },
        )
        item = _catalog_object(
            "ITEM",
            item_id(product),
            updated,
            created,
            "item_data",
            {
                "name": product.name,
                "description": f"{product.category} - {product.name}",
                "product_type": "REGULAR",
                "variations": [variation],
            },
        )
        ctx.add(SYSTEM, "catalog", item["id"], item, created_at=created, updated_at=updated)
        for place in PLACES:
            count_id = f"{variation_id(product)}:{location_id(place)}"
            ctx.add(
                SYSTEM,
                "inventory_counts",
                count_id,
                {
                    "catalog_object_id": variation_id(product),
                    "catalog_object_type": "ITEM_VARIATION",
                    "state": "IN_STOCK",
                    "location_id": location_id(place),
                    "quantity": str(catalog.channel_available(SYSTEM, product, place.key)),
                    "calculated_at": iso_millis_z(updated),
                },
                created_at=created,
                updated_at=updated,
            )
    for promo in catalog.promotions:
        if catalog.promo_in(SYSTEM, promo):
            _discount(ctx, promo)


def _discount(ctx: WorldContext, promo: Promotion) -> None:
    catalog = ctx.catalog
    value = catalog.promo_value(SYSTEM, promo)
    created = promo.created_at
    updated = max(created, min(promo.starts_at, ctx.now))
    if promo.percentage is not None:
        data: dict[str, Any] = {
            "name": promo.code,
            "discount_type": "FIXED_PERCENTAGE",
            "percentage": f"{float(value) * 100:.1f}",
        }
    else:
        data = {"name": promo.code, "discount_type": "FIXED_AMOUNT", "amount_money": _money(int(value))}
    data |= {"pin_required": False, "modify_tax_basis": "MODIFY_TAX_BASIS"}
    ctx.add(
        SYSTEM,
        "catalog",
        discount_id(promo),
        _catalog_object("DISCOUNT", discount_id(promo), updated, created, "discount_data", data),
        created_at=created,
        updated_at=updated,
    )
    until: str | None = (promo.ends_at + timedelta(days=1)).date().isoformat()
    if (SYSTEM, promo.code) in catalog.faults.expired_but_active:
        until = None
    rule_id = opaque_id("pricing_rule", promo.index, 24)
    ctx.add(
        SYSTEM,
        "catalog",
        rule_id,
        _catalog_object(
            "PRICING_RULE",
            rule_id,
            updated,
            created,
            "pricing_rule_data",
            {
                "name": promo.name,
                "discount_id": discount_id(promo),
                "valid_from_date": promo.starts_at.date().isoformat(),
                "valid_until_date": until,
                "application_mode": "MANUAL",
            },
        ),
        created_at=created,
        updated_at=updated,
    )


def _address(copy: Copy) -> dict[str, Any] | None:
    if not copy.street:
        return None
    address = {
        "address_line_1": copy.street,
        "locality": copy.city,
        "postal_code": copy.postcode,
        "country": copy.country_code,
    }
    if copy.region:
        address["administrative_district_level_1"] = copy.region
    return address


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's POS customer record(s) and in-store sales, plus some anonymous sales."""
    home = PLACES[1] if person.address.city == "Lyon" else PLACES[0]
    copy = copy_for(person, SYSTEM, rng)
    if rng.random() < 0.05:
        copy = Copy(**{**{n: getattr(copy, n) for n in copy.__slots__}, "phone": home.phone})
    created = ctx.joined(rng, person, days=60)
    customer = _customer(ctx, person, rng, copy, created)
    _sales(ctx, person, rng, customer, home, created)
    if person.faults.get("duplicate") == SYSTEM:
        twin = copy_for(person, SYSTEM, rng)
        twin_id = _customer(ctx, person, rng, twin, moment_between(rng, created, ctx.now - timedelta(days=1)))
        ctx.fault_details[(person.person_id, "duplicate_in_channel")]["record_ids"] = [customer, twin_id]
    if rng.random() < 0.4:
        _sales(ctx, None, rng, None, home, created)


def _customer(ctx: WorldContext, person: Person, rng: random.Random, copy: Copy, created: datetime) -> str:
    number = ctx.counters.next(SYSTEM, "customers")
    customer_id = opaque_id(f"customer:{ctx.spec.seed}", number, 26)
    updated = moment_between(rng, created, ctx.now)
    payload: dict[str, Any] = {
        "id": customer_id,
        "created_at": iso_millis_z(created),
        "updated_at": iso_millis_z(updated),
        "given_name": copy.given_name,
        "family_name": copy.family_name,
        "email_address": copy.email,
        "phone_number": copy.phone,
        "address": _address(copy),
        "birthday": copy.birth_date.isoformat() if copy.birth_date else None,
        "reference_id": copy.loyalty_id if rng.random() < 0.8 else None,
        "note": None,
        "preferences": {"email_unsubscribed": person.consent == "unsubscribed"},
        "creation_source": rng.choice(("DIRECTORY", "TERMINAL", "LOYALTY", "THIRD_PARTY")),
        "segment_ids": [],
        "version": rng.randint(0, 6),
    }
    ctx.add(
        SYSTEM,
        "customers",
        customer_id,
        {k: v for k, v in payload.items() if v is not None},
        created_at=created,
        updated_at=updated,
        person_id=person.person_id,
    )
    return customer_id


def _sales(
    ctx: WorldContext,
    person: Person | None,
    rng: random.Random,
    customer_id: str | None,
    home: StockPlace,
    created: datetime,
) -> None:
    catalog = ctx.catalog
    count = SALE_COUNTS.draw(rng) if person else 1
    for _ in range(count):
        at = moment_between(rng, created, ctx.now - timedelta(hours=1))
        place = home if rng.random() < 0.85 else rng.choice(PLACES)
        number = ctx.counters.next(SYSTEM, "orders")
        order_id = opaque_id(f"order:{ctx.spec.seed}", number, 27)
        lines, gross = [], 0
        for product in rng.sample(catalog.products, k=rng.choice((1, 1, 2, 2, 3))):
            quantity = rng.choice((1, 1, 1, 2))
            price = catalog.channel_price(SYSTEM, product)
            gross += price * quantity
            lines.append(
                {
                    "uid": opaque_id(f"line:{order_id}", len(lines), 22),
                    "catalog_object_id": variation_id(product),
                    "catalog_version": epoch_millis(product.updated_at),
                    "quantity": str(quantity),
                    "name": product.name,
                    "variation_name": "Standard",
                    "item_type": "ITEM",
                    "base_price_money": _money(price),
                    "gross_sales_money": _money(price * quantity),
                    "total_discount_money": _money(0),
                    "total_tax_money": _money(round(price * quantity / 6)),
                    "total_money": _money(price * quantity),
                }
            )
        discounts, discount = [], 0
        usable = [p for p in catalog.promotions if p.store and p.starts_at <= at < p.ends_at]
        if usable and rng.random() < 0.15:
            promo = rng.choice(usable)
            discount = round(gross * promo.percentage) if promo.percentage else min(gross, promo.amount or 0)
            discounts.append(
                {
                    "uid": "d1",
                    "catalog_object_id": discount_id(promo),
                    "name": promo.code,
                    "type": "FIXED_PERCENTAGE" if promo.percentage else "FIXED_AMOUNT",
                    "applied_money": _money(discount),
                    "scope": "ORDER",
                }
            )
        total = gross - discount
        closed = at + timedelta(seconds=rng.randint(5, 300))
        payload: dict[str, Any] = {
            "id": order_id,
            "location_id": location_id(place),
            "source": {"name": "Point of Sale"},
            "state": "COMPLETED",
            "line_items": lines,
            "discounts": discounts,
            "total_money": _money(total),
            "total_tax_money": _money(round(total / 6)),
            "total_discount_money": _money(discount),
            "tenders": [
                {
                    "id": opaque_id(f"tender:{order_id}", 0, 24),
                    "type": rng.choice(("CARD", "CARD", "CASH")),
                    "amount_money": _money(total),
                }
            ],
            "created_at": iso_millis_z(at),
            "updated_at": iso_millis_z(closed),
            "closed_at": iso_millis_z(closed),
            "version": 4,
        }
        if customer_id:
            payload["customer_id"] = customer_id
        ctx.add(
            SYSTEM,
            "orders",
            order_id,
            payload,
            created_at=at,
            updated_at=closed,
            person_id=person.person_id if person else None,
        )


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a customer, as Square holds them."""
    address = payload.get("address") or {}
    return {
        "given_name": payload.get("given_name"),
        "family_name": payload.get("family_name"),
        "email": payload.get("email_address"),
        "phone": payload.get("phone_number"),
        "birth_date": payload.get("birthday"),
        "street": address.get("address_line_1"),
        "postcode": address.get("postal_code"),
        "city": address.get("locality"),
        "region": address.get("administrative_district_level_1"),
        "country": address.get("country"),
        "loyalty_id": payload.get("reference_id"),
    }
