"""Freshdesk help desk: contacts, their tickets and the satisfaction ratings of resolved tickets.

Who has a Freshdesk contact is drawn from the person's own seeded generator, never from the shared one, so adding
this system leaves every other system's copy of the world as it was.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from canalis.sandbox.world.context import WorldContext, complaint_may_stay_open, moment_between
from canalis.sandbox.world.formats import iso_seconds_z
from canalis.sandbox.world.people import Person, Weighted, stable_rng
from canalis.sandbox.world.variations import copy_for

SYSTEM = "freshdesk"
IDENTITY_TYPE = "contacts"
CONTACT_ID_BASE = 153_000_000_000
RATING_ID_BASE = 153_900_000_000
AGENT_ID = 153_000_000_001
GROUP_ID = 153_000_000_002
OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
SOURCES = ((1, 5), (2, 2), (3, 2), (7, 1))  # email, portal, phone, chat, with their weights
COMPLAINT_TYPE = "Réclamation"
QUESTIONS = (
    ("Question", "Délai de livraison de ma commande"),
    ("Question", "Disponibilité d'un article en boutique"),
    ("Question", "Modifier mon adresse de livraison"),
    ("Incident", "Paiement refusé sur le site"),
    ("Incident", "Code promo non accepté"),
    ("Remboursement", "Demande de remboursement"),
)
SOURCE_DRAW: Weighted[int] = Weighted([code for code, _ in SOURCES], [weight for _, weight in SOURCES])
COMPLAINTS = ("Article reçu endommagé", "Colis jamais reçu", "Erreur sur ma facture", "Accueil en boutique")
# Freshdesk's satisfaction scale: 103 extremely happy ... -103 extremely unhappy.
RATINGS = (103, 102, 101, 100, -101, -102, -103)


def joins(person: Person, seed: int) -> bool:
    """Whether the person has a Freshdesk contact: most people who write to support, a few others."""
    rng = stable_rng(seed, SYSTEM, "joins", person.index)
    return rng.random() < (0.85 if "mailbox" in person.systems else 0.08)


def emit_person(ctx: WorldContext, person: Person, _shared: random.Random, scratch: dict[str, Any]) -> None:
    """The person's contact, one to three tickets, and ratings of some resolved tickets."""
    rng = stable_rng(ctx.spec.seed, SYSTEM, person.index)
    copy = copy_for(person, SYSTEM, rng)
    if not copy.email and not copy.phone:
        return
    contact_id = ctx.numeric(SYSTEM, "contacts", CONTACT_ID_BASE)
    created = moment_between(rng, person.first_seen, ctx.now - timedelta(days=2))
    name = " ".join(part for part in (copy.given_name, copy.family_name) if part)
    last = created
    for _ in range(rng.choice((1, 1, 2, 3))):
        last = max(last, _ticket(ctx, person, rng, contact_id, created))
    contact = {
        "id": contact_id,
        "name": name,
        "email": copy.email,
        "phone": copy.phone if rng.random() < 0.5 else None,
        "mobile": copy.phone,
        "active": bool(copy.email),
        "address": ", ".join(p for p in (copy.street, copy.postcode, copy.city) if p) or None,
        "description": None,
        "job_title": None,
        "language": "fr" if person.language == "fr" else "en",
        "time_zone": "Paris",
        "unique_external_id": person.loyalty_id if rng.random() < 0.3 else None,
        "company_id": None,
        "view_all_tickets": False,
        "deleted": False,
        "other_emails": [],
        "tags": [],
        "custom_fields": {},
        "created_at": iso_seconds_z(created),
        "updated_at": iso_seconds_z(last),
    }
    ctx.add(
        SYSTEM, "contacts", str(contact_id), contact, created_at=created, updated_at=last, person_id=person.person_id
    )


def _ticket(ctx: WorldContext, person: Person, rng: random.Random, contact_id: int, joined: Any) -> Any:
    """One ticket (and maybe its rating); returns when it last changed."""
    ticket_id = ctx.numeric(SYSTEM, "tickets", 0)
    created = moment_between(rng, joined, ctx.now - timedelta(hours=3))
    complaint = rng.random() < 0.3
    kind, subject = (COMPLAINT_TYPE, rng.choice(COMPLAINTS)) if complaint else rng.choice(QUESTIONS)
    may_stay_open = not complaint or complaint_may_stay_open(person.consent, person.faults, SYSTEM)
    status = rng.choice((OPEN, PENDING)) if may_stay_open and rng.random() < 0.2 else rng.choice((RESOLVED, CLOSED))
    updated = moment_between(rng, created + timedelta(minutes=10), min(ctx.now, created + timedelta(days=6)))
    source = SOURCE_DRAW.draw(rng)
    ticket = {
        "id": ticket_id,
        "subject": subject,
        "type": kind,
        "status": status,
        "priority": 3 if complaint else rng.choice((1, 2)),
        "source": source,
        "requester_id": contact_id,
        "responder_id": AGENT_ID,
        "group_id": GROUP_ID,
        "company_id": None,
        "product_id": None,
        "email_config_id": None,
        "is_escalated": complaint and rng.random() < 0.3,
        "fr_escalated": False,
        "spam": False,
        "tags": ["réclamation"] if complaint else [],
        "cc_emails": [],
        "fwd_emails": [],
        "reply_cc_emails": [],
        "to_emails": None,
        "custom_fields": {},
        "due_by": iso_seconds_z(created + timedelta(days=3)),
        "fr_due_by": iso_seconds_z(created + timedelta(days=1)),
        "created_at": iso_seconds_z(created),
        "updated_at": iso_seconds_z(updated),
    }
    ctx.add(
        SYSTEM, "tickets", str(ticket_id), ticket, created_at=created, updated_at=updated, person_id=person.person_id
    )
    if status in (RESOLVED, CLOSED) and rng.random() < 0.45:
        rated = moment_between(rng, updated, min(ctx.now, updated + timedelta(days=2)))
        score = rng.choice(RATINGS[3:] if complaint else RATINGS[:4])
        rating_id = ctx.numeric(SYSTEM, "satisfaction_ratings", RATING_ID_BASE)
        rating = {
            "id": rating_id,
            "survey_id": 153_000_000_010,
            "user_id": contact_id,
            "agent_id": AGENT_ID,
            "group_id": GROUP_ID,
            "ticket_id": ticket_id,
            "feedback": "Merci pour votre aide" if score > 100 else None,
            "ratings": {"default_question": score},
            "created_at": iso_seconds_z(rated),
            "updated_at": iso_seconds_z(rated),
        }
        ctx.add(
            SYSTEM,
            "satisfaction_ratings",
            str(rating_id),
            rating,
            created_at=rated,
            updated_at=rated,
            person_id=person.person_id,
        )
        return max(updated, rated)
    return updated


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a contact, as Freshdesk holds them (one `name` field)."""
    given, _, family = str(payload.get("name") or "").partition(" ")
    return {
        "given_name": given or None,
        "family_name": family or None,
        "email": payload.get("email"),
        "phone": payload.get("mobile") or payload.get("phone"),
        "birth_date": None,
        "street": None,
        "postcode": None,
        "city": None,
        "region": None,
        "country": None,
        "loyalty_id": payload.get("unique_external_id"),
    }
