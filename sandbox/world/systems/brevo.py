"""Brevo email marketing: contacts, lists, email campaigns and campaign events."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from canalis.sandbox.world.context import WorldContext, moment_between, opted_out_in
from canalis.sandbox.world.formats import brevo_datetime
from canalis.sandbox.world.ids import opaque_id
from canalis.sandbox.world.people import Person
from canalis.sandbox.world.variations import DOMAIN_TYPOS, copy_for

SYSTEM = "brevo"
IDENTITY_TYPE = "contacts"
LISTS: dict[int, str] = {2: "Newsletter", 3: "Clients boutique", 4: "Clients web", 5: "VIP"}
CAMPAIGNS: tuple[str, ...] = (
    "Nouveautés de la saison",
    "Soldes d'hiver",
    "Fête des mères",
    "Black Friday",
    "Noël en avance",
    "Rentrée",
    "Ventes privées",
    "Idées cadeaux",
    "Printemps",
    "Journées fidélité",
    "Collection été",
    "Offre anniversaire",
)
SENDER = {"name": "Canalis Maison", "email": "newsletter@canalis-maison.fr"}
TYPO_DOMAINS = {typo for typos in DOMAIN_TYPOS.values() for typo in typos}


def _campaign_moment(ctx: WorldContext, campaign_id: int) -> datetime:
    return _campaign_moments(ctx.now, ctx.spec.history_days)[campaign_id]


@cache
def _campaign_moments(now: datetime, history_days: int) -> dict[int, datetime]:
    """When each campaign went out (asked for every contact: worked out once per world)."""
    moments = {}
    for campaign_id in campaign_ids():
        days = history_days * (len(CAMPAIGNS) * 2 - campaign_id + 1) // (len(CAMPAIGNS) * 2 + 1)
        moments[campaign_id] = (now - timedelta(days=days)).replace(hour=8, minute=30, second=0, microsecond=0)
    return moments


def campaign_ids() -> range:
    """Ids of the campaigns sent over the world's history."""
    return range(1, len(CAMPAIGNS) * 2 + 1)


def emit_catalog(ctx: WorldContext) -> None:
    """The email campaigns sent over the history."""
    for cid in campaign_ids():
        sent = _campaign_moment(ctx, cid)
        name = f"{CAMPAIGNS[(cid - 1) % len(CAMPAIGNS)]} {sent.year}"
        ctx.add(
            SYSTEM,
            "email_campaigns",
            str(cid),
            {
                "id": cid,
                "name": name,
                "subject": f"{name} : découvrez nos offres",
                "type": "classic",
                "status": "sent",
                "sender": SENDER,
                "recipients": {"lists": [2]},
                "createdAt": brevo_datetime(sent - timedelta(days=3)),
                "modifiedAt": brevo_datetime(sent),
                "scheduledAt": brevo_datetime(sent),
                "sentDate": brevo_datetime(sent),
            },
            created_at=sent - timedelta(days=3),
            updated_at=sent,
        )
    ctx.numeric_ids[(SYSTEM, "email_campaigns")] = len(campaign_ids())


def emit_lists(ctx: WorldContext) -> None:
    """The contact lists with their subscriber counts (called once every person is written)."""
    counts: Counter[int] = ctx.tallies.setdefault("brevo_lists", Counter())
    blacklisted: int = ctx.tallies.get("brevo_blacklisted", 0)
    created = ctx.now - timedelta(days=ctx.spec.history_days + 100)
    for list_id, name in LISTS.items():
        ctx.add(
            SYSTEM,
            "lists",
            str(list_id),
            {
                "id": list_id,
                "name": name,
                "folderId": 1,
                "uniqueSubscribers": counts[list_id],
                "totalSubscribers": counts[list_id],
                "totalBlacklisted": blacklisted if list_id == 2 else 0,
                "createdAt": brevo_datetime(created),
            },
            created_at=created,
            updated_at=ctx.now,
        )
    ctx.numeric_ids[(SYSTEM, "lists")] = max(LISTS)


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """The person's contact and the campaign events sent to them."""
    copy = copy_for(person, SYSTEM, rng)
    if not copy.email:
        return
    email = copy.email.lower()
    created = ctx.joined(rng, person, days=10)
    blacklisted = opted_out_in(person.consent, person.faults, SYSTEM)
    lists = [] if blacklisted else [2]
    if not blacklisted:
        if "square" in person.systems:
            lists.append(3)
        if "shopify" in person.systems:
            lists.append(4)
        if rng.random() < 0.05:
            lists.append(5)
    counts: Counter[int] = ctx.tallies.setdefault("brevo_lists", Counter())
    counts.update(lists)
    ctx.tallies["brevo_blacklisted"] = ctx.tallies.get("brevo_blacklisted", 0) + int(blacklisted)
    events_end = _events(ctx, person, rng, email, created, blacklisted)
    updated = max(events_end, moment_between(rng, created, ctx.now))
    contact_id = ctx.numeric(SYSTEM, "contacts", 0)
    attributes: dict[str, Any] = {"FIRSTNAME": copy.given_name, "LASTNAME": copy.family_name}
    if copy.phone:
        attributes["SMS"] = copy.phone
    if person.loyalty_id and rng.random() < 0.5:
        attributes["NUMERO_FIDELITE"] = person.loyalty_id
    ctx.add(
        SYSTEM,
        "contacts",
        str(contact_id),
        {
            "id": contact_id,
            "email": email,
            "emailBlacklisted": blacklisted,
            "smsBlacklisted": blacklisted and rng.random() < 0.5,
            "createdAt": brevo_datetime(created),
            "modifiedAt": brevo_datetime(updated),
            "listIds": lists,
            "listUnsubscribed": [2] if blacklisted else [],
            "attributes": attributes,
        },
        created_at=created,
        updated_at=updated,
        person_id=person.person_id,
    )


def _events(
    ctx: WorldContext, person: Person, rng: random.Random, email: str, created: datetime, blacklisted: bool
) -> datetime:
    """Events of the campaigns sent since the contact joined; returns the last event time."""
    bounces = email.partition("@")[2] in TYPO_DOMAINS
    sent_to = [cid for cid in campaign_ids() if _campaign_moment(ctx, cid) > created]
    if blacklisted and sent_to:
        sent_to = sent_to[: rng.randint(1, len(sent_to))]
    sent_to = [cid for cid in sent_to if rng.random() < 0.35]
    last = created
    for n, cid in enumerate(sent_to):
        sent = _campaign_moment(ctx, cid) + timedelta(seconds=rng.randint(0, 3600))
        token = opaque_id(f"brevo-msg:{ctx.spec.seed}", ctx.counters.next(SYSTEM, "messages"), 20).lower()
        message_id = f"<{token}@smtp-relay.mailin.fr>"
        kinds = ["hardBounce"] if bounces else ["delivered"]
        if not bounces:
            if rng.random() < 0.02:
                kinds = ["softBounce"]
            elif rng.random() < 0.4:
                kinds.append("opened")
                if rng.random() < 0.3:
                    kinds.append("clicked")
            if blacklisted and n == len(sent_to) - 1 and "consent_optout" not in person.faults:
                kinds.append("unsubscribed")
        at = sent
        for kind in kinds:
            event: dict[str, Any] = {
                "email": email,
                "date": brevo_datetime(at),
                "messageId": message_id,
                "event": kind,
                "campaignId": cid,
                "subject": f"{CAMPAIGNS[(cid - 1) % len(CAMPAIGNS)]} : découvrez nos offres",
                "tag": "newsletter",
                "from": SENDER["email"],
            }
            if kind == "clicked":
                event["link"] = "https://www.canalis-maison.fr/nouveautes"
            if kind in ("hardBounce", "softBounce"):
                event["reason"] = "550 5.1.1 mailbox does not exist" if kind == "hardBounce" else "452 mailbox full"
            event_id = f"{cid}-{ctx.counters.next(SYSTEM, 'email_events')}"
            ctx.add(SYSTEM, "email_events", event_id, event, created_at=at, updated_at=at, person_id=person.person_id)
            last = at
            at += timedelta(seconds=rng.randint(30, 172800))
    return last


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a contact, as Brevo holds them."""
    attributes = payload.get("attributes") or {}
    return {
        "given_name": attributes.get("FIRSTNAME"),
        "family_name": attributes.get("LASTNAME"),
        "email": payload.get("email"),
        "phone": attributes.get("SMS"),
        "birth_date": None,
        "street": None,
        "postcode": None,
        "city": None,
        "region": None,
        "country": None,
        "loyalty_id": attributes.get("NUMERO_FIDELITE"),
    }
