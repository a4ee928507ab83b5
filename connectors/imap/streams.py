"""The stream of the IMAP connector: the messages of the configured folders."""

from __future__ import annotations

from canalis.sdk.streams import Stream


class Messages(Stream):
    """Every message of the configured folders, read incrementally by UIDVALIDITY and UID per folder."""

    name = "messages"
    primary_key = "id"
    cursor_field = "uid"
    description = (
        "Customer-service emails: sender, recipients, subject, UTC date, thread (References root), body text, "
        "attachment names and sizes, direction (inbound from customers, outbound from support)."
    )


STREAMS: tuple[type[Stream], ...] = (Messages,)
