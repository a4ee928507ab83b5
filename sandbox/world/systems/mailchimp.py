"""Mailchimp Marketing: one audience, its members (merge fields, tags, marketing permissions), the campaigns sent to
it, their email activity and their unsubscribes.

Who is a member is drawn from the person's own seeded generator, never from the shared one, so adding this system
leaves every other system's copy of the world as it was.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from canalis.sandbox.world.context import WorldContext, moment_between, opted_out_in
from canalis.sandbox.world.people import Person, stable_rng
from canalis.sandbox.world.variations import DOMAIN_TYPOS, copy_for

SYSTEM = "mailchimp"
IDENTITY_TYPE = "members"
LIST_ID = "a1c9e4d2f7"
LIST_NAME = "Canalis Maison"
EMAIL_PERMISSION = "e7f1c2a3b4"
ADS_PERMISSION = "d6e5f4a3b2"
CAMPAIGNS = (
    "Nouvelle collection",
    "Soldes d'hiver",
    "Fête des pères",
    "Rentrée",
    "Black Friday",
    "Noël",
    "Printemps",
    "Offre fidélité",
)
UNSUBSCRIBE_REASONS = (
    "Je ne souhaite plus recevoir ces emails",
    "Je reçois trop d'emails",
    "Le contenu ne m'intéresse pas",
    "N/A (Unsubscribed by an admin)",
)
TYPO_DOMAINS = {typo for typos in DOMAIN_TYPOS.values() for typo in typos}
LINK = "https://www.canalis-maison.fr/collection"


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def mailchimp_time(moment: datetime) -> str:
    """Mailchimp's form: ISO-8601 UTC to the second with +00:00."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def campaign_id(n: int) -> str:
    """A campaign's id: ten hex digits."""
    return hashlib.sha1(f"mailchimp-campaign:{n}".encode(), usedforsecurity=False).hexdigest()[:10]


def _sent_at(ctx: WorldContext, n: int) -> datetime:
    days = ctx.spec.history_days * (len(CAMPAIGNS) - n) // (len(CAMPAIGNS) + 1) + 3
    return (ctx.now - timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


def joins(person: Person, seed: int) -> bool:
    """Whether the person is in the audience: most online customers who consented once, a few others."""
    if person.consent == "none":
        return False
    rng = stable_rng(seed, SYSTEM, "joins", person.index)
    online = bool({"shopify", "brevo"} & person.systems)
    return rng.random() < (0.7 if online else 0.15)


def emit_catalog(ctx: WorldContext) -> None:
    """The audience and the campaigns sent to it."""
    created = ctx.now - timedelta(days=ctx.spec.history_days + 30)
    audience = {
        "id": LIST_ID,
        "web_id": 412345,
        "name": LIST_NAME,
        "contact": {"company": "Canalis Maison", "address1": "12 rue des Halles", "city": "Lyon", "country": "FR"},
        "permission_reminder": "Vous recevez cet email car vous êtes client de Canalis Maison.",
        "campaign_defaults": {"from_name": "Canalis Maison", "from_email": "news@canalis-maison.fr", "language": "fr"},
        "date_created": mailchimp_time(created),
        "list_rating": 3,
        "email_type_option": False,
        "marketing_permissions": True,
        "stats": {},
    }
    ctx.add(SYSTEM, "lists", LIST_ID, audience, created_at=created, updated_at=created)
    for n, title in enumerate(CAMPAIGNS):
        sent = _sent_at(ctx, n)
        identifier = campaign_id(n)
        campaign = {
            "id": identifier,
            "web_id": 900100 + n,
            "type": "regular",
            "create_time": mailchimp_time(sent - timedelta(days=2)),
            "send_time": mailchimp_time(sent),
            "status": "sent",
            "content_type": "template",
            "recipients": {"list_id": LIST_ID, "list_is_active": True, "list_name": LIST_NAME},
            "settings": {
                "subject_line": f"{title} : nos nouveautés",
                "title": f"{title} {sent.year}",
                "from_name": "Canalis Maison",
                "reply_to": "news@canalis-maison.fr",
            },
        }
        ctx.add(SYSTEM, "campaigns", identifier, campaign, created_at=sent - timedelta(days=2), updated_at=sent)


def emit_person(ctx: WorldContext, person: Person, _shared: random.Random, scratch: dict[str, Any]) -> None:
    """The person's member record, the activity of the campaigns they received, and their unsubscribe."""
    rng = stable_rng(ctx.spec.seed, SYSTEM, person.index)
    copy = copy_for(person, SYSTEM, rng)
    if not copy.email:
        return
    email = copy.email
    member_id = subscriber_hash(email)
    signup = moment_between(rng, person.first_seen, person.first_seen + timedelta(days=20))
    bounced = email.partition("@")[2].lower() in TYPO_DOMAINS
    unsubscribed = not bounced and opted_out_in(person.consent, person.faults, SYSTEM)
    status = "cleaned" if bounced else "unsubscribed" if unsubscribed else "subscribed"
    received = [n for n in range(len(CAMPAIGNS)) if _sent_at(ctx, n) > signup]
    if unsubscribed and received:
        received = received[: rng.randint(1, len(received))]
    last_changed = signup
    for n in received:
        if rng.random() < 0.5 or bounced:
            _activity(ctx, person, rng, n, email, bounced)
    if unsubscribed:
        last_changed = _unsubscribe(ctx, person, rng, received, email, copy, signup)
    elif bounced and received:
        last_changed = _sent_at(ctx, received[0]) + timedelta(minutes=5)
    tags = [name for name, wanted in (("Client web", "shopify" in person.systems), ("Client boutique",
            "square" in person.systems), ("VIP", rng.random() < 0.08)) if wanted]  # fmt: skip
    address: Any = ""
    if copy.street and copy.city:
        address = {"addr1": copy.street, "addr2": "", "city": copy.city, "state": copy.region or "",
                   "zip": copy.postcode or "", "country": copy.country_code or "FR"}  # fmt: skip
    birthday = f"{person.birth_date:%m/%d}" if rng.random() < 0.3 else ""
    member = {
        "id": member_id,
        "email_address": email,
        "unique_email_id": member_id[:10],
        "contact_id": hashlib.sha1(email.lower().encode(), usedforsecurity=False).hexdigest()[:32],
        "full_name": " ".join(p for p in (copy.given_name, copy.family_name) if p),
        "web_id": 500_000 + ctx.numeric(SYSTEM, "members", 0),
        "email_type": "html",
        "status": status,
        "unsubscribe_reason": rng.choice(UNSUBSCRIBE_REASONS) if unsubscribed else None,
        "consents_to_one_to_one_messaging": True,
        "merge_fields": {
            "FNAME": copy.given_name or "",
            "LNAME": copy.family_name or "",
            "ADDRESS": address,
            "PHONE": copy.phone or "",
            "BIRTHDAY": birthday,
        },
        "interests": {},
        "stats": {"avg_open_rate": round(rng.random() * 0.6, 2), "avg_click_rate": round(rng.random() * 0.2, 2)},
        "ip_signup": "",
        "timestamp_signup": mailchimp_time(signup),
        "ip_opt": f"82.64.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "timestamp_opt": mailchimp_time(signup),
        "member_rating": rng.randint(1, 5),
        "last_changed": mailchimp_time(last_changed),
        "language": "fr" if person.language == "fr" else "en",
        "vip": "VIP" in tags,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0, "country_code": "FR", "timezone": ""},
        "marketing_permissions": [
            {"marketing_permission_id": EMAIL_PERMISSION, "text": "Email", "enabled": status == "subscribed"},
            {"marketing_permission_id": ADS_PERMISSION, "text": "Publicité en ligne", "enabled": rng.random() < 0.4},
        ],
        "source": rng.choice(("Hosted Signup Form", "API - Generic", "Admin Add")),
        "tags_count": len(tags),
        "tags": [{"id": 30_000 + index, "name": name} for index, name in enumerate(tags)],
        "list_id": LIST_ID,
    }
    ctx.add(
        SYSTEM, "members", member_id, member, created_at=signup, updated_at=last_changed, person_id=person.person_id
    )


def _activity(ctx: WorldContext, person: Person, rng: random.Random, n: int, email: str, bounced: bool) -> None:
    """What the member did with one campaign: a bounce, or opens and clicks."""
    sent = _sent_at(ctx, n) + timedelta(seconds=rng.randint(0, 1800))
    if bounced:
        actions = [{"action": "bounce", "type": "hard", "timestamp": mailchimp_time(sent + timedelta(minutes=1))}]
    else:
        opened = sent + timedelta(minutes=rng.randint(5, 2880))
        actions = [{"action": "open", "timestamp": mailchimp_time(opened), "ip": "82.64.10.1"}]
        if rng.random() < 0.3:
            clicked = opened + timedelta(seconds=rng.randint(5, 600))
            actions.append({"action": "click", "timestamp": mailchimp_time(clicked), "url": LINK, "ip": "82.64.10.1"})
    identifier = campaign_id(n)
    record = {
        "campaign_id": identifier,
        "list_id": LIST_ID,
        "list_is_active": True,
        "email_id": subscriber_hash(email),
        "email_address": email,
        "activity": actions,
    }
    last = max(datetime.fromisoformat(action["timestamp"]) for action in actions)
    ctx.add(
        SYSTEM,
        "email_activity",
        f"{identifier}:{record['email_id']}",
        record,
        created_at=sent,
        updated_at=last,
        person_id=person.person_id,
    )


def _unsubscribe(
    ctx: WorldContext, person: Person, rng: random.Random, received: list[int], email: str, copy: Any, signup: datetime
) -> datetime:
    """The unsubscribe from the last campaign received (or from the admin when none was); returns when."""
    if not received:
        return moment_between(rng, signup, ctx.now - timedelta(days=1))
    n = received[-1]
    at = _sent_at(ctx, n) + timedelta(hours=rng.randint(1, 72))
    identifier = campaign_id(n)
    record = {
        "email_id": subscriber_hash(email),
        "email_address": email,
        "merge_fields": {"FNAME": copy.given_name or "", "LNAME": copy.family_name or ""},
        "vip": False,
        "timestamp": mailchimp_time(at),
        "reason": rng.choice(UNSUBSCRIBE_REASONS[:3]),
        "campaign_id": identifier,
        "list_id": LIST_ID,
        "list_is_active": True,
    }
    ctx.add(
        SYSTEM,
        "unsubscribes",
        f"{identifier}:{record['email_id']}",
        record,
        created_at=at,
        updated_at=at,
        person_id=person.person_id,
    )
    return at


def identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Identity-resolution fields of a member, as Mailchimp holds them."""
    merge = payload.get("merge_fields") or {}
    address = merge.get("ADDRESS") if isinstance(merge.get("ADDRESS"), dict) else {}
    return {
        "given_name": merge.get("FNAME") or None,
        "family_name": merge.get("LNAME") or None,
        "email": payload.get("email_address"),
        "phone": merge.get("PHONE") or None,
        "birth_date": None,
        "street": address.get("addr1") or None,
        "postcode": address.get("zip") or None,
        "city": address.get("city") or None,
        "region": address.get("state") or None,
        "country": address.get("country") or None,
        "loyalty_id": None,
    }
