"""Marketing email: the v1 email events feed and the v3 communication preferences (subscription status)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.hubspot.crm import EMAIL_PATTERN, EmailIndex
from canalis.sandbox.emulators.hubspot.wire import (
    SUBSCRIPTION_OPTOUT_PREFIX,
    SYSTEM,
    corrupted,
    error_response,
    millis_to_timestamp,
    validation_error,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 1000
SCAN_BATCH = 1000
SUBSCRIPTIONS_KEY = "hubspot:subscriptions:"
DEFINITIONS_CREATED = "2021-03-04T10:00:00.000Z"
SUBSCRIPTION_DEFINITIONS = (
    {"id": "7700101", "name": "Marketing Information", "purpose": "Marketing", "description": "Newsletters and offers"},
    {"id": "7700102", "name": "Customer Service", "purpose": "Customer Service", "description": "Service messages"},
)
LEGAL_BASES = frozenset(
    {
        "LEGITIMATE_INTEREST_PQL",
        "LEGITIMATE_INTEREST_CLIENT",
        "PERFORMANCE_OF_CONTRACT",
        "CONSENT_WITH_NOTICE",
        "NON_GDPR",
        "PROCESS_AND_STORE",
        "LEGITIMATE_INTEREST_OTHER",
    }
)


class Marketing:
    """Email events and subscription handlers (mixed into the HubSpot emulator)."""

    store: ObjectStore
    faults: FaultPlan
    emails: EmailIndex
    write: Callable[[str, dict[str, Any] | None, dict[str, Any]], dict[str, Any]]  # from the CrmObjects mixin

    routes_marketing = [
        ("/email/public/v1/events", ["GET"], "email_events"),
        ("/email/public/v1/events/<int:created>/<event_id>", ["GET"], "email_event"),
        ("/communication-preferences/v3/definitions", ["GET"], "subscription_definitions"),
        ("/communication-preferences/v3/status/email/<path:email>", ["GET"], "subscription_status"),
        ("/communication-preferences/v3/subscribe", ["POST"], "subscribe"),
        ("/communication-preferences/v3/unsubscribe", ["POST"], "unsubscribe"),
    ]

    # -- email events ------------------------------------------------------------------------------

    def email_events(self, request: Request) -> Response:
        args = request.args
        limit = args.get("limit", str(EVENTS_DEFAULT_LIMIT))
        if not limit.isdigit() or not 1 <= int(limit) <= EVENTS_MAX_LIMIT:
            return validation_error(f"limit must be between 1 and {EVENTS_MAX_LIMIT}")
        try:
            since = millis_to_timestamp(int(args["startTimestamp"])) if args.get("startTimestamp") else None
            until = millis_to_timestamp(int(args["endTimestamp"]) + 1) if args.get("endTimestamp") else None
            key = decode_offset(args["offset"]) if args.get("offset") else None
        except (ValueError, KeyError):
            return validation_error("startTimestamp and endTimestamp must be epoch milliseconds; offset as returned")
        wanted = {
            "type": args.get("eventType"),
            "recipient": (args.get("recipient") or "").lower() or None,
            "emailCampaignId": int(args["campaignId"]) if (args.get("campaignId") or "").isdigit() else None,
        }
        events: list[dict[str, Any]] = []
        more = False
        while not more:
            rows = self.store.page(
                SYSTEM,
                "email_events",
                limit=SCAN_BATCH,
                updated_since=since if key is None else None,  # a key already lies past `since`
                updated_before=until,
                order_by="updated_at",
                after_updated=key,
            )
            for row in rows:
                if any(value is not None and row.payload.get(name) != value for name, value in wanted.items()):
                    key = (row.updated_at, row.object_id)
                    continue
                if len(events) == int(limit):
                    more = True
                    break
                events.append(corrupted(row.payload) if self.faults.corrupt_record(SYSTEM) else row.payload)
                key = (row.updated_at, row.object_id)
            if len(rows) < SCAN_BATCH:
                break
        return json_response({"hasMore": more, "offset": encode_offset(key), "events": events})

    def email_event(self, request: Request, created: int, event_id: str) -> Response:
        payload = self.store.get(SYSTEM, "email_events", event_id)
        if payload is None or payload.get("created") != created:
            return error_response(404, f"No event {created}/{event_id}", "OBJECT_NOT_FOUND")
        return json_response(payload)

    # -- subscriptions -----------------------------------------------------------------------------

    def subscription_definitions(self, request: Request) -> Response:
        definitions = [
            {
                **item,
                "isActive": True,
                "isDefault": True,
                "isInternal": False,
                "communicationMethod": "Email",
                "createdAt": DEFINITIONS_CREATED,
                "updatedAt": DEFINITIONS_CREATED,
            }
            for item in SUBSCRIPTION_DEFINITIONS
        ]
        return json_response({"subscriptionDefinitions": definitions})

    def subscription_status(self, request: Request, email: str) -> Response:
        if not EMAIL_PATTERN.match(email):
            return validation_error(f"{email} is not a valid email address")
        statuses = self._statuses(email.lower())
        return json_response({"recipient": email.lower(), "subscriptionStatuses": list(statuses.values())})

    def subscribe(self, request: Request) -> Response:
        return self._change(request, "SUBSCRIBED")

    def unsubscribe(self, request: Request) -> Response:
        return self._change(request, "NOT_SUBSCRIBED")

    def _change(self, request: Request, status: str) -> Response:
        body = read_json(request)
        if not isinstance(body, dict):
            return validation_error('Invalid input JSON: expected {"emailAddress", "subscriptionId"}')
        email = str(body.get("emailAddress") or "").strip().lower()
        subscription_id = str(body.get("subscriptionId") or "")
        legal_basis = body.get("legalBasis")
        if not EMAIL_PATTERN.match(email):
            return validation_error(f"{email or 'emailAddress'} is not a valid email address")
        if legal_basis is not None and legal_basis not in LEGAL_BASES:
            return validation_error(f"legalBasis must be one of {', '.join(sorted(LEGAL_BASES))}")
        statuses = self._statuses(email)
        if subscription_id not in statuses:
            return validation_error(f"Subscription {subscription_id} does not exist")
        current = statuses[subscription_id]
        contact = self._contact(email)
        if status == "SUBSCRIBED" and current["sourceOfStatus"] == "PORTAL_WIDE_STATUS":
            return validation_error(f"{email} has opted out of all email and cannot be resubscribed through the API")
        if current["status"] == status:
            word = "subscribed to" if status == "SUBSCRIBED" else "unsubscribed from"
            return validation_error(f"{email} is already {word} subscription {subscription_id}")
        stored = self.store.kv_get(SUBSCRIPTIONS_KEY + email, {})
        stored[subscription_id] = {
            "status": status,
            "legalBasis": legal_basis,
            "legalBasisExplanation": body.get("legalBasisExplanation"),
        }
        self.store.kv_put(SUBSCRIPTIONS_KEY + email, stored)
        if contact is not None:
            flag = "false" if status == "SUBSCRIBED" else "true"
            self.write("contacts", contact, {f"{SUBSCRIPTION_OPTOUT_PREFIX}{subscription_id}": flag})
        return json_response(self._statuses(email)[subscription_id])

    def _contact(self, email: str) -> dict[str, Any] | None:
        found = self.emails.lookup(email)
        return self.store.get(SYSTEM, "contacts", found) if found else None

    def _statuses(self, email: str) -> dict[str, dict[str, Any]]:
        """Each subscription's status for an email: what was set through the API, else what the contact says."""
        contact = self._contact(email)
        props = (contact or {}).get("properties") or {}
        opted_out = props.get("hs_email_optout") == "true"
        stored = self.store.kv_get(SUBSCRIPTIONS_KEY + email, {})
        statuses = {}
        for definition in SUBSCRIPTION_DEFINITIONS:
            sid = definition["id"]
            flag = props.get(f"{SUBSCRIPTION_OPTOUT_PREFIX}{sid}")
            if opted_out:
                status, source = "NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS"
            elif sid in stored:
                status, source = stored[sid]["status"], "SUBSCRIPTION_STATUS"
            elif flag is not None:
                status, source = ("NOT_SUBSCRIBED" if flag == "true" else "SUBSCRIBED"), "SUBSCRIPTION_STATUS"
            else:
                status, source = ("SUBSCRIBED" if contact else "NOT_SUBSCRIBED"), "SUBSCRIPTION_STATUS"
            entry = {
                "id": sid,
                "name": definition["name"],
                "description": definition["description"],
                "status": status,
                "sourceOfStatus": source,
            }
            for name in ("legalBasis", "legalBasisExplanation"):
                if (stored.get(sid) or {}).get(name):
                    entry[name] = stored[sid][name]
            statuses[sid] = entry
        return statuses


def encode_offset(key: tuple[str, str] | None) -> str:
    """An opaque paging offset for the email events feed."""
    raw = json.dumps(list(key) if key else [])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_offset(token: str) -> tuple[str, str] | None:
    """The store key inside an offset; ValueError when it is not one of ours."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    value = json.loads(raw)
    if value == []:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("not an offset")
    return value[0], value[1]
