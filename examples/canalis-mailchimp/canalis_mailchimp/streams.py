"""Streams of the Mailchimp connector, declared: the SDK reads them (paging, incremental bound, resume)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr

from canalis.sdk import CursorPagination, RestStream, WriteOnlyStream


class ContactRecord(BaseModel):
    """What a contact must hold to be stored (others are rejected with the reason)."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr
    updated_at: StrictStr


class Contacts(RestStream):
    name = "contacts"
    description = "Contacts, oldest change first; incremental on updated_at."
    path = "/contacts"
    params = {"limit": "{page_size}", "sort": "updated_at"}  # {page_size}: a setting
    records_path = "data"
    primary_key = "id"
    cursor_field = "updated_at"
    cursor_param = "updated_since"  # the lower bound sent on incremental reads
    cursor_format = "iso_z"
    sorted_by_cursor = True
    paginator = CursorPagination(cursor_path="next_cursor", cursor_param="cursor")
    record_model = ContactRecord
    field_paths = ("id", "email", "first_name", "last_name", "phone", "updated_at")


class Consents(WriteOnlyStream):
    name = "consents"
    description = "Write-only: email marketing consent of contacts (Canalis publishes opt-outs)."
    batch_size = 100  # the most records one call takes
    batch_path = "contacts"  # where they are in the call's JSON body


STREAMS = (Contacts, Consents)
