"""Odoo (read() value conventions): partners, the product master, pricelists, stock, sales, promotions."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.world.catalog import STOCK_PLACES, Product, money
from canalis.sandbox.world.context import WorldContext, moment_between
from canalis.sandbox.world.formats import odoo_datetime
from canalis.sandbox.world.people import Company, Person
from canalis.sandbox.world.variations import copy_for

SYSTEM = "odoo"
IDENTITY_TYPE = "res.partner"
PARTNER_BASE = 100
COMPANY = [1, "Canalis Maison"]
EUR = [1, "EUR"]
PRICELISTS = {"web": [1, "Public EUR"], "store": [2, "Store EUR"]}
COUNTRIES = {"FR": [75, "France"], "GB": [231, "United Kingdom"]}
LANGS = {"fr": "fr_FR", "en": "en_GB"}


def _f(value: Any) -> Any:
    """Odoo's `false` for empty values."""
    return False if value is None or value == "" else value


def _stamps(created: datetime, updated: datetime) -> dict[str, str]:
    return {"create_date": odoo_datetime(created), "write_date": odoo_datetime(updated)}


def product_ref(product: Product) -> list[Any]:
    """The many2one value of a product: [id, "[SKU] name"]."""
    return [product.index + 1, f"[{product.sku}] {product.name}"]


def emit_catalog(ctx: WorldContext) -> None:
    """Products, pricelists and their fixed prices, stock locations and quants, loyalty programs."""
    catalog, now = ctx.catalog, ctx.now
    opened = now - timedelta(days=1300)
    for key, (pid, name) in PRICELISTS.items():
        ctx.add(
            SYSTEM,
            "product.pricelist",
            str(pid),
            {
                "id": pid,
                "name": name,
                "display_name": name,
                "currency_id": EUR,
                "active": True,
                "company_id": COMPANY,
                "x_channel": key,
                **_stamps(opened, opened),
            },
            created_at=opened,
            updated_at=opened,
        )
    for place in STOCK_PLACES:
        ctx.add(
            SYSTEM,
            "stock.location",
            str(place.odoo_id),
            {
                "id": place.odoo_id,
                "name": "Stock",
                "complete_name": place.odoo_name,
                "display_name": place.odoo_name,
                "usage": "internal",
                "active": True,
                "company_id": COMPANY,
                **_stamps(opened, opened),
            },
            created_at=opened,
            updated_at=opened,
        )
    item_id = quant_id = 0
    for product in catalog.products:
        created, updated = product.created_at, product.updated_at
        ref = product_ref(product)
        ctx.add(
            SYSTEM,
            "product.product",
            str(ref[0]),
            {
                "id": ref[0],
                "name": product.name,
                "display_name": ref[1],
                "default_code": product.sku,
                "barcode": product.barcode,
                "list_price": float(money(product.list_price)),
                "standard_price": float(money(product.cost)),
                "categ_id": [
                    2 + [c for c in ("Maison", "Beauté", "Épicerie fine", "Papeterie")].index(product.category),
                    f"Tous / {product.category}",
                ],
                "product_tmpl_id": [ref[0], product.name],
                "type": "product",
                "sale_ok": True,
                "active": True,
                "uom_id": [1, "Unités"],
                "company_id": False,
                **_stamps(created, updated),
            },
            created_at=created,
            updated_at=updated,
        )
        for key, price in (("web", product.list_price), ("store", product.store_price)):
            item_id += 1
            ctx.add(
                SYSTEM,
                "product.pricelist.item",
                str(item_id),
                {
                    "id": item_id,
                    "pricelist_id": PRICELISTS[key],
                    "product_id": ref,
                    "product_tmpl_id": [ref[0], product.name],
                    "applied_on": "0_product_variant",
                    "compute_price": "fixed",
                    "fixed_price": float(money(price)),
                    "min_quantity": 0.0,
                    "date_start": False,
                    "date_end": False,
                    "currency_id": EUR,
                    **_stamps(created, updated),
                },
                created_at=created,
                updated_at=updated,
            )
        for place in STOCK_PLACES:
            quant_id += 1
            quantity, reserved = product.stock[place.key]
            ctx.add(
                SYSTEM,
                "stock.quant",
                str(quant_id),
                {
                    "id": quant_id,
                    "product_id": ref,
                    "location_id": [place.odoo_id, place.odoo_name],
                    "quantity": float(quantity),
                    "reserved_quantity": float(reserved),
                    "available_quantity": float(quantity - reserved),
                    "lot_id": False,
                    "company_id": COMPANY,
                    "in_date": odoo_datetime(created),
                    **_stamps(created, updated),
                },
                created_at=created,
                updated_at=updated,
            )
    ctx.numeric_ids[(SYSTEM, "product.pricelist.item")] = item_id
    ctx.numeric_ids[(SYSTEM, "stock.quant")] = quant_id
    ctx.numeric_ids[(SYSTEM, "product.product")] = len(catalog.products)
    _loyalty(ctx)


def _loyalty(ctx: WorldContext) -> None:
    for promo in ctx.catalog.promotions:
        pid = promo.index + 1
        program = [pid, promo.name]
        created = promo.created_at
        updated = max(created, min(promo.starts_at, ctx.now))
        stamps = _stamps(created, updated)
        ctx.add(
            SYSTEM,
            "loyalty.program",
            str(pid),
            {
                "id": pid,
                "name": promo.name,
                "display_name": promo.name,
                "program_type": "promo_code",
                "trigger": "with_code",
                "applies_on": "current",
                "active": True,
                "date_from": promo.starts_at.date().isoformat(),
                "date_to": promo.ends_at.date().isoformat(),
                "limit_usage": promo.once_per_customer,
                "max_usage": 0,
                "ecommerce_ok": promo.web,
                "pos_ok": promo.store,
                "rule_ids": [pid],
                "reward_ids": [pid],
                "currency_id": EUR,
                "company_id": COMPANY,
                **stamps,
            },
            created_at=created,
            updated_at=updated,
        )
        ctx.add(
            SYSTEM,
            "loyalty.rule",
            str(pid),
            {
                "id": pid,
                "program_id": program,
                "mode": "with_code",
                "code": promo.code,
                "minimum_qty": 0,
                "minimum_amount": 0.0,
                **stamps,
            },
            created_at=created,
            updated_at=updated,
        )
        percent = promo.percentage is not None
        value = round((promo.percentage or 0) * 100, 2) if percent else float(money(promo.amount or 0))
        ctx.add(
            SYSTEM,
            "loyalty.reward",
            str(pid),
            {
                "id": pid,
                "program_id": program,
                "reward_type": "discount",
                "discount": value,
                "discount_mode": "percent" if percent else "per_order",
                "discount_applicability": "order",
                "description": promo.name,
                **stamps,
            },
            created_at=created,
            updated_at=updated,
        )
    for model in ("loyalty.program", "loyalty.rule", "loyalty.reward"):
        ctx.numeric_ids[(SYSTEM, model)] = len(ctx.catalog.promotions)


def _company_partner(ctx: WorldContext, company: Company, created: datetime) -> list[Any]:
    partners: dict[str, list[Any]] = ctx.chunk_state.setdefault("odoo_companies", {})
    if company.domain not in partners:
        pid = ctx.numeric(SYSTEM, "res.partner", PARTNER_BASE)
        partners[company.domain] = [pid, company.name]
        ctx.add(
            SYSTEM,
            "res.partner",
            str(pid),
            {
                "id": pid,
                "name": company.name,
                "display_name": company.name,
                "firstname": False,
                "lastname": False,
                "is_company": True,
                "parent_id": False,
                "type": "contact",
                "email": f"contact@{company.domain}",
                "phone": False,
                "mobile": False,
                "street": False,
                "street2": False,
                "zip": False,
                "city": False,
                "state_id": False,
                "country_id": COUNTRIES["FR"],
                "lang": "fr_FR",
                "ref": False,
                "website": f"https://www.{company.domain}",
                "customer_rank": 1,
                "active": True,
                "company_id": False,
                **_stamps(created, created),
            },
            created_at=created,
            updated_at=created,
        )
    return partners[company.domain]


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's partner and their sale orders (web orders mirrored from Shopify, plus B2B orders)."""
    copy = copy_for(person, SYSTEM, rng)
    created = ctx.joined(rng, person, days=30)
    parent: list[Any] | bool = _company_partner(ctx, person.company, created) if person.company else False
    pid = ctx.numeric(SYSTEM, "res.partner", PARTNER_BASE)
    name = " ".join(p for p in (copy.given_name, copy.family_name) if p)
    display = f"{parent[1]}, {name}" if isinstance(parent, list) else name
    compact = (copy.phone or "").replace(" ", "")
    mobile = compact.startswith(("+336", "+337", "+447"))
    orders = scratch.get("shopify_orders", [])
    updated = max([moment_between(rng, created, ctx.now)] + [o["updated"] for o in orders])
    ctx.add(
        SYSTEM,
        "res.partner",
        str(pid),
        {
            "id": pid,
            "name": name,
            "display_name": display,
            "firstname": _f(copy.given_name),
            "lastname": _f(copy.family_name),
            "is_company": False,
            "parent_id": parent,
            "type": "contact",
            "email": _f(copy.email),
            "phone": False if mobile else _f(copy.phone),
            "mobile": _f(copy.phone) if mobile else False,
            "street": _f(copy.street),
            "street2": False,
            "zip": _f(copy.postcode),
            "city": _f(copy.city),
            "state_id": False,
            "country_id": COUNTRIES.get(copy.country_code or "", False),
            "lang": LANGS[person.language],
            "ref": _f(copy.loyalty_id),
            "website": False,
            "customer_rank": 1 + len(orders),
            "active": True,
            "company_id": False,
            **_stamps(created, updated),
        },
        created_at=created,
        updated_at=updated,
        person_id=person.person_id,
    )
    partner = [pid, display]
    for order in orders:
        lines = [(line["_product"], line["_quantity"], line["_price"]) for line in order["lines"]]
        _sale_order(
            ctx,
            person,
            partner,
            order["_at"],
            order["updated"],
            lines,
            order["discount"],
            client_ref=order["name"],
            origin="Shopify",
            pricelist=PRICELISTS["web"],
        )
    if person.company:
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            at = moment_between(rng, created, ctx.now - timedelta(days=1))
            lines = [
                (p, rng.choice((2, 5, 10, 20)), p.list_price)
                for p in rng.sample(ctx.catalog.products, k=rng.randint(1, 5))
            ]
            _sale_order(
                ctx,
                person,
                partner,
                at,
                moment_between(rng, at, ctx.now),
                lines,
                0,
                client_ref=f"BC-{rng.randint(1000, 99999)}",
                origin=False,
                pricelist=PRICELISTS["web"],
            )


def _sale_order(
    ctx: WorldContext,
    person: Person,
    partner: list[Any],
    at: datetime,
    updated: datetime,
    lines: list[tuple[Product, int, int]],
    discount: int,
    *,
    client_ref: str,
    origin: str | bool,
    pricelist: list[Any],
) -> None:
    oid = ctx.numeric(SYSTEM, "sale.order", 0)
    name = f"S{oid:05d}"
    line_ids = []
    total = 0
    for product, quantity, price in lines:
        lid = ctx.numeric(SYSTEM, "sale.order.line", 0)
        line_ids.append(lid)
        total += price * quantity
        ctx.add(
            SYSTEM,
            "sale.order.line",
            str(lid),
            {
                "id": lid,
                "order_id": [oid, name],
                "product_id": product_ref(product),
                "name": product.name,
                "product_uom_qty": float(quantity),
                "price_unit": float(money(price)),
                "discount": 0.0,
                "price_subtotal": float(money(round(price * quantity / 1.2))),
                "price_total": float(money(price * quantity)),
                **_stamps(at, updated),
            },
            created_at=at,
            updated_at=updated,
            person_id=person.person_id,
        )
    total -= discount
    ctx.add(
        SYSTEM,
        "sale.order",
        str(oid),
        {
            "id": oid,
            "name": name,
            "partner_id": partner,
            "date_order": odoo_datetime(at),
            "state": "sale",
            "client_order_ref": client_ref,
            "origin": origin,
            "pricelist_id": pricelist,
            "currency_id": EUR,
            "amount_untaxed": float(money(round(total / 1.2))),
            "amount_tax": float(money(total - round(total / 1.2))),
            "amount_total": float(money(total)),
            "order_line": line_ids,
            "company_id": COMPANY,
            "user_id": [2, "Administrateur"],
            **_stamps(at, updated),
        },
        created_at=at,
        updated_at=updated,
        person_id=person.person_id,
    )


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a partner, as Odoo holds them (false read as None)."""

    def value(key: str) -> Any:
        found = payload.get(key)
        return None if found is False else found

    country = payload.get("country_id")
    state = payload.get("state_id")
    return {
        "given_name": value("firstname"),
        "family_name": value("lastname"),
        "email": value("email"),
        "phone": value("mobile") or value("phone"),
        "birth_date": None,
        "street": value("street"),
        "postcode": value("zip"),
        "city": value("city"),
        "region": state[1] if state else None,
        "country": country[1] if country else None,
        "loyalty_id": value("ref"),
    }
