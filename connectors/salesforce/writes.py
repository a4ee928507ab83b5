"""Writes to Salesforce: customers and consents on Contacts, prices on PricebookEntries, in batches of 200.

Each batch first reads the current values (one SOQL query per kind of key), skips records that would change
nothing (an update would still bump SystemModstamp and echo back on the next read), then sends one sObject
Collections call per kind of write. Every record gets exactly one WriteResult, in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

import phonenumbers

from canalis.connectors.salesforce.client import MAX_COLLECTION_RECORDS, SalesforceClient
from canalis.connectors.salesforce.settings import SalesforceSettings
from canalis.sdk import ApiError, ConnectorError, WriteResult

RETRYABLE_STATUS_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE"})
CONTACT_FIELDS = {"given_name": "FirstName", "family_name": "LastName", "email": "Email"}


def format_soql(query: str, *args: Any, **kwargs: Any) -> str:
    """simple_salesforce's SOQL formatting (its package, which pulls in zeep, is imported on first use only)."""
    from simple_salesforce.format import format_soql as format_with_quotes

    return format_with_quotes(query, *args, **kwargs)


def chunks(records: Iterable[dict[str, Any]], size: int = MAX_COLLECTION_RECORDS) -> Iterator[list[dict[str, Any]]]:
    """The records in lists of at most `size`, read lazily."""
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _key(record: dict[str, Any]) -> str:
    return str(record.get("key") or "?")


def _failure(
    record: dict[str, Any], message: str, *, retryable: bool = False, vendor_id: str | None = None
) -> WriteResult:
    return WriteResult(_key(record), "failed", vendor_id=vendor_id, error=message, retryable=retryable)


def _save_error(result: dict[str, Any]) -> tuple[str, bool]:
    """The message of a failed SaveResult and whether trying again later may succeed."""
    errors = result.get("errors") or []
    parts = [f"{e.get('statusCode')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
    retryable = any(isinstance(e, dict) and e.get("statusCode") in RETRYABLE_STATUS_CODES for e in errors)
    return ("; ".join(parts) or "Salesforce reported a failure without a message"), retryable


def _select(client: SalesforceClient, soql: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in client.query_pages(soql):
        found.extend(page["records"])
    return found


def _send(
    client: SalesforceClient, batch: list[tuple[int, dict[str, Any]]], upsert_field: str | None = None
) -> dict[int, dict[str, Any] | Exception]:
    """Send (position, record) pairs in collection calls; the SaveResult, or the call's error, per position."""
    outcome: dict[int, dict[str, Any] | Exception] = {}
    for start in range(0, len(batch), MAX_COLLECTION_RECORDS):
        part = batch[start : start + MAX_COLLECTION_RECORDS]
        records = [record for _, record in part]
        try:
            if upsert_field is None:
                results = client.collection_update(records)
            else:
                results = client.collection_upsert(records[0]["attributes"]["type"], upsert_field, records)
        except (ApiError, ConnectorError) as error:
            outcome.update({position: error for position, _ in part})
            continue
        outcome.update({position: result for (position, _), result in zip(part, results, strict=True)})
    return outcome


def _result(record: dict[str, Any], outcome: dict[str, Any] | Exception) -> WriteResult:
    if isinstance(outcome, Exception):
        return _failure(record, str(outcome), retryable=isinstance(outcome, ApiError) and outcome.retryable)
    if outcome.get("success"):
        return WriteResult(_key(record), "applied", vendor_id=outcome.get("id"))
    message, retryable = _save_error(outcome)
    return _failure(record, message, retryable=retryable, vendor_id=outcome.get("id"))


# -- customers ------------------------------------------------------------------------------------------


def _phone_key(value: Any, region: str) -> str | None:
    """A phone number in E.164 for comparison (the raw digits when it does not parse)."""
    if not value:
        return None
    text = str(value)
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in text if ch.isdigit()) or None


def _same(field: str, old: Any, new: Any) -> bool:
    if field == "Email":
        return str(old or "").strip().lower() == str(new or "").strip().lower()
    return (old or None) == (new or None)


def _contact_changes(
    record: dict[str, Any], current: dict[str, Any] | None, settings: SalesforceSettings
) -> dict[str, Any]:
    """The Contact fields to write so the contact holds the record's values (None values are left alone)."""
    wanted = {field: record.get(name) for name, field in CONTACT_FIELDS.items() if record.get(name) not in (None, "")}
    external_id = record.get("external_id")
    if external_id:
        wanted[settings.external_id_field] = str(external_id)
    changes = {f: v for f, v in wanted.items() if current is None or not _same(f, current.get(f), v)}
    phone = record.get("phone")
    if phone:
        region = settings.default_phone_region
        held = {_phone_key(current.get(f), region) for f in ("MobilePhone", "Phone")} if current else set()
        if _phone_key(phone, region) not in held:
            target = (
                "MobilePhone" if current is None or current.get("MobilePhone") or not current.get("Phone") else "Phone"
            )
            changes[target] = phone
    return changes


def write_customers(
    client: SalesforceClient, settings: SalesforceSettings, records: Iterable[dict[str, Any]]
) -> Iterator[WriteResult]:
    """Contacts by Id (source_id) or upserted by the Canalis customer id (external_id)."""
    ext = settings.external_id_field
    columns = ["Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", ext]
    for chunk in chunks(records):
        results: dict[int, WriteResult] = {}
        by_id_keys = sorted({str(r["source_id"]) for r in chunk if r.get("source_id")})
        by_ext_keys = sorted({str(r["external_id"]) for r in chunk if not r.get("source_id") and r.get("external_id")})
        try:
            by_id = {c["Id"][:15]: c for c in _lookup(client, "Contact", columns, "Id", by_id_keys)}
            by_ext = {
                str(c[ext]).lower(): c for c in _lookup(client, "Contact", columns, ext, by_ext_keys) if c.get(ext)
            }
        except (ApiError, ConnectorError) as error:
            yield from (
                _failure(r, str(error), retryable=isinstance(error, ApiError) and error.retryable) for r in chunk
            )
            continue
        updates: list[tuple[int, dict[str, Any]]] = []
        upserts: list[tuple[int, dict[str, Any]]] = []
        for position, record in enumerate(chunk):
            source_id, external_id = record.get("source_id"), record.get("external_id")
            if source_id:
                current = by_id.get(str(source_id)[:15])
                if current is None:
                    results[position] = _failure(record, f"no Contact with Id {source_id} (deleted or not visible)")
                    continue
                changes = _contact_changes(record, current, settings)
                if not changes:
                    results[position] = WriteResult(_key(record), "unchanged", vendor_id=current["Id"])
                    continue
                updates.append((position, {"attributes": {"type": "Contact"}, "Id": current["Id"], **changes}))
            elif external_id:
                current = by_ext.get(str(external_id).lower())
                changes = _contact_changes(record, current, settings)
                if current is not None and not changes:
                    results[position] = WriteResult(_key(record), "unchanged", vendor_id=current["Id"])
                    continue
                upserts.append((position, {"attributes": {"type": "Contact"}, **changes, ext: str(external_id)}))
            else:
                results[position] = _failure(record, "a customer needs source_id or external_id to be written")
        outcome = {**_send(client, updates), **_send(client, upserts, upsert_field=ext)}
        for position, record in enumerate(chunk):
            yield results[position] if position in results else _result(record, outcome[position])


def _lookup(
    client: SalesforceClient, sobject: str, columns: list[str], key: str, values: list[str], where: str = ""
) -> list[dict[str, Any]]:
    if not values:
        return []
    soql = format_soql(
        "SELECT {:literal} FROM {:literal} WHERE {:literal} IN {}{:literal}",
        ", ".join(columns),
        sobject,
        key,
        values,
        where,
    )
    return _select(client, soql)


# -- consents -------------------------------------------------------------------------------------------


def write_consents(
    client: SalesforceClient, settings: SalesforceSettings, records: Iterable[dict[str, Any]]
) -> Iterator[WriteResult]:
    """HasOptedOutOfEmail on the Contacts of each consent: by Id, else external id, else every Contact of the email."""
    ext = settings.external_id_field
    columns = ["Id", "Email", "HasOptedOutOfEmail"]
    for chunk in chunks(records):
        results: dict[int, WriteResult] = {}
        plans: dict[int, tuple[str, str]] = {}
        for position, record in enumerate(chunk):
            if (record.get("channel") or "email") != "email" or (record.get("purpose") or "marketing") != "marketing":
                results[position] = WriteResult(
                    _key(record),
                    "skipped",
                    error="Salesforce holds only the email marketing opt-out (HasOptedOutOfEmail)",
                )
            elif record.get("status") not in ("granted", "denied"):
                results[position] = WriteResult(_key(record), "skipped", error=f"status {record.get('status')!r}")
            elif record.get("source_id"):
                plans[position] = ("Id", str(record["source_id"])[:15])
            elif record.get("external_id"):
                plans[position] = (ext, str(record["external_id"]).lower())
            elif record.get("email"):
                plans[position] = ("Email", str(record["email"]).strip().lower())
            else:
                results[position] = _failure(record, "a consent needs source_id, external_id or email to be written")
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        try:
            for key in ("Id", ext, "Email"):
                values = sorted({value for kind, value in plans.values() if kind == key})
                for contact in _lookup(client, "Contact", [*columns, ext] if key == ext else columns, key, values):
                    raw = contact.get(key)
                    if raw:
                        value = str(raw)[:15] if key == "Id" else str(raw).lower()
                        found.setdefault((key, value), []).append(contact)
        except (ApiError, ConnectorError) as error:
            yield from (
                results.get(p) or _failure(r, str(error), retryable=isinstance(error, ApiError) and error.retryable)
                for p, r in enumerate(chunk)
            )
            continue
        updates: dict[str, bool] = {}
        targets: dict[int, list[str]] = {}
        for position, plan in plans.items():
            record = chunk[position]
            contacts = found.get(plan, [])
            if not contacts:
                if plan[0] == "Email":
                    results[position] = WriteResult(_key(record), "skipped", error="no Contact has this email")
                else:
                    results[position] = _failure(record, f"no Contact with {plan[0]} {plan[1]}")
                continue
            opted_out = record["status"] == "denied"
            changed = [c["Id"] for c in contacts if bool(c.get("HasOptedOutOfEmail")) != opted_out]
            if not changed:
                results[position] = WriteResult(_key(record), "unchanged", vendor_id=contacts[0]["Id"])
                continue
            targets[position] = changed
            updates.update({contact_id: opted_out for contact_id in changed})
        batch = [
            (index, {"attributes": {"type": "Contact"}, "Id": contact_id, "HasOptedOutOfEmail": value})
            for index, (contact_id, value) in enumerate(updates.items())
        ]
        sent = _send(client, batch)
        by_contact = {record["Id"]: sent[index] for index, record in batch}
        for position, record in enumerate(chunk):
            if position in results:
                yield results[position]
                continue
            outcomes = [by_contact[contact_id] for contact_id in targets[position]]
            failed = next((o for o in outcomes if isinstance(o, Exception) or not o.get("success")), None)
            yield _result(record, failed if failed is not None else outcomes[0])


# -- prices ---------------------------------------------------------------------------------------------


class PriceWriter:
    """Writes UnitPrice on the PricebookEntries of one pricebook (the standard one unless configured)."""

    def __init__(self, client: SalesforceClient, settings: SalesforceSettings) -> None:
        self.client = client
        self.settings = settings
        self._pricebook_id: str | None = settings.pricebook_id

    def pricebook_id(self) -> str | None:
        if self._pricebook_id is None:
            found = _select(self.client, "SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
            self._pricebook_id = found[0]["Id"] if found else None
        return self._pricebook_id

    def write(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        for chunk in chunks(records):
            yield from self._chunk(chunk)

    def _chunk(self, chunk: list[dict[str, Any]]) -> Iterator[WriteResult]:
        results: dict[int, WriteResult] = {}
        amounts: dict[int, Decimal] = {}
        for position, record in enumerate(chunk):
            try:
                amount = Decimal(str(record.get("amount")))
            except InvalidOperation:
                results[position] = _failure(record, f"amount {record.get('amount')!r} is not a number")
                continue
            currency = str(record.get("currency") or self.settings.currency).upper()
            if not record.get("sku"):
                results[position] = _failure(record, "a price needs a sku")
            elif currency != self.settings.currency:
                results[position] = _failure(
                    record, f"currency {currency} is not the org currency {self.settings.currency} (setting 'currency')"
                )
            elif not amount.is_finite() or amount < 0:
                results[position] = _failure(record, f"amount {amount} is not a valid price")
            else:
                amounts[position] = amount
        try:
            pricebook = self.pricebook_id()
            skus = sorted({str(chunk[p]["sku"]) for p in amounts})
            entries: dict[str, list[dict[str, Any]]] = {}
            if pricebook:
                where = format_soql(" AND Pricebook2Id = {}", pricebook)
                columns = ["Id", "ProductCode", "UnitPrice"]
                for entry in _lookup(self.client, "PricebookEntry", columns, "ProductCode", skus, where):
                    entries.setdefault(str(entry.get("ProductCode")), []).append(entry)
        except (ApiError, ConnectorError) as error:
            for position, record in enumerate(chunk):
                retryable = isinstance(error, ApiError) and error.retryable
                yield results.get(position) or _failure(record, str(error), retryable=retryable)
            return
        updates: list[tuple[int, dict[str, Any]]] = []
        for position, amount in amounts.items():
            record = chunk[position]
            if pricebook is None:
                results[position] = _failure(record, "the org has no standard pricebook (setting 'pricebook_id')")
                continue
            found = entries.get(str(record["sku"]), [])
            if len(found) != 1:
                what = "no PricebookEntry" if not found else f"{len(found)} PricebookEntries"
                results[position] = _failure(record, f"{what} for SKU {record['sku']} in pricebook {pricebook}")
                continue
            entry = found[0]
            if entry.get("UnitPrice") is not None and Decimal(str(entry["UnitPrice"])) == amount:
                results[position] = WriteResult(_key(record), "unchanged", vendor_id=entry["Id"])
                continue
            updates.append(
                (position, {"attributes": {"type": "PricebookEntry"}, "Id": entry["Id"], "UnitPrice": float(amount)})
            )
        outcome = _send(self.client, updates)
        for position, record in enumerate(chunk):
            yield results[position] if position in results else _result(record, outcome[position])
