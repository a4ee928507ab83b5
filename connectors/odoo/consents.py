"""Writing marketing-email consent to Odoo's email blacklist (mail.blacklist), batch by batch.

Denied adds the email to the blacklist (or re-activates its archived entry); granted archives the entry.
Every call sets a state rather than applying a change, so a batch sent twice is answered `unchanged`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from canalis.connectors.odoo.client import OdooCallError, OdooClient
from canalis.sdk import ApiError, WriteResult

BLACKLIST = "mail.blacklist"
ALL_RECORDS = {"active_test": False}


@dataclass
class _Wanted:
    """One record to write: its key, the normalised email and whether it must be blacklisted."""

    key: str
    email: str
    blacklisted: bool


def write_consents(client: OdooClient, records: list[dict[str, Any]]) -> Iterator[WriteResult]:
    """Write one batch of consent records; one result per record, in order."""
    results: dict[int, WriteResult] = {}
    wanted: dict[int, _Wanted] = {}
    emails_of_partners = _partner_emails(client, records, results)
    for index, record in enumerate(records):
        if index in results:
            continue
        key = str(record.get("key") or "")
        refusal = _refusal(record)
        email = _email(record, emails_of_partners)
        if refusal is None and email is None:
            refusal = "no email: give 'email', or 'source_id' of a partner that has one"
        if refusal is not None:
            results[index] = WriteResult(key, "failed", error=refusal)
            continue
        assert email is not None
        wanted[index] = _Wanted(key, email, record.get("status") == "denied")
    if wanted:
        results.update(_apply(client, wanted))
    for index in range(len(records)):
        yield results[index]


def _refusal(record: dict[str, Any]) -> str | None:
    if record.get("status") not in ("granted", "denied"):
        return f"status must be 'granted' or 'denied', got {record.get('status')!r}"
    if (record.get("purpose") or "marketing") != "marketing" or (record.get("channel") or "email") != "email":
        return "Odoo keeps only marketing email consent (its email blacklist)"
    return None


def _email(record: dict[str, Any], emails_of_partners: dict[int, str]) -> str | None:
    email = record.get("email")
    if isinstance(email, str) and "@" in email:
        return email.strip().lower()
    partner = _partner_id(record.get("source_id"))
    return emails_of_partners.get(partner) if partner is not None else None


def _partner_id(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _partner_emails(
    client: OdooClient, records: list[dict[str, Any]], results: dict[int, WriteResult]
) -> dict[int, str]:
    """Emails of the partners named by records that carry no email."""
    ids = sorted(
        {
            partner
            for record in records
            if not isinstance(record.get("email"), str) and (partner := _partner_id(record.get("source_id")))
        }
    )
    if not ids:
        return {}
    try:
        rows = client.search_read("res.partner", [("id", "in", ids)], ["email"], context=ALL_RECORDS)
    except ApiError as error:
        for index, record in enumerate(records):
            if not isinstance(record.get("email"), str):
                results[index] = _failure(str(record.get("key") or ""), error)
        return {}
    return {int(row["id"]): row["email"].strip().lower() for row in rows if isinstance(row.get("email"), str)}


def _apply(client: OdooClient, wanted: dict[int, _Wanted]) -> dict[int, WriteResult]:
    """Bring the blacklist to the wanted state for every email of the batch (the last record wins)."""
    target: dict[str, bool] = {}
    for item in wanted.values():
        target[item.email] = item.blacklisted
    try:
        rows = client.search_read(
            BLACKLIST, [("email", "in", sorted(target))], ["email", "active"], context=ALL_RECORDS
        )
    except ApiError as error:
        return {index: _failure(item.key, error) for index, item in wanted.items()}
    existing = {str(row["email"]).strip().lower(): row for row in rows if isinstance(row.get("email"), str)}
    outcome: dict[str, tuple[str, str | None, ApiError | None]] = {}
    to_create = [email for email, blacklisted in target.items() if blacklisted and email not in existing]
    to_activate = [e for e, b in target.items() if b and e in existing and not existing[e].get("active")]
    to_archive = [e for e, b in target.items() if not b and e in existing and existing[e].get("active")]
    for email, blacklisted in target.items():
        row = existing.get(email)
        if (blacklisted and row and row.get("active")) or (not blacklisted and not (row and row.get("active"))):
            outcome[email] = ("unchanged", str(row["id"]) if row else None, None)
    outcome.update(_create(client, to_create))
    for emails, active in ((to_activate, True), (to_archive, False)):
        if not emails:
            continue
        ids = [int(existing[email]["id"]) for email in emails]
        try:
            client.execute(BLACKLIST, "write", ids=ids, vals={"active": active}, context=ALL_RECORDS)
            outcome.update({email: ("applied", str(existing[email]["id"]), None) for email in emails})
        except ApiError as error:
            outcome.update({email: ("failed", str(existing[email]["id"]), error) for email in emails})
    results: dict[int, WriteResult] = {}
    for index, item in wanted.items():
        status, vendor_id, error = outcome[item.email]
        results[index] = (
            _failure(item.key, error, vendor_id) if error is not None else WriteResult(item.key, status, vendor_id)  # type: ignore[arg-type]
        )
    return results


def _create(client: OdooClient, emails: list[str]) -> dict[str, tuple[str, str | None, ApiError | None]]:
    """Create blacklist entries in one call; on a refusal, one call per email to find which one failed."""
    if not emails:
        return {}
    try:
        created = client.execute(BLACKLIST, "create", vals_list=[{"email": email} for email in emails])
        ids = created if isinstance(created, list) else [created]
        return {email: ("applied", str(record_id), None) for email, record_id in zip(emails, ids, strict=False)}
    except OdooCallError as error:
        if len(emails) == 1:
            return {emails[0]: ("failed", None, error)}
    except ApiError as error:
        return {email: ("failed", None, error) for email in emails}
    outcome: dict[str, tuple[str, str | None, ApiError | None]] = {}
    for email in emails:
        outcome.update(_create(client, [email]))
    return outcome


def _failure(key: str, error: ApiError, vendor_id: str | None = None) -> WriteResult:
    return WriteResult(
        key, "failed", vendor_id=vendor_id, error=str(error), retryable=error.retryable or error.status is None
    )
