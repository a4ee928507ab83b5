"""Writes to HubSpot: customers as contacts (batch upsert by email) and marketing email subscription status.

HubSpot has no idempotency keys on these endpoints; both writes are idempotent by nature (an upsert keyed by
email, a status change made only when the current status differs), so a retried call cannot create a second
contact or flip a status twice.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectors.hubspot.client import BATCH_SIZE, HubSpotClient
from connectors.sdk.errors import ApiError, ConfigError
from connectors.sdk.streams import WriteResult

CONTACT_FIELDS = {"given_name": "firstname", "family_name": "lastname", "phone": "phone"}
CONSENT_STATUS = {"granted": "SUBSCRIBED", "denied": "NOT_SUBSCRIBED"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def write_customers(
    client: HubSpotClient, records: Iterable[dict[str, Any]], *, external_id_property: str
) -> Iterator[WriteResult]:
    """Upsert contacts by email in calls of 100 (one record per email per call), skipping unchanged ones."""
    source = iter(records)
    waiting: deque[dict[str, Any]] = deque()
    while True:
        batch: list[tuple[dict[str, Any], str]] = []
        emails: set[str] = set()
        deferred: list[dict[str, Any]] = []
        while len(batch) < BATCH_SIZE:
            record = waiting.popleft() if waiting else next(source, None)
            if record is None:
                break
            email = _email(record)
            if email is None:
                yield _failed(record, "no valid email: HubSpot upserts contacts by email")
            elif email in emails:
                deferred.append(record)  # HubSpot refuses a batch naming one email twice
            else:
                emails.add(email)
                batch.append((record, email))
        waiting.extendleft(reversed(deferred))
        if not batch:
            return
        yield from _upsert_batch(client, batch, external_id_property)


def _upsert_batch(
    client: HubSpotClient, batch: list[tuple[dict[str, Any], str]], external_id_property: str
) -> Iterator[WriteResult]:
    fields = [external_id_property, *CONTACT_FIELDS.values(), "email"]
    try:
        found = client.batch_read("contacts", [email for _, email in batch], fields, id_property="email")
    except ApiError as error:
        yield from (_failed(record, str(error), error.retryable) for record, _ in batch)
        return
    existing = {str((item.get("properties") or {}).get("email") or "").lower(): item for item in found}
    inputs, todo = [], []
    for record, email in batch:
        desired = _desired(record, external_id_property)
        current = existing.get(email)
        if current is not None and all((current.get("properties") or {}).get(k) == v for k, v in desired.items()):
            yield WriteResult(str(record.get("key")), "unchanged", vendor_id=str(current.get("id")))
            continue
        inputs.append({"idProperty": "email", "id": email, "properties": desired})
        todo.append((record, email))
    if not inputs:
        return
    try:
        answer = client.batch_upsert("contacts", inputs)
    except ApiError as error:
        yield from (_failed(record, str(error), error.retryable) for record, _ in todo)
        return
    by_email, by_id = {}, {}
    for item in answer.get("results") or []:
        by_id[str(item.get("id"))] = item
        email = (item.get("properties") or {}).get("email")
        if email:
            by_email[str(email).lower()] = item
    problems: dict[str, str] = {}
    for error in answer.get("errors") or []:
        for value in (error.get("context") or {}).get("ids") or []:
            problems[str(value).lower()] = str(error.get("message") or "rejected by HubSpot")
    for record, email in todo:
        known_id = str((existing.get(email) or {}).get("id", ""))
        result = by_email.get(email) or by_id.get(known_id)
        if result is not None:
            yield WriteResult(str(record.get("key")), "applied", vendor_id=str(result.get("id")))
        else:
            yield _failed(record, f"hubspot: {problems.get(email, 'HubSpot did not return this contact')}")


def write_consents(
    client: HubSpotClient,
    records: Iterable[dict[str, Any]],
    *,
    subscription_id: Callable[[], str | None],
    legal_basis: str | None,
) -> Iterator[WriteResult]:
    """Unsubscribe (denied) or resubscribe (granted) each email from marketing email, when it differs."""
    for record in records:
        key = str(record.get("key"))
        if (record.get("purpose") or "marketing") != "marketing" or (record.get("channel") or "email") != "email":
            yield WriteResult(key, "skipped", error="HubSpot keeps only marketing email subscriptions here")
            continue
        target = CONSENT_STATUS.get(str(record.get("status")))
        if target is None:
            yield WriteResult(key, "skipped", error=f"status '{record.get('status')}' is neither granted nor denied")
            continue
        try:
            subscription = subscription_id()
            email = _email(record) or _contact_email(client, record.get("source_id"))
            if subscription is None or email is None:
                yield _failed(record, "no email for this customer in the record or in HubSpot")
                continue
            current = client.subscription_statuses(email).get(subscription) or {}
            vendor_id = str(record["source_id"]) if record.get("source_id") else None
            if current.get("status") == target:
                yield WriteResult(key, "unchanged", vendor_id=vendor_id)
                continue
            try:
                client.change_subscription(
                    email, subscription, subscribe=target == "SUBSCRIBED", legal_basis=legal_basis
                )
            except ApiError as error:  # a retried change that had gone through reads "already ..."
                if error.status != 400 or "already" not in error.detail.lower():
                    raise
            yield WriteResult(key, "applied", vendor_id=vendor_id)
        except ApiError as error:
            yield _failed(record, str(error), error.retryable)
        except ConfigError as error:
            yield _failed(record, str(error))


def _contact_email(client: HubSpotClient, source_id: Any) -> str | None:
    if not source_id or not str(source_id).isdigit():
        return None
    contact = client.get_object("contacts", str(source_id), ["email"])
    return _email({"email": ((contact or {}).get("properties") or {}).get("email")})


def _desired(record: dict[str, Any], external_id_property: str) -> dict[str, str]:
    """The contact properties a customer record sets (empty values leave HubSpot's as they are)."""
    values = {external_id_property: record.get("external_id")}
    values |= {prop: record.get(field) for field, prop in CONTACT_FIELDS.items()}
    return {prop: str(value).strip() for prop, value in values.items() if value not in (None, "")}


def _email(record: dict[str, Any]) -> str | None:
    value = str(record.get("email") or "").strip().lower()
    return value if EMAIL.match(value) else None


def _failed(record: dict[str, Any], message: str, retryable: bool = False) -> WriteResult:
    return WriteResult(str(record.get("key")), "failed", error=message, retryable=retryable)
