"""Streams of the HubSpot connector: CRM objects read by modification time, and the email events feed."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from canalis.sdk.streams import Stream, WriteOnlyStream


class CrmObjectModel(BaseModel):
    """What every CRM object must hold to be stored: a digit-string id, text properties and timestamps."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^\d+$")
    properties: dict[str, str | None]
    createdAt: str
    updatedAt: str


class EmailEventModel(BaseModel):
    """A marketing email event: id, type, recipient and creation time in epoch milliseconds."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    type: str
    recipient: str | None = None
    created: int


class CrmStream(Stream):
    """A CRM object type read in full through the list API, then incrementally through search."""

    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = CrmObjectModel
    lookback = timedelta(minutes=10)
    object_type: ClassVar[str]
    properties: ClassVar[tuple[str, ...]]
    associations: ClassVar[tuple[str, ...]] = ()


class Contacts(CrmStream):
    name = "contacts"
    object_type = "contacts"
    description = (
        "Contacts; `_marketing_email_optout` is added from hs_email_optout and the marketing subscription's flag."
    )
    properties = (
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "address",
        "city",
        "zip",
        "state",
        "country",
        "company",
        "date_of_birth",
        "hs_email_optout",
        "hs_language",
        "lifecyclestage",
        "hs_lastmodifieddate",
    )


class Companies(CrmStream):
    name = "companies"
    object_type = "companies"
    description = "Companies (accounts)."
    properties = ("name", "domain", "country", "industry", "lifecyclestage", "hs_lastmodifieddate")


class Tickets(CrmStream):
    name = "tickets"
    object_type = "tickets"
    description = "Support tickets with their associated contacts; category COMPLAINT marks complaints."
    properties = (
        "subject",
        "content",
        "hs_pipeline",
        "hs_pipeline_stage",
        "hs_ticket_category",
        "hs_ticket_priority",
        "source_type",
        "closed_date",
        "hs_lastmodifieddate",
    )
    associations = ("contacts",)


class Deals(CrmStream):
    name = "deals"
    object_type = "deals"
    description = "Deals with their contacts and, under `line_items`, the line items read alongside."
    properties = (
        "dealname",
        "amount",
        "pipeline",
        "dealstage",
        "closedate",
        "deal_currency_code",
        "hs_lastmodifieddate",
    )
    associations = ("contacts", "line_items")


class Products(CrmStream):
    name = "products"
    object_type = "products"
    description = "Products of the product library with their price."
    properties = ("name", "hs_sku", "price", "description", "hs_cost_of_goods_sold", "hs_lastmodifieddate")


class EmailEvents(Stream):
    """Marketing email events (sent, delivered, opened, clicked, bounced, status changes)."""

    name = "email_events"
    primary_key = "id"
    cursor_field = "created"
    record_model = EmailEventModel
    lookback = timedelta(minutes=10)
    description = "Marketing email events from the email events feed, read by time window."


class Customers(WriteOnlyStream):
    """Canalis customers written to contacts (batch upsert by email, setting the Canalis id property)."""

    name = "customers"
    description = "Write-only: upserts contacts by email with the Canalis customer id, names and phone."


class Consents(WriteOnlyStream):
    """Marketing email subscription status, written back (unsubscribe / resubscribe)."""

    name = "consents"
    description = "Write-only: marketing email subscription status of a contact."


LINE_ITEM_PROPERTIES = ("name", "hs_product_id", "hs_sku", "quantity", "price", "amount", "hs_lastmodifieddate")
CRM_STREAMS: tuple[type[CrmStream], ...] = (Contacts, Companies, Tickets, Deals, Products)
STREAMS: tuple[type[Stream], ...] = (*CRM_STREAMS, EmailEvents, Customers, Consents)
