"""Streams of the HubSpot connector: CRM objects read by modification time, and the email events feed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from canalis.connectors.hubspot.settings import HubSpotSettings
from canalis.sdk import Page, Stream, StreamState, WriteOnlyStream

# What every CRM object holds besides its properties (`archivedAt` only on archived objects).
CRM_OBJECT_FIELDS = ("id", "createdAt", "updatedAt", "archived", "archivedAt")
# Properties HubSpot returns whichever properties are asked for (contacts also return `lastmodifieddate`).
ALWAYS_PROPERTIES = ("createdate", "hs_lastmodifieddate", "hs_object_id")


class CrmObjectModel(BaseModel):
    """What every CRM object must hold to be stored: a digit-string id, text properties and timestamps."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^\d+$")
    properties: dict[str, str | None]
    createdAt: str
    updatedAt: str


class LineItemModel(CrmObjectModel):
    """A line item read with its deal; one that is malformed leaves its deal incomplete instead of becoming a line
    without SKU or price."""


class DealModel(CrmObjectModel):
    """A deal, with its line items (each checked on its own) under `line_items`."""

    line_items: list[LineItemModel] = Field(default_factory=list)


class EmailEventModel(BaseModel):
    """A marketing email event: id, type, recipient and creation time in epoch milliseconds."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    type: str
    recipient: str | None = None
    created: int


LINE_ITEM_PROPERTIES = ("name", "hs_product_id", "hs_sku", "quantity", "price", "amount", "hs_lastmodifieddate")


class CrmStream(Stream):
    """A CRM object type read in full through the list API, then incrementally through search."""

    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = CrmObjectModel
    lookback = timedelta(minutes=10)
    object_type: ClassVar[str]
    properties: ClassVar[tuple[str, ...]]
    associations: ClassVar[tuple[str, ...]] = ()
    # Properties returned beyond those asked for, and fields the connector adds to the object.
    extra_properties: ClassVar[tuple[str, ...]] = ALWAYS_PROPERTIES
    added_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def pages(cls, connector: Any, state: StreamState) -> Iterator[Page]:
        """Read by the connector: the list API on a first read, search from the cursor afterwards."""
        return connector.read_crm_objects(cls, state)

    @classmethod
    def declared_fields(cls) -> frozenset[str]:
        """The object's fields, the properties read (and those always returned), associations, added fields."""
        return frozenset(
            (
                *CRM_OBJECT_FIELDS,
                *(f"properties.{name}" for name in (*cls.properties, *cls.extra_properties)),
                *(f"associations.{to_type}.results.{key}" for to_type in cls.associations for key in ("id", "type")),
                *cls.added_fields,
            )
        )


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
    extra_properties = (
        *ALWAYS_PROPERTIES,
        "lastmodifieddate",
        # the Canalis id property (named by the external_id_property setting; its default here) and the
        # marketing subscription's opt-out flag, `hs_email_optout_<subscription id>`, numbered per portal
        str(HubSpotSettings.model_fields["external_id_property"].default),
        "hs_email_optout_*",
    )
    added_fields = ("_marketing_email_optout",)


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
    record_model = DealModel
    added_fields = (
        "_currency",
        *(f"line_items.{name}" for name in CRM_OBJECT_FIELDS),
        *(f"line_items.properties.{name}" for name in (*LINE_ITEM_PROPERTIES, *ALWAYS_PROPERTIES)),
    )


class Products(CrmStream):
    name = "products"
    object_type = "products"
    description = "Products of the product library with their price."
    properties = ("name", "hs_sku", "price", "description", "hs_cost_of_goods_sold", "hs_lastmodifieddate")
    added_fields = ("_currency",)


class EmailEvents(Stream):
    """Marketing email events (sent, delivered, opened, clicked, bounced, status changes)."""

    name = "email_events"
    primary_key = "id"
    cursor_field = "created"
    record_model = EmailEventModel
    lookback = timedelta(minutes=10)
    description = "Marketing email events from the email events feed, read by time window."
    # The fields of every event, then those of each event type (SENT, DROPPED, DELIVERED, DEFERRED, BOUNCE, OPEN,
    # CLICK, STATUSCHANGE...), as HubSpot's email events API documents them.
    field_paths = (
        "id",
        "type",
        "recipient",
        "created",
        "portalId",
        "appId",
        "appName",
        "emailCampaignId",
        "emailCampaignGroupId",
        "hmid",
        "sendId",
        *(f"{link}.{key}" for link in ("sentBy", "causedBy", "obsoletedBy") for key in ("id", "created")),
        "filteredEvent",
        "smtpId",
        "subject",
        "from",
        "replyTo",
        "cc",
        "bcc",
        "dropReason",
        "dropMessage",
        "suppressedReason",
        "suppressedMessage",
        "response",
        "attempt",
        "category",
        "status",
        "userAgent",
        "deviceType",
        "duration",
        "url",
        "referer",
        "linkId",
        *(f"browser.{key}" for key in ("name", "family", "producer", "producerUrl", "type", "url", "version")),
        *(f"location.{key}" for key in ("country", "state", "city", "zipcode", "latitude", "longitude")),
        "source",
        "sourceId",
        "requestedBy",
        "portalSubscriptionStatus",
        "bounced",
        "subscriptions.id",
        "subscriptions.status",
        *(f"subscriptions.legalBasisChange.{key}" for key in ("legalBasisType", "legalBasisExplanation", "optState")),
    )


class Customers(WriteOnlyStream):
    """Canalis customers written to contacts (batch upsert by email, setting the Canalis id property)."""

    name = "customers"
    batch_size = 100
    description = "Write-only: upserts contacts by email with the Canalis customer id, names and phone."


class Consents(WriteOnlyStream):
    """Marketing email subscription status, written back (unsubscribe / resubscribe)."""

    name = "consents"
    batch_size = 100
    description = "Write-only: marketing email subscription status of a contact."


CRM_STREAMS: tuple[type[CrmStream], ...] = (Contacts, Companies, Tickets, Deals, Products)
STREAMS: tuple[type[Stream], ...] = (*CRM_STREAMS, EmailEvents, Customers, Consents)
