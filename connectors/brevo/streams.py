"""Streams of the Brevo connector: contacts, lists, blocked contacts and email events, plus the write streams."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from canalis.sdk import Stream


class ContactRecord(BaseModel):
    """The fields of a Brevo contact Canalis relies on."""

    model_config = ConfigDict(extra="allow")

    id: StrictInt
    email: StrictStr | None = None
    emailBlacklisted: StrictBool
    smsBlacklisted: StrictBool = False
    modifiedAt: AwareDatetime
    listIds: list[StrictInt] = []
    attributes: dict[str, Any] = {}


class ListRecord(BaseModel):
    """A contact list."""

    model_config = ConfigDict(extra="allow")

    id: StrictInt
    name: StrictStr


class BlockedContactRecord(BaseModel):
    """A blocked or unsubscribed address."""

    model_config = ConfigDict(extra="allow")

    email: StrictStr
    blockedAt: AwareDatetime
    reason: dict[str, Any] = {}


class EmailEventRecord(BaseModel):
    """One event of the email event report."""

    model_config = ConfigDict(extra="allow")

    email: StrictStr
    date: AwareDatetime
    event: StrictStr
    messageId: StrictStr


class BrevoStream(Stream):
    """A Brevo stream: read from an endpoint, or write-only."""

    readable: ClassVar[bool] = True


class Contacts(BrevoStream):
    name = "contacts"
    primary_key = "id"
    # Brevo keeps no trace of deleted contacts: one missing from a complete read was deleted
    deletes_by_absence = True
    cursor_field = "modifiedAt"
    record_model = ContactRecord
    lookback = timedelta(minutes=30)
    description = "Contacts with their attributes, blocklist flags and lists; incremental on modifiedAt."
    # `attributes` holds the account's own contact attributes (FIRSTNAME, SMS, custom ones): open by nature.
    field_paths = (
        "id",
        "email",
        "emailBlacklisted",
        "smsBlacklisted",
        "whatsappBlacklisted",
        "createdAt",
        "modifiedAt",
        "listIds",
        "listUnsubscribed",
        "attributes.*",
    )


class Lists(BrevoStream):
    name = "lists"
    primary_key = "id"
    record_model = ListRecord
    description = "Contact lists (read whole each time)."
    field_paths = ("id", "name", "folderId", "totalBlacklisted", "totalSubscribers", "uniqueSubscribers")


class BlockedContacts(BrevoStream):
    name = "blocked_contacts"
    primary_key = "email"
    cursor_field = "blockedAt"
    record_model = BlockedContactRecord
    lookback = timedelta(minutes=30)
    description = "Blocked or unsubscribed addresses with the reason; incremental on blockedAt."
    field_paths = ("email", "senderEmail", "reason.code", "reason.message", "blockedAt")


class EmailEvents(BrevoStream):
    name = "email_events"
    primary_key = "_key"
    cursor_field = "date"
    record_model = EmailEventRecord
    lookback = timedelta(minutes=30)
    description = (
        "Email events (deliveries, opens, clicks, bounces, unsubscriptions, spam); `_key` is built by Canalis."
    )
    field_paths = (
        "email",
        "date",
        "subject",
        "messageId",
        "event",
        "reason",
        "tag",
        "ip",
        "link",
        "from",
        "templateId",
        "_key",
    )


class CustomersOut(BrevoStream):
    name = "customers"
    primary_key = "key"
    writable = True
    batch_size = 1000  # lowered by the batch_size setting
    readable = False
    description = "Write-only: create or update contacts (names, phone, Canalis id as ext_id)."


class ConsentsOut(BrevoStream):
    name = "consents"
    primary_key = "key"
    writable = True
    batch_size = 1000  # lowered by the batch_size setting
    readable = False
    description = "Write-only: email/SMS marketing consent as blocklist flags or promotional list membership."


READ_STREAMS: tuple[type[BrevoStream], ...] = (Contacts, Lists, BlockedContacts, EmailEvents)
STREAMS: tuple[type[BrevoStream], ...] = (*READ_STREAMS, CustomersOut, ConsentsOut)
