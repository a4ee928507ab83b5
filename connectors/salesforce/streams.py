"""Streams of the Salesforce connector: one per sObject read, plus the canonical write streams."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from canalis.connectors.salesforce.settings import SalesforceSettings
from canalis.sdk import Stream, WriteOnlyStream, parse_cursor_datetime

CURSOR_FIELD = "SystemModstamp"
SYSTEM_FIELDS = ("IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
# What Salesforce puts under `attributes` of every record (Bulk API 2.0 rows get only the type).
RECORD_ATTRIBUTES = ("attributes.type", "attributes.url")


def _salesforce_datetime(value: Any) -> Any:
    """Salesforce datetimes (2026-01-05T10:00:00.000+0000, or ...Z from Bulk API 2.0) as aware datetimes."""
    return parse_cursor_datetime(value) if isinstance(value, str) else value


SalesforceDateTime = Annotated[datetime, BeforeValidator(_salesforce_datetime)]


class SObjectRecord(BaseModel):
    """What every record read must have: an id and a readable SystemModstamp."""

    model_config = ConfigDict(extra="allow")

    Id: str = Field(min_length=15, max_length=18)
    SystemModstamp: SalesforceDateTime


class SObjectStream(Stream):
    """A stream read from one sObject with SOQL, incremental on SystemModstamp."""

    sobject: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    primary_key = "Id"
    cursor_field = CURSOR_FIELD
    record_model = SObjectRecord
    deleted_when = ("IsDeleted", True)

    @classmethod
    def declared_fields(cls) -> frozenset[str]:
        """The fields selected (those the org lacks are left out of the query) and the record's attributes."""
        return frozenset((*cls.fields, *RECORD_ATTRIBUTES))


class Accounts(SObjectStream):
    name = "accounts"
    sobject = "Account"
    description = "Accounts: companies, and the bucket accounts private customers hang from."
    fields = (
        "Id",
        "Name",
        "Type",
        "Industry",
        "Phone",
        "Website",
        "BillingStreet",
        "BillingCity",
        "BillingPostalCode",
        "BillingCountry",
        "OwnerId",
        *SYSTEM_FIELDS,
    )


class Contacts(SObjectStream):
    name = "contacts"
    sobject = "Contact"
    description = "Contacts: the people, with their email opt-out and the Canalis customer id."
    fields = (
        "Id",
        "AccountId",
        "Salutation",
        "FirstName",
        "LastName",
        "Name",
        "Email",
        "Phone",
        "MobilePhone",
        "Birthdate",
        "HasOptedOutOfEmail",
        "MailingStreet",
        "MailingCity",
        "MailingPostalCode",
        "MailingState",
        "MailingCountry",
        "LeadSource",
        "Title",
        "OwnerId",
        *SYSTEM_FIELDS,
    )

    @classmethod
    def declared_fields(cls) -> frozenset[str]:
        """Also the external id field holding the Canalis customer id (named by a setting: its default here)."""
        return super().declared_fields() | {str(SalesforceSettings.model_fields["external_id_field"].default)}


class Cases(SObjectStream):
    name = "cases"
    sobject = "Case"
    description = "Service cases; Type 'Complaint' marks complaints."
    fields = (
        "Id",
        "CaseNumber",
        "ContactId",
        "AccountId",
        "Type",
        "Status",
        "IsClosed",
        "ClosedDate",
        "Origin",
        "Priority",
        "Subject",
        "SuppliedEmail",
        "OwnerId",
        *SYSTEM_FIELDS,
    )


class Tasks(SObjectStream):
    name = "tasks"
    sobject = "Task"
    description = "Activities such as logged calls, linked to a contact by WhoId."
    fields = (
        "Id",
        "WhoId",
        "WhatId",
        "Subject",
        "Type",
        "TaskSubtype",
        "CallType",
        "CallDurationInSeconds",
        "Status",
        "Priority",
        "ActivityDate",
        "OwnerId",
        *SYSTEM_FIELDS,
    )


class Products(SObjectStream):
    name = "products"
    sobject = "Product2"
    description = "Products (Product2), keyed for Canalis by ProductCode as the SKU."
    fields = ("Id", "Name", "ProductCode", "Family", "IsActive", "Description", "QuantityUnitOfMeasure", *SYSTEM_FIELDS)


class PricebookEntries(SObjectStream):
    name = "pricebook_entries"
    sobject = "PricebookEntry"
    description = "Pricebook entries: the price of each product in each pricebook."
    fields = (
        "Id",
        "Name",
        "Pricebook2Id",
        "Product2Id",
        "ProductCode",
        "UnitPrice",
        "IsActive",
        "UseStandardPrice",
        "CurrencyIsoCode",
        *SYSTEM_FIELDS,
    )


class WriteStream(WriteOnlyStream):
    """A canonical stream Canalis publishes to Salesforce; it has nothing to read."""

    batch_size = 200  # sObject Collections take 200 records per call


class CustomersOut(WriteStream):
    name = "customers"
    description = "Write only: Contact upserts by the Canalis customer id external field (batches of 200)."


class ConsentsOut(WriteStream):
    name = "consents"
    description = "Write only: email marketing opt-out (HasOptedOutOfEmail) on the matching Contacts."


class PricesOut(WriteStream):
    name = "prices"
    description = "Write only: UnitPrice of the PricebookEntry of each SKU in the standard (or configured) pricebook."


READ_STREAMS: tuple[type[SObjectStream], ...] = (Accounts, Contacts, Cases, Tasks, Products, PricebookEntries)
WRITE_STREAMS: tuple[type[WriteStream], ...] = (CustomersOut, ConsentsOut, PricesOut)
STREAMS: tuple[type[Stream], ...] = (*READ_STREAMS, *WRITE_STREAMS)
