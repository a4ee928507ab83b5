"""Ground truth of a generated world: who each record belongs to, and the injected inconsistencies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from canalis.sandbox.objectstore import ObjectStore, TruthInconsistency
from canalis.sandbox.world import maildir
from canalis.sandbox.world.systems import brevo, freshdesk, hubspot, mailchimp, odoo, salesforce, shopify, square

Extractor = Callable[[dict[str, Any]], dict[str, Any] | None]

IDENTITY_SOURCES: dict[str, tuple[str, Extractor]] = {
    "salesforce": (salesforce.IDENTITY_TYPE, salesforce.identity),
    "hubspot": (hubspot.IDENTITY_TYPE, hubspot.identity),
    "shopify": (shopify.IDENTITY_TYPE, shopify.identity),
    "square": (square.IDENTITY_TYPE, square.identity),
    "odoo": (odoo.IDENTITY_TYPE, odoo.identity),
    "brevo": (brevo.IDENTITY_TYPE, brevo.identity),
    "mailbox": (maildir.IDENTITY_TYPE, maildir.identity),
    "freshdesk": (freshdesk.IDENTITY_TYPE, freshdesk.identity),
    "mailchimp": (mailchimp.IDENTITY_TYPE, mailchimp.identity),
}

IDENTITY_FIELDS: tuple[str, ...] = (
    "source",
    "source_id",
    "given_name",
    "family_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "postcode",
    "city",
    "region",
    "country",
    "loyalty_id",
    "truth_person_id",
)


def iter_identity_records(store: ObjectStore, systems: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    """Every person-bearing record in the identity-resolution input format, raw values as each system holds them."""
    for system, (object_type, extract) in IDENTITY_SOURCES.items():
        if systems is not None and system not in systems:
            continue
        for stored, person_id in store.iter_with_truth(system, object_type):
            if person_id is None:
                continue
            fields = extract(stored.payload)
            if fields is None:
                continue
            yield {"source": system, "source_id": stored.object_id, **fields, "truth_person_id": person_id}


def holds_at(item: TruthInconsistency, at: datetime) -> bool:
    """Whether an injected inconsistency can still be found at a moment (a promotion fault ends with the promotion)."""
    ends = item.details.get("ends_at") if isinstance(item.details, dict) else None
    return ends is None or datetime.fromisoformat(ends) >= at


def inconsistencies_at(store: ObjectStore, at: datetime | None = None) -> list[TruthInconsistency]:
    """The injected inconsistencies that hold at a moment (now by default)."""
    at = at or datetime.now(UTC)
    return [item for item in store.truth_inconsistencies() if holds_at(item, at)]


def ground_truth_document(store: ObjectStore, limit: int | None = None) -> dict[str, Any]:
    """The ground truth as one JSON-ready document, as of the moment it is asked; `limit` caps the record rows."""
    records = []
    total = store.count_truth_records()
    for n, (system, object_type, object_id, person_id) in enumerate(store.iter_truth_records()):
        if limit is not None and n >= limit:
            break
        records.append({"system": system, "object_type": object_type, "object_id": object_id, "person_id": person_id})
    return {
        "world": store.kv_get("world:spec"),
        "records_total": total,
        "records_truncated": len(records) < total,
        "records": records,
        "as_of": datetime.now(UTC).isoformat(),
        "inconsistencies": [item.as_dict() for item in inconsistencies_at(store)],
    }
