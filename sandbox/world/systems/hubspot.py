"""HubSpot (CRM v3 shapes): contacts, companies, deals, tickets, products, line items and email events."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.world.catalog import money
from canalis.sandbox.world.context import (
    WorldContext,
    complaint_may_stay_open,
    moment_between,
    opted_out_in,
)
from canalis.sandbox.world.formats import epoch_millis, iso_millis_z
from canalis.sandbox.world.ids import opaque_id
from canalis.sandbox.world.people import Company, Person, Weighted
from canalis.sandbox.world.texts import COMPLAINT_SUBJECTS, QUESTION_SUBJECTS
from canalis.sandbox.world.variations import Copy, copy_for

SYSTEM = "hubspot"
IDENTITY_TYPE = "contacts"
TICKET_COUNTS: Weighted[int] = Weighted((0, 1, 2), (75, 20, 5))
PORTAL_ID = 4_815_162
PRODUCT_BASE = 1_500_000_000
BASES = {
    "contacts": 100,
    "companies": 8_000_000_000,
    "deals": 12_000_000_000,
    "tickets": 2_300_000_000,
    "line_items": 6_100_000_000,
}
CAMPAIGN_IDS = tuple(range(301_114_000, 301_114_000 + 24))
OPEN_STAGES = ("1", "2", "3")
CLOSED_STAGE = "4"


def _object(
    object_id: str,
    created: datetime,
    updated: datetime,
    properties: dict[str, Any],
    last_modified_key: str = "hs_lastmodifieddate",
    **extra: Any,
) -> dict[str, Any]:
    props = {key: None if value is None else str(value) for key, value in properties.items()}
    props |= {"createdate": iso_millis_z(created), last_modified_key: iso_millis_z(updated), "hs_object_id": object_id}
    return {
        "id": object_id,
        "properties": props,
        "createdAt": iso_millis_z(created),
        "updatedAt": iso_millis_z(updated),
        "archived": False,
        **extra,
    }


def _associations(kind: str, ids: list[str], label: str) -> dict[str, Any]:
    return {kind: {"results": [{"id": i, "type": label} for i in ids]}}


def product_id(index: int) -> str:
    """The HubSpot product id of a catalogue product."""
    return str(PRODUCT_BASE + index + 1)


def emit_catalog(ctx: WorldContext) -> None:
    """HubSpot products carrying the web price."""
    for product in ctx.catalog.products:
        pid = product_id(product.index)
        ctx.add(
            SYSTEM,
            "products",
            pid,
            _object(
                pid,
                product.created_at,
                product.updated_at,
                {
                    "name": product.name,
                    "hs_sku": product.sku,
                    "price": money(ctx.catalog.channel_price(SYSTEM, product)),
                    "description": product.category,
                    "hs_cost_of_goods_sold": money(product.cost),
                },
            ),
            created_at=product.created_at,
            updated_at=product.updated_at,
        )
    ctx.numeric_ids[(SYSTEM, "products")] = PRODUCT_BASE + len(ctx.catalog.products)


def _company(ctx: WorldContext, company: Company, created: datetime) -> str:
    companies: dict[str, str] = ctx.chunk_state.setdefault("hubspot_companies", {})
    if company.domain not in companies:
        cid = str(ctx.numeric(SYSTEM, "companies", BASES["companies"]))
        companies[company.domain] = cid
        ctx.add(
            SYSTEM,
            "companies",
            cid,
            _object(
                cid,
                created,
                created,
                {
                    "name": company.name,
                    "domain": company.domain,
                    "country": "France",
                    "industry": "RETAIL",
                    "lifecyclestage": "customer",
                },
            ),
            created_at=created,
            updated_at=created,
        )
    return companies[company.domain]


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's contact (two when a duplicate is injected), deals, tickets and email events."""
    copy = copy_for(person, SYSTEM, rng)
    if copy.email:
        copy = Copy(**{**{n: getattr(copy, n) for n in copy.__slots__}, "email": copy.email.lower()})
    created = ctx.joined(rng, person, days=45)
    contact_id = _contact(ctx, person, rng, copy, created)
    if person.faults.get("duplicate") == SYSTEM:
        twin = copy_for(person, SYSTEM, rng)
        local, _, domain = person.email.partition("@")
        twin = Copy(**{**{n: getattr(twin, n) for n in twin.__slots__}, "email": f"{local}+news@{domain}"})
        twin_id = _contact(ctx, person, rng, twin, moment_between(rng, created, ctx.now - timedelta(days=1)))
        ctx.fault_details[(person.person_id, "duplicate_in_channel")]["record_ids"] = [contact_id, twin_id]
    _tickets(ctx, person, rng, contact_id, created)
    if rng.random() < (0.5 if person.company else 0.12):
        _deal(ctx, person, rng, contact_id, created)
    if copy.email and rng.random() < 0.35:
        _email_events(ctx, person, rng, copy.email, created)


def _contact(ctx: WorldContext, person: Person, rng: random.Random, copy: Copy, created: datetime) -> str:
    cid = str(ctx.numeric(SYSTEM, "contacts", BASES["contacts"]))
    updated = moment_between(rng, created, ctx.now)
    birth = copy.birth_date
    if "birth_date_conflict" in person.faults:
        birth = datetime.fromisoformat(person.faults["birth_date_conflict"]).date()
    extra: dict[str, Any] = {}
    company_name = None
    if person.company:
        company_name = person.company.name
        extra["associations"] = _associations(
            "companies", [_company(ctx, person.company, created)], "contact_to_company"
        )
    compact = (copy.phone or "").replace(" ", "")
    mobile = compact.startswith(("+336", "+337", "+447", "06", "07"))
    payload = _object(
        cid,
        created,
        updated,
        {
            "firstname": copy.given_name,
            "lastname": copy.family_name,
            "email": copy.email,
            "phone": None if mobile else copy.phone,
            "mobilephone": copy.phone if mobile else None,
            "address": copy.street,
            "city": copy.city,
            "zip": copy.postcode,
            "state": copy.region,
            "country": copy.country,
            "company": company_name,
            "date_of_birth": birth.isoformat() if birth else None,
            "hs_email_optout": "true" if opted_out_in(person.consent, person.faults, SYSTEM) else "false",
            "hs_language": person.language,
            "lifecyclestage": rng.choice(("customer", "customer", "lead", "subscriber")),
            "lastmodifieddate": iso_millis_z(updated),
        },
        **extra,
    )
    ctx.add(SYSTEM, "contacts", cid, payload, created_at=created, updated_at=updated, person_id=person.person_id)
    return cid


def _tickets(ctx: WorldContext, person: Person, rng: random.Random, contact_id: str, created: datetime) -> None:
    forced = person.faults.get("open_complaint") == SYSTEM
    count = TICKET_COUNTS.draw(rng) + (1 if forced else 0)
    may_stay_open = complaint_may_stay_open(person.consent, person.faults, SYSTEM)
    for n in range(count):
        last_forced = forced and n == count - 1
        complaint = last_forced or rng.random() < 0.4
        opened = moment_between(rng, created, ctx.now - timedelta(hours=3))
        if last_forced:
            opened = moment_between(rng, ctx.now - timedelta(days=20), ctx.now - timedelta(hours=3))
        is_open = last_forced or (rng.random() < 0.25 and (not complaint or may_stay_open))
        closed = None if is_open else moment_between(rng, opened, min(ctx.now, opened + timedelta(days=12)))
        updated = closed or moment_between(rng, opened, ctx.now)
        subject = rng.choice((COMPLAINT_SUBJECTS if complaint else QUESTION_SUBJECTS)[person.language])
        tid = str(ctx.numeric(SYSTEM, "tickets", BASES["tickets"]))
        category = "COMPLAINT" if complaint else rng.choice(("PRODUCT_ISSUE", "GENERAL_INQUIRY", "BILLING_ISSUE"))
        ctx.add(
            SYSTEM,
            "tickets",
            tid,
            _object(
                tid,
                opened,
                updated,
                {
                    "subject": subject,
                    "content": subject,
                    "hs_pipeline": "0",
                    "hs_pipeline_stage": rng.choice(OPEN_STAGES) if is_open else CLOSED_STAGE,
                    "hs_ticket_category": category,
                    "hs_ticket_priority": "HIGH" if complaint else rng.choice(("MEDIUM", "LOW")),
                    "source_type": rng.choice(("EMAIL", "CHAT", "FORM", "PHONE")),
                    "closed_date": iso_millis_z(closed) if closed else None,
                },
                associations=_associations("contacts", [contact_id], "ticket_to_contact"),
            ),
            created_at=opened,
            updated_at=updated,
            person_id=person.person_id,
        )
        if last_forced:
            ctx.fault_details[(person.person_id, "complaint_targeted_by_promotion")]["case_id"] = tid


def _deal(ctx: WorldContext, person: Person, rng: random.Random, contact_id: str, created: datetime) -> None:
    catalog = ctx.catalog
    at = moment_between(rng, created, ctx.now - timedelta(days=1))
    did = str(ctx.numeric(SYSTEM, "deals", BASES["deals"]))
    line_ids, amount = [], 0
    for product in rng.sample(catalog.products, k=rng.randint(1, 4)):
        quantity = rng.choice((1, 2, 5, 10)) if person.company else 1
        price = catalog.channel_price(SYSTEM, product)
        amount += price * quantity
        lid = str(ctx.numeric(SYSTEM, "line_items", BASES["line_items"]))
        line_ids.append(lid)
        ctx.add(
            SYSTEM,
            "line_items",
            lid,
            _object(
                lid,
                at,
                at,
                {
                    "name": product.name,
                    "hs_product_id": product_id(product.index),
                    "hs_sku": product.sku,
                    "quantity": quantity,
                    "price": money(price),
                    "amount": money(price * quantity),
                },
                associations=_associations("deals", [did], "line_item_to_deal"),
            ),
            created_at=at,
            updated_at=at,
            person_id=person.person_id,
        )
    won = rng.random() < 0.7
    updated = moment_between(rng, at, ctx.now)
    ctx.add(
        SYSTEM,
        "deals",
        did,
        _object(
            did,
            at,
            updated,
            {
                "dealname": f"{person.company.name if person.company else person.family_name} - commande",
                "amount": money(amount),
                "pipeline": "default",
                "dealstage": "closedwon"
                if won
                else rng.choice(("appointmentscheduled", "qualifiedtobuy", "closedlost")),
                "closedate": iso_millis_z(updated),
            },
            associations={
                **_associations("contacts", [contact_id], "deal_to_contact"),
                **_associations("line_items", line_ids, "deal_to_line_item"),
            },
        ),
        created_at=at,
        updated_at=updated,
        person_id=person.person_id,
    )


def _email_events(ctx: WorldContext, person: Person, rng: random.Random, email: str, created: datetime) -> None:
    """Marketing email events in the shape of HubSpot's email events API."""
    last = None
    for _ in range(rng.randint(1, 3)):
        campaign = rng.choice(CAMPAIGN_IDS)
        sent = moment_between(rng, created, ctx.now - timedelta(days=1))
        sent_id = opaque_id(f"hs-sent:{ctx.spec.seed}", ctx.counters.next(SYSTEM, "email_sends"), 32).lower()
        types = ["SENT", "DELIVERED"]
        if rng.random() < 0.03:
            types = ["SENT", "BOUNCE"]
        elif rng.random() < 0.45:
            types.append("OPEN")
            if rng.random() < 0.35:
                types.append("CLICK")
        at = sent
        for kind in types:
            _event(ctx, person, kind, email, campaign, sent_id, sent, at, {})
            at = min(at + timedelta(seconds=rng.randint(2, 86400)), ctx.now)
        last = (campaign, sent_id, sent, at)
    if last and person.consent == "unsubscribed":
        campaign, sent_id, sent, at = last
        _event(
            ctx,
            person,
            "STATUSCHANGE",
            email,
            campaign,
            sent_id,
            sent,
            at,
            {
                "source": "SOURCE_RECIPIENT",
                "portalSubscriptionStatus": "UNSUBSCRIBED",
                "subscriptions": [{"id": 7_700_101, "status": "UNSUBSCRIBED"}],
            },
        )


def _event(
    ctx: WorldContext,
    person: Person,
    kind: str,
    email: str,
    campaign: int,
    sent_id: str,
    sent: datetime,
    at: datetime,
    extra: dict[str, Any],
) -> None:
    event_id = opaque_id(f"hs-event:{ctx.spec.seed}", ctx.counters.next(SYSTEM, "email_events"), 32).lower()
    payload = {
        "id": event_id,
        "type": kind,
        "recipient": email,
        "created": epoch_millis(at),
        "portalId": PORTAL_ID,
        "appId": 113,
        "appName": "BatchTest",
        "emailCampaignId": campaign,
        "sentBy": {"id": sent_id, "created": epoch_millis(sent)},
        **extra,
    }
    if kind == "BOUNCE":
        payload |= {"category": "UNKNOWN_USER", "status": "550"}
    ctx.add(SYSTEM, "email_events", event_id, payload, created_at=at, updated_at=at, person_id=person.person_id)


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a contact, as HubSpot holds them."""
    props = payload.get("properties") or {}
    return {
        "given_name": props.get("firstname"),
        "family_name": props.get("lastname"),
        "email": props.get("email"),
        "phone": props.get("mobilephone") or props.get("phone"),
        "birth_date": props.get("date_of_birth"),
        "street": props.get("address"),
        "postcode": props.get("zip"),
        "city": props.get("city"),
        "region": props.get("state"),
        "country": props.get("country"),
        "loyalty_id": None,
    }
