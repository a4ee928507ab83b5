"""Writing customers and consents to Brevo: batch updates, create-or-update calls and list membership."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from canalis.connectors.brevo.client import MAX_LIST_MEMBERS_PER_CALL, BrevoClient
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.sdk import ApiError, WriteResult

T = TypeVar("T")
CHANNEL_FLAGS = {"email": "emailBlacklisted", "sms": "smsBlacklisted"}


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most `size` items, read lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class Change:
    """One record to write: its key, the contact it targets and what to set."""

    key: str
    contact_id: int | None
    email: str | None
    changes: dict[str, Any]

    @property
    def identifier(self) -> str:
        """The contact's id, else its email (how Brevo's batch and update calls name a contact)."""
        return str(self.contact_id) if self.contact_id is not None else str(self.email)

    def batch_item(self) -> dict[str, Any]:
        """The item of a POST /contacts/batch body."""
        target: dict[str, Any] = {"id": self.contact_id} if self.contact_id is not None else {"email": self.email}
        return {**target, **self.changes}

    def result(self, status: str, error: str | None = None, *, retryable: bool = False) -> WriteResult:
        vendor_id = None if self.contact_id is None else str(self.contact_id)
        return WriteResult(self.key, status, vendor_id=vendor_id, error=error, retryable=retryable)  # type: ignore[arg-type]


def _contact_id(record: dict[str, Any]) -> int | None:
    source_id = str(record.get("source_id") or "").strip()
    return int(source_id) if source_id.isdigit() else None


def _email(record: dict[str, Any]) -> str | None:
    email = str(record.get("email") or "").strip().lower()
    return email if "@" in email else None


def _key(record: dict[str, Any]) -> str:
    return str(record.get("key") or record.get("source_id") or record.get("email") or "?")


class Writer:
    """Turns canonical write records into Brevo calls, one WriteResult per record."""

    def __init__(self, client: BrevoClient, settings: BrevoSettings) -> None:
        self.client = client
        self.settings = settings

    # -- customers ---------------------------------------------------------------------------------

    def customers(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Known contacts are batch-updated; the others are created or updated by email one at a time."""
        for chunk in chunked(records, self.settings.batch_size):
            known: list[Change] = []
            for record in chunk:
                attributes = {
                    name: str(record[field]).strip()
                    for name, field in (("FIRSTNAME", "given_name"), ("LASTNAME", "family_name"), ("SMS", "phone"))
                    if str(record.get(field) or "").strip()
                }
                changes: dict[str, Any] = {"attributes": attributes} if attributes else {}
                if str(record.get("external_id") or "").strip():
                    changes["ext_id"] = str(record["external_id"]).strip()
                change = Change(_key(record), _contact_id(record), _email(record), changes)
                if not changes:
                    yield change.result("skipped", "nothing to write: no name, phone or external id")
                elif change.contact_id is not None:
                    known.append(change)
                elif change.email is None:
                    yield change.result("failed", "needs the Brevo contact id (source_id) or a valid email")
                else:
                    yield self._upsert(change)
            yield from self._batch_update(known)

    def _upsert(self, change: Change) -> WriteResult:
        try:
            created = self.client.upsert_contact({"email": change.email, **change.changes})
        except ApiError as error:
            return change.result("failed", error.detail or str(error), retryable=error.retryable)
        if created is not None:
            change.contact_id = int(created)
        return change.result("applied")

    # -- consents ----------------------------------------------------------------------------------

    def consents(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Denied consents block the address (or leave the promotional lists); granted ones undo it."""
        for chunk in chunked(records, self.settings.batch_size):
            flagged: list[Change] = []
            by_list: list[tuple[Change, bool]] = []
            for record in chunk:
                change = Change(_key(record), _contact_id(record), _email(record), {})
                purpose, channel, status = (
                    record.get("purpose", "marketing"),
                    record.get("channel", "email"),
                    record.get("status"),
                )
                if purpose != "marketing" or channel not in CHANNEL_FLAGS:
                    yield change.result("skipped", f"Brevo holds no consent for {purpose} by {channel}")
                elif status not in ("granted", "denied"):
                    yield change.result("skipped", f"consent status '{status}' is not written")
                elif change.contact_id is None and change.email is None:
                    yield change.result("failed", "needs the Brevo contact id (source_id) or a valid email")
                elif channel == "email" and self.settings.suppression == "lists":
                    by_list.append((change, status == "granted"))
                else:
                    change.changes[CHANNEL_FLAGS[channel]] = status == "denied"
                    if status == "denied" and channel == "email" and self.settings.promotional_list_ids:
                        change.changes["unlinkListIds"] = list(self.settings.promotional_list_ids)
                    flagged.append(change)
            yield from self._batch_update(flagged)
            yield from self._list_membership(by_list)

    def _list_membership(self, items: list[tuple[Change, bool]]) -> Iterator[WriteResult]:
        """Add granted / remove denied contacts on every promotional list, 150 per call."""
        if not items:
            return
        lists = self.settings.promotional_list_ids
        if not lists:
            for change, _ in items:
                yield change.result("failed", "suppression 'lists' needs promotional_list_ids")
            return
        outcome: dict[str, WriteResult] = {}
        for list_id in lists:
            for add in (True, False):
                group = [change for change, granted in items if granted == add]
                for member_kind in ("email", "id"):
                    members = [c for c in group if (c.email is not None) == (member_kind == "email")]
                    for part in chunked(members, MAX_LIST_MEMBERS_PER_CALL):
                        self._change_list(list_id, add, member_kind, part, outcome)
        for change, _ in items:
            yield outcome.get(change.key) or change.result("unchanged")

    def _change_list(
        self, list_id: int, add: bool, member_kind: str, part: list[Change], outcome: dict[str, WriteResult]
    ) -> None:
        try:
            if member_kind == "email":
                answer = self.client.change_list(list_id, add=add, emails=[c.email for c in part if c.email])
            else:
                answer = self.client.change_list(list_id, add=add, ids=[c.contact_id for c in part if c.contact_id])
        except ApiError as error:
            for change in part:
                outcome[change.key] = change.result("failed", error.detail or str(error), retryable=error.retryable)
            return
        succeeded = {str(item).lower() for item in answer.get("success") or []}
        for change in part:
            if outcome.get(change.key, change.result("unchanged")).status == "failed":
                continue
            name = (change.email if member_kind == "email" else str(change.contact_id)) or ""
            if name.lower() in succeeded:
                outcome[change.key] = change.result("applied")
            elif add:
                outcome[change.key] = change.result("failed", f"Brevo could not add the contact to list {list_id}")

    # -- shared ------------------------------------------------------------------------------------

    def _batch_update(self, changes: list[Change]) -> Iterator[WriteResult]:
        """POST /contacts/batch; contacts the batch could not update are retried alone to get Brevo's reason."""
        if not changes:
            return
        try:
            partial = self.client.update_contacts([change.batch_item() for change in changes])
        except ApiError as error:
            if error.retryable or error.status in (401, 403):
                for change in changes:
                    yield change.result("failed", error.detail or str(error), retryable=error.retryable)
                return
            partial = {"failureIds": [change.identifier for change in changes]}
        failed = {str(item).lower() for item in (partial or {}).get("failureIds") or []}
        for change in changes:
            if change.identifier.lower() in failed:
                yield self._update_one(change)
            else:
                yield change.result("applied")

    def _update_one(self, change: Change) -> WriteResult:
        try:
            self.client.update_contact(change.identifier, change.changes)
        except ApiError as error:
            return change.result("failed", error.detail or str(error), retryable=error.retryable)
        return change.result("applied")
