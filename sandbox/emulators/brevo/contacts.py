"""The emulated Brevo contact base: contacts by id or email, list membership and the blocklist, kept in the store."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canalis.sandbox.emulators.brevo.wire import store_stamp
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world.formats import brevo_datetime

SYSTEM = "brevo"
CONTACTS = "contacts"
LISTS = "lists"
EVENTS = "email_events"
EMAIL_INDEX = "email_index"
BLOCKED = "blocked_contacts"
DERIVED_FLAG = "brevo:derived:v1"
KNOWN_ATTRIBUTES = frozenset(
    {"EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "WHATSAPP", "LANDLINE_NUMBER", "NUMERO_FIDELITE", "EXT_ID"}
)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_SENDER = "newsletter@canalis-maison.fr"
BLOCK_REASONS = {
    "unsubscribedViaApi": "Contact unsubscribed via API",
    "unsubscribedViaEmail": "Contact unsubscribed from email",
    "adminBlocked": "Admin blocked",
    "hardBounce": "Hard bounce",
}


class BrevoError(Exception):
    """An error Brevo answers with `{code, message}` and an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class ContactChanges:
    """What a create, update or batch item asks to change on one contact."""

    attributes: dict[str, Any] = field(default_factory=dict)
    email_blacklisted: bool | None = None
    sms_blacklisted: bool | None = None
    list_ids: list[int] = field(default_factory=list)
    unlink_list_ids: list[int] = field(default_factory=list)
    ext_id: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ContactChanges:
        """Read the changes from a request body, refusing values of the wrong type."""
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise BrevoError(400, "invalid_parameter", "attributes should be an object")
        changes = cls(
            attributes={str(name).upper(): value for name, value in attributes.items()},
            email_blacklisted=_optional_bool(body, "emailBlacklisted"),
            sms_blacklisted=_optional_bool(body, "smsBlacklisted"),
            list_ids=_id_list(body, "listIds"),
            unlink_list_ids=_id_list(body, "unlinkListIds"),
            ext_id=body.get("ext_id"),
        )
        unknown = sorted(set(changes.attributes) - KNOWN_ATTRIBUTES)
        if unknown:
            raise BrevoError(400, "invalid_parameter", f"Attribute {unknown[0]} not found")
        return changes


def _optional_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise BrevoError(400, "invalid_parameter", f"{name} should be a boolean")


def _id_list(body: dict[str, Any], name: str) -> list[int]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise BrevoError(400, "invalid_parameter", f"{name} should be an array of integers")
    return value


def valid_email(value: Any) -> bool:
    """Whether a value looks like an email address."""
    return isinstance(value, str) and bool(EMAIL_PATTERN.match(value.strip()))


class ContactBook:
    """Reads and writes contacts, the email index, list counts and blocked contacts as one consistent whole."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.lock = threading.RLock()
        self._derived = False

    # -- derived data ------------------------------------------------------------------------------

    def ensure_derived(self) -> None:
        """Build the email index and the blocklist from the world once (kept up to date by every write)."""
        if self._derived:
            return
        with self.lock:
            if self._derived or self.store.kv_get(DERIVED_FLAG):
                self._derived = True
                return
            index: dict[str, tuple[str, dict[str, Any]]] = {}
            for item in self.store.iter_all(SYSTEM, CONTACTS):
                email = str(item.payload.get("email") or "").lower()
                if email and email not in index:
                    index[email] = (item.updated_at, {"id": item.payload.get("id")})
            self.store.put_many(SYSTEM, EMAIL_INDEX, ((email, at, body) for email, (at, body) in index.items()))
            self.store.put_many(SYSTEM, BLOCKED, self._world_blocklist())
            self.store.kv_put(DERIVED_FLAG, True)
            self._derived = True

    def _world_blocklist(self) -> Iterable[tuple[str, str, dict[str, Any]]]:
        """Blocked contacts implied by the world: blacklisted contacts and hard-bounced addresses."""
        first_event: dict[tuple[str, str], tuple[str, str, str]] = {}
        for item in self.store.iter_all(SYSTEM, EVENTS):
            kind = item.payload.get("event")
            if kind in ("unsubscribed", "hardBounce"):
                key = (str(item.payload.get("email", "")).lower(), str(kind))
                found = first_event.get(key)
                if found is None or item.updated_at < found[0]:
                    first_event[key] = (item.updated_at, str(item.payload.get("date")), item.payload.get("from", ""))
        rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for item in self.store.iter_all(SYSTEM, CONTACTS):
            email = str(item.payload.get("email") or "").lower()
            if not email:
                continue
            if item.payload.get("emailBlacklisted"):
                event = first_event.get((email, "unsubscribed"))
                unsubscribed = event is not None or 2 in item.payload.get("listUnsubscribed", [])
                code = "unsubscribedViaEmail" if unsubscribed else "adminBlocked"
                at, wire = (event[0], event[1]) if event else (item.updated_at, item.payload["modifiedAt"])
                sender = (event[2] if event else "") or DEFAULT_SENDER
            elif (email, "hardBounce") in first_event:
                at, wire, sender = first_event[(email, "hardBounce")]
                code = "hardBounce"
            else:
                continue
            rows[email] = (email, at, _blocked_payload(email, code, wire, sender or DEFAULT_SENDER))
        return rows.values()

    # -- reads -------------------------------------------------------------------------------------

    def find(self, identifier: str, identifier_type: str | None = None) -> dict[str, Any] | None:
        """A contact by id, email or EXT_ID (the type is guessed when not given)."""
        self.ensure_derived()
        kind = identifier_type or ("email_id" if "@" in identifier else "contact_id")
        if kind == "contact_id":
            return self.store.get(SYSTEM, CONTACTS, identifier) if identifier.isdigit() else None
        if kind == "email_id":
            entry = self.store.get(SYSTEM, EMAIL_INDEX, identifier.strip().lower())
            return self.store.get(SYSTEM, CONTACTS, str(entry["id"])) if entry else None
        if kind == "ext_id":
            for item in self.store.iter_all(SYSTEM, CONTACTS):
                if str((item.payload.get("attributes") or {}).get("EXT_ID", "")) == identifier:
                    return item.payload
            return None
        raise BrevoError(400, "invalid_parameter", f"identifierType {kind} is not supported")

    def delete(self, contact: dict[str, Any]) -> None:
        """Delete a contact and its email's index entry (Brevo keeps no trace of it)."""
        with self.lock:
            self.store.delete(SYSTEM, CONTACTS, str(contact["id"]))
            if contact.get("email"):
                self.store.delete(SYSTEM, EMAIL_INDEX, str(contact["email"]).strip().lower())

    def list_exists(self, list_id: int) -> bool:
        """Whether a list with that id exists."""
        return self.store.get(SYSTEM, LISTS, str(list_id)) is not None

    # -- writes ------------------------------------------------------------------------------------

    def create(self, email: str | None, changes: ContactChanges) -> dict[str, Any]:
        """A new contact; the caller has checked that the email is free."""
        with self.lock:
            self._check_lists(changes)
            contact_id = self.store.next_numeric_id(SYSTEM, CONTACTS)
            now = datetime.now(UTC)
            contact: dict[str, Any] = {
                "id": contact_id,
                "email": email.strip().lower() if email else None,
                "emailBlacklisted": False,
                "smsBlacklisted": False,
                "createdAt": brevo_datetime(now),
                "modifiedAt": brevo_datetime(now),
                "listIds": [],
                "listUnsubscribed": [],
                "attributes": {},
            }
            return self._apply(contact, changes, now, previous_email=None)

    def update(self, contact: dict[str, Any], changes: ContactChanges) -> dict[str, Any]:
        """Apply changes to an existing contact."""
        with self.lock:
            self._check_lists(changes)
            current = self.store.get(SYSTEM, CONTACTS, str(contact["id"])) or contact
            return self._apply(dict(current), changes, datetime.now(UTC), previous_email=current.get("email"))

    def set_lists(self, contact: dict[str, Any], add: Iterable[int] = (), remove: Iterable[int] = ()) -> bool:
        """Add the contact to, or remove it from, lists; True when its membership changed."""
        changes = ContactChanges(list_ids=list(add), unlink_list_ids=list(remove))
        with self.lock:
            before = set((self.store.get(SYSTEM, CONTACTS, str(contact["id"])) or contact).get("listIds", []))
            after = set(self.update(contact, changes).get("listIds", []))
        return before != after

    def unblock(self, email: str) -> bool:
        """Take an email off the blocklist (and the contact's email blacklist); False when it was not blocked."""
        self.ensure_derived()
        with self.lock:
            if self.store.get(SYSTEM, BLOCKED, email.strip().lower()) is None:
                return False
            contact = self.find(email)
            if contact is not None:
                self.update(contact, ContactChanges(email_blacklisted=False))
            self.store.delete(SYSTEM, BLOCKED, email.strip().lower())
            return True

    def _check_lists(self, changes: ContactChanges) -> None:
        for list_id in [*changes.list_ids, *changes.unlink_list_ids]:
            if not self.list_exists(list_id):
                raise BrevoError(400, "invalid_parameter", f"List ID {list_id} does not exist")

    def _apply(
        self, contact: dict[str, Any], changes: ContactChanges, now: datetime, previous_email: str | None
    ) -> dict[str, Any]:
        attributes = dict(contact.get("attributes") or {})
        new_email = changes.attributes.get("EMAIL")
        if new_email is not None:
            if not valid_email(new_email):
                raise BrevoError(400, "invalid_parameter", "Invalid email address")
            owner = self.store.get(SYSTEM, EMAIL_INDEX, str(new_email).strip().lower())
            if owner is not None and owner["id"] != contact["id"]:
                raise BrevoError(400, "duplicate_parameter", "Email is already associated with another Contact")
            contact["email"] = str(new_email).strip().lower()
        for name, value in changes.attributes.items():
            if name == "EMAIL":
                continue
            if value in (None, ""):
                attributes.pop(name, None)
            else:
                attributes[name] = value
        if changes.ext_id is not None:
            attributes["EXT_ID"] = str(changes.ext_id)
        contact["attributes"] = attributes
        old_lists = list(contact.get("listIds") or [])
        lists = [item for item in old_lists if item not in changes.unlink_list_ids]
        lists += [item for item in changes.list_ids if item not in lists]
        contact["listIds"] = lists
        self._count_members(added=set(lists) - set(old_lists), removed=set(old_lists) - set(lists))
        if changes.sms_blacklisted is not None:
            contact["smsBlacklisted"] = changes.sms_blacklisted
        if changes.email_blacklisted is not None:
            was = bool(contact.get("emailBlacklisted"))
            contact["emailBlacklisted"] = changes.email_blacklisted
            if contact.get("email") and changes.email_blacklisted and not was:
                email = contact["email"]
                payload = _blocked_payload(email, "unsubscribedViaApi", brevo_datetime(now), DEFAULT_SENDER)
                self.store.put(SYSTEM, BLOCKED, email, payload, updated_at=store_stamp(now))
            elif contact.get("email") and not changes.email_blacklisted:
                self.store.delete(SYSTEM, BLOCKED, contact["email"])
        contact["modifiedAt"] = brevo_datetime(now)
        self.store.put(SYSTEM, CONTACTS, str(contact["id"]), contact, updated_at=store_stamp(now))
        if contact.get("email") != previous_email:
            if previous_email:
                self.store.delete(SYSTEM, EMAIL_INDEX, previous_email.lower())
            if contact.get("email"):
                self.store.put(SYSTEM, EMAIL_INDEX, contact["email"], {"id": contact["id"]})
        return contact

    def _count_members(self, added: set[int], removed: set[int]) -> None:
        for list_id, delta in [*((item, 1) for item in added), *((item, -1) for item in removed)]:
            payload = self.store.get(SYSTEM, LISTS, str(list_id))
            if payload is None:
                continue
            for name in ("uniqueSubscribers", "totalSubscribers"):
                payload[name] = max(0, int(payload.get(name, 0)) + delta)
            self.store.put(SYSTEM, LISTS, str(list_id), payload)


def _blocked_payload(email: str, code: str, blocked_at: str, sender: str) -> dict[str, Any]:
    return {
        "email": email,
        "senderEmail": sender,
        "reason": {"code": code, "message": BLOCK_REASONS.get(code, code)},
        "blockedAt": blocked_at,
    }
