"""HubSpot wire format: object types, error bodies, timestamps and the public shape of CRM objects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from canalis.sandbox.objectstore import format_timestamp
from canalis.sandbox.server.emulator import json_response

SYSTEM = "hubspot"

OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-5": "tickets",
    "0-7": "products",
    "0-8": "line_items",
}
OBJECT_TYPES = frozenset(OBJECT_TYPE_IDS.values())
SINGULAR = {
    "contacts": "CONTACT",
    "companies": "COMPANY",
    "deals": "DEAL",
    "tickets": "TICKET",
    "products": "PRODUCT",
    "line_items": "LINE_ITEM",
}

# What HubSpot returns when a request names no properties.
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "tickets": (
        "content",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_category",
        "hs_ticket_priority",
        "subject",
    ),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
    "line_items": (
        "amount",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hs_product_id",
        "name",
        "price",
        "quantity",
    ),
}
# Returned whatever properties are asked for.
ALWAYS_PROPERTIES = ("createdate", "hs_lastmodifieddate", "lastmodifieddate", "hs_object_id")
MODIFIED_PROPERTIES = ("hs_lastmodifieddate", "lastmodifieddate")
READ_ONLY_PROPERTIES = frozenset({"hs_object_id", "createdate", "hs_lastmodifieddate", "lastmodifieddate"})

# Properties a portal defines per type beyond those the world fills in: Canalis's external id and the
# per-subscription opt-out flags HubSpot keeps on contacts.
CUSTOM_PROPERTIES = {"contacts": frozenset({"canalis_id"})}
SUBSCRIPTION_OPTOUT_PREFIX = "hs_email_optout_"

# HubSpot-defined association type ids, by (from type, to type).
ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("tickets", "contacts"): 16,
    ("contacts", "tickets"): 15,
    ("deals", "line_items"): 19,
    ("line_items", "deals"): 20,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("tickets", "companies"): 339,
    ("companies", "tickets"): 340,
    ("tickets", "deals"): 28,
    ("deals", "tickets"): 27,
}


def object_type(name: str) -> str | None:
    """The canonical object type for a path segment (name or `0-x` id), or None when unknown."""
    lowered = name.lower()
    if lowered in OBJECT_TYPES:
        return lowered
    return OBJECT_TYPE_IDS.get(lowered)


def timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and Z, HubSpot's timestamp form."""
    return format_timestamp(moment or datetime.now(UTC))


def millis_to_timestamp(millis: int) -> str:
    """Epoch milliseconds as a store timestamp."""
    return format_timestamp(datetime.fromtimestamp(millis / 1000, tz=UTC))


def parse_time_value(value: Any) -> str | None:
    """A filter value (epoch millis or ISO text) as a store timestamp; None when unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return millis_to_timestamp(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def error_body(
    message: str,
    category: str,
    *,
    sub_category: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """HubSpot's error body."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors is not None:
        body["errors"] = errors
    if context is not None:
        body["context"] = context
    return body


def error_response(
    status: int,
    message: str,
    category: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An error answer in HubSpot's shape."""
    return json_response(error_body(message, category, **extra), status, headers=headers)


def validation_error(message: str, **extra: Any) -> Response:
    """400 VALIDATION_ERROR."""
    return error_response(400, message, "VALIDATION_ERROR", **extra)


def batch_error(message: str, category: str, ids: list[str], sub_category: str | None = None) -> dict[str, Any]:
    """One entry of a batch answer's `errors` list (HubSpot's StandardError)."""
    entry: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }
    if sub_category:
        entry["subCategory"] = sub_category
    return entry


def batch_response(results: list[Any], errors: list[dict[str, Any]], started: str, created: bool = False) -> Response:
    """A batch answer: 200 (201 for creates), or 207 with `errors` and `numErrors` when some inputs failed."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": timestamp()}
    if errors:
        body |= {"numErrors": len(errors), "errors": errors}
        return json_response(body, 207)
    return json_response(body, 201 if created else 200)


def requested_properties(values: list[str]) -> list[str]:
    """Property names from `properties=a,b` or repeated `properties=` parameters (or a JSON list)."""
    names: list[str] = []
    for value in values:
        names.extend(part.strip() for part in str(value).split(",") if part.strip())
    return names


def public_object(
    object_type_name: str,
    payload: dict[str, Any],
    properties: list[str] | None,
    associations: list[str] | None = None,
) -> dict[str, Any]:
    """An object as HubSpot serves it: the asked-for (or default) properties, timestamps, maybe associations."""
    stored = payload.get("properties") or {}
    names = properties or DEFAULT_PROPERTIES[object_type_name]
    props = {name: stored.get(name) for name in names}
    for name in ALWAYS_PROPERTIES:
        if name in stored:
            props[name] = stored[name]
    shaped: dict[str, Any] = {
        "id": payload["id"],
        "properties": props,
        "createdAt": payload["createdAt"],
        "updatedAt": payload["updatedAt"],
        "archived": payload.get("archived", False),
    }
    if payload.get("archivedAt"):
        shaped["archivedAt"] = payload["archivedAt"]
    if associations:
        linked = payload.get("associations") or {}
        found = {name: linked[name] for name in associations if linked.get(name, {}).get("results")}
        if found:
            shaped["associations"] = found
    return shaped


def corrupted(record: dict[str, Any]) -> dict[str, Any]:
    """A record damaged the way a faulty upstream might: its properties are no longer an object."""
    return {**record, "properties": "<<corrupted>>"}
