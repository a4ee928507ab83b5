"""Writes to HubSpot: customers as contacts (batch upsert by email) and marketing email subscription status.

HubSpot has no idempotency keys on these endpoints; both writes are idempotent by nature (an upsert keyed by
email, a status change made only when the current status differs), so a retried call cannot create a second
contact or flip a status twice.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from canalis.connectors.hubspot.client import BATCH_SIZE, HubSpotClient
from canalis.connectors.hubspot.optout import PORTAL_WIDE, marketing_optout, optout_properties
from canalis.sdk import ApiError, ConfigError, WriteResult

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
    """Unsubscribe (denied) or resubscribe (granted) each contact from marketing email, when it differs.

    The contact is found by its HubSpot id (else by email) in calls of 100, and its current status is taken from
    the same properties the contacts stream reads, so a record reported unchanged reads back unchanged. The
    subscription is changed for the address HubSpot holds, which may differ from the canonical email.
    """
    source = iter(records)
    while batch := list(islice(source, BATCH_SIZE)):
        yield from _consent_batch(client, batch, subscription_id, legal_basis)


def _consent_batch(
    client: HubSpotClient,
    batch: list[dict[str, Any]],
    subscription_id: Callable[[], str | None],
    legal_basis: str | None,
) -> list[WriteResult]:
    """The results of one batch, in record order."""
    results: dict[int, WriteResult] = {}
    wanted: dict[int, str] = {}
    for index, record in enumerate(batch):
        key = str(record.get("key"))
        target = CONSENT_STATUS.get(str(record.get("status")))
        if (record.get("purpose") or "marketing") != "marketing" or (record.get("channel") or "email") != "email":
            results[index] = WriteResult(key, "skipped", error="HubSpot keeps only marketing email subscriptions here")
        elif target is None:
            error = f"status '{record.get('status')}' is neither granted nor denied"
            results[index] = WriteResult(key, "skipped", error=error)
        else:
            wanted[index] = target
    try:
        subscription = subscription_id() if wanted else None
        contacts = _contacts_of(client, [batch[index] for index in wanted], subscription) if wanted else {}
    except (ApiError, ConfigError) as error:
        retryable = isinstance(error, ApiError) and error.retryable
        results |= {index: _failed(batch[index], str(error), retryable) for index in wanted}
        wanted = {}
    for index, target in wanted.items():
        record = batch[index]
        try:
            contact = contacts.get(str(record.get("key")))
            results[index] = _consent(client, record, target, contact, subscription, legal_basis)
        except ApiError as error:
            results[index] = _failed(record, str(error), error.retryable)
    return [results[index] for index in range(len(batch))]


def _consent(
    client: HubSpotClient,
    record: dict[str, Any],
    target: str,
    contact: dict[str, Any] | None,
    subscription: str | None,
    legal_basis: str | None,
) -> WriteResult:
    """One contact's marketing subscription set to `target`, unless it already reads so."""
    key = str(record.get("key"))
    if contact is None and record.get("source_id"):
        return _failed(record, f"no HubSpot contact {record.get('source_id')}")
    props = (contact or {}).get("properties") or {}
    email = _email({"email": props.get("email")}) if contact else _email(record)
    vendor_id = str(contact["id"]) if contact else None
    if subscription is None or email is None:
        return _failed(record, "no email for this customer in the record or in HubSpot")
    if contact is not None:
        optout = marketing_optout(props, subscription)
        if optout == ("false" if target == "SUBSCRIBED" else "true"):
            return WriteResult(key, "unchanged", vendor_id=vendor_id)
        if target == "SUBSCRIBED" and str(props.get(PORTAL_WIDE) or "").lower() == "true":
            return _failed(record, "the contact opted out of all email; only the contact can resubscribe")
    elif (client.subscription_statuses(email).get(subscription) or {}).get("status") == target:
        return WriteResult(key, "unchanged")  # an address without a contact: its status is all there is
    try:
        client.change_subscription(email, subscription, subscribe=target == "SUBSCRIBED", legal_basis=legal_basis)
    except ApiError as error:  # a retried change that had gone through reads "already ..."
        if error.status != 400 or "already" not in error.detail.lower():
            raise
    return WriteResult(key, "applied", vendor_id=vendor_id)


def _contacts_of(
    client: HubSpotClient, records: list[dict[str, Any]], subscription: str | None
) -> dict[str, dict[str, Any]]:
    """Each record's contact (by HubSpot id, else by email) with its email and opt-out properties, by record key."""
    fields = ["email", *optout_properties(subscription)]
    ids = sorted({str(r["source_id"]) for r in records if str(r.get("source_id") or "").isdigit()})
    emails = sorted({e for r in records if not r.get("source_id") and (e := _email(r))})
    by_id = {str(item.get("id")): item for item in client.batch_read("contacts", ids, fields)} if ids else {}
    by_email = {}
    if emails:
        for item in client.batch_read("contacts", emails, fields, id_property="email"):
            by_email[str((item.get("properties") or {}).get("email") or "").lower()] = item
    found = {}
    for record in records:
        contact = by_id.get(str(record.get("source_id"))) if record.get("source_id") else by_email.get(_email(record))
        if contact is not None:
            found[str(record.get("key"))] = contact
    return found


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
