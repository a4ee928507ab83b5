"""The stream of the IMAP connector: the messages of the configured folders."""

from __future__ import annotations

from canalis.sdk import Stream


class Messages(Stream):
    """Every message of the configured folders, read incrementally by UIDVALIDITY and UID per folder."""

    name = "messages"
    primary_key = "id"
    cursor_field = "uid"
    description = (
        "Customer-service emails: sender, recipients, subject, UTC date, thread (References root), body text, "
        "attachment names and sizes, direction (inbound from customers, outbound from support)."
    )
    # The record the connector builds from each message (canalis.connectors.imap.parser).
    field_paths = (
        "id",
        "message_id",
        "folder",
        "uidvalidity",
        "uid",
        "size",
        "flags",
        "direction",
        "from_email",
        "from_name",
        "to",
        "cc",
        "customer_email",
        "subject",
        "date",
        "in_reply_to",
        "references",
        "thread_id",
        "body_text",
        "body_truncated",
        "attachments.filename",
        "attachments.content_type",
        "attachments.size",
        "is_complaint",
        "message_truncated",
    )


STREAMS: tuple[type[Stream], ...] = (Messages,)
