"""The sObjects the emulator serves: their fields, types and write rules, and their describe documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from canalis.sandbox.world.ids import SALESFORCE_PREFIXES

TEXT_TYPES = frozenset({"string", "picklist", "email", "phone", "url", "textarea", "combobox"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "address": "urn:address",
}
DEFAULT_LENGTHS = {"string": 255, "picklist": 255, "email": 80, "phone": 40, "url": 255, "textarea": 32000}


@dataclass(frozen=True)
class FieldDef:
    """One field of an sObject as the describe call reports it."""

    name: str
    type: str
    label: str = ""
    length: int | None = None
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    required: bool = False  # on create, when no default applies
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    compound_field_name: str | None = None
    picklist: tuple[str, ...] = ()
    defaulted_on_create: bool = False
    calculated: bool = False

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def max_length(self) -> int:
        if self.length is not None:
            return self.length
        return DEFAULT_LENGTHS.get(self.type, 0)

    def describe(self) -> dict[str, Any]:
        """The field entry of a describe document."""
        return {
            "name": self.name,
            "label": self.label or _label(self.name),
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.max_length if self.type in TEXT_TYPES else 0,
            "byteLength": self.max_length * 3
            if self.type in TEXT_TYPES
            else (18 if self.type in ("id", "reference") else 0),
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "scale": 2 if self.type in ("currency", "percent") else 0,
            "digits": 9 if self.type == "int" else 0,
            "custom": self.custom,
            "calculated": self.calculated,
            "autoNumber": self.name == "CaseNumber",
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.defaulted_on_create,
            "externalId": self.external_id,
            "idLookup": self.id_lookup,
            "unique": self.unique,
            "caseSensitive": False,
            "filterable": self.type != "address",
            "sortable": self.type not in ("address", "textarea"),
            "groupable": self.type not in ("address", "textarea", "double", "currency", "datetime"),
            "nameField": self.name == "Name",
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "compoundFieldName": self.compound_field_name,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": value, "validFor": None, "value": value}
                for value in self.picklist
            ],
            "restrictedPicklist": False,
            "defaultValue": None,
            "inlineHelpText": None,
            "deprecatedAndHidden": False,
        }


@dataclass(frozen=True)
class SObjectDef:
    """One sObject: its fields in describe order, and labels."""

    name: str
    label: str
    label_plural: str
    fields: tuple[FieldDef, ...]
    by_lower: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {f.name.lower(): f for f in self.fields})

    @property
    def key_prefix(self) -> str:
        return SALESFORCE_PREFIXES[self.name]

    def field(self, name: str) -> FieldDef | None:
        """A field by name, case-insensitively, as SOQL and the REST API match names."""
        return self.by_lower.get(name.lower())

    def external_id_fields(self) -> list[FieldDef]:
        """Fields usable for upsert (external ids, and Id)."""
        return [f for f in self.fields if f.external_id or f.name == "Id"]

    def urls(self, version: str) -> dict[str, str]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "describe": f"{base}/describe",
            "sobject": base,
        }

    def summary(self, version: str) -> dict[str, Any]:
        """The entry of this sObject in the global describe and its basic information."""
        return {
            "activateable": False,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Case"),
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": self.urls(version),
        }

    def describe(self, version: str) -> dict[str, Any]:
        """The full describe document."""
        return {
            **self.summary(version),
            "childRelationships": [],
            "compactLayoutable": True,
            "fields": [f.describe() for f in self.fields],
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [],
            "searchLayoutable": True,
            "supportedScopes": [{"label": "All " + self.label_plural.lower(), "name": "everything"}],
            "urls": {
                **self.urls(version),
                "layouts": f"/services/data/v{version}/sobjects/{self.name}/describe/layouts",
            },
        }


def _label(name: str) -> str:
    text = name.removesuffix("__c").replace("_", " ")
    return "".join(
        f" {c}" if c.isupper() and i and not text[i - 1].isupper() else c for i, c in enumerate(text)
    ).strip()


def _system_fields() -> tuple[FieldDef, ...]:
    readonly = {"createable": False, "updateable": False}
    return (
        FieldDef("IsDeleted", "boolean", "Deleted", nillable=False, defaulted_on_create=True, **readonly),
        FieldDef("CreatedDate", "datetime", "Created Date", nillable=False, defaulted_on_create=True, **readonly),
        FieldDef(
            "CreatedById",
            "reference",
            "Created By ID",
            nillable=False,
            defaulted_on_create=True,
            reference_to=("User",),
            relationship_name="CreatedBy",
            **readonly,
        ),
        FieldDef(
            "LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted_on_create=True, **readonly
        ),
        FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            nillable=False,
            defaulted_on_create=True,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
            **readonly,
        ),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted_on_create=True, **readonly),
    )


def _id_field() -> FieldDef:
    return FieldDef(
        "Id", "id", "Record ID", length=18, createable=False, updateable=False, nillable=False, id_lookup=True
    )


def _owner() -> FieldDef:
    return FieldDef(
        "OwnerId",
        "reference",
        "Owner ID",
        nillable=False,
        defaulted_on_create=True,
        reference_to=("User",),
        relationship_name="Owner",
    )


def _address(prefix: str, label: str) -> tuple[FieldDef, ...]:
    compound = f"{prefix}Address"
    return (
        FieldDef(f"{prefix}Street", "textarea", f"{label} Street", length=255, compound_field_name=compound),
        FieldDef(f"{prefix}City", "string", f"{label} City", length=40, compound_field_name=compound),
        FieldDef(f"{prefix}State", "string", f"{label} State/Province", length=80, compound_field_name=compound),
        FieldDef(f"{prefix}PostalCode", "string", f"{label} Zip/Postal Code", length=20, compound_field_name=compound),
        FieldDef(f"{prefix}Country", "string", f"{label} Country", length=80, compound_field_name=compound),
        FieldDef(compound, "address", f"{label} Address", createable=False, updateable=False),
    )


ACCOUNT = SObjectDef(
    "Account",
    "Account",
    "Accounts",
    (
        _id_field(),
        FieldDef("Name", "string", "Account Name", nillable=False, required=True, id_lookup=True),
        FieldDef("Type", "picklist", "Account Type", length=255, picklist=("Prospect", "Customer", "Partner", "Other")),
        FieldDef("Industry", "picklist", picklist=("Retail", "Consulting", "Manufacturing", "Other")),
        FieldDef("Phone", "phone", "Account Phone"),
        FieldDef("Website", "url"),
        *_address("Billing", "Billing"),
        _owner(),
        *_system_fields(),
    ),
)

CONTACT = SObjectDef(
    "Contact",
    "Contact",
    "Contacts",
    (
        _id_field(),
        FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",), relationship_name="Account"),
        FieldDef(
            "Salutation", "picklist", compound_field_name="Name", picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "M.", "Mme")
        ),
        FieldDef("FirstName", "string", "First Name", length=40, compound_field_name="Name"),
        FieldDef(
            "LastName", "string", "Last Name", length=80, nillable=False, required=True, compound_field_name="Name"
        ),
        FieldDef("Name", "string", "Full Name", length=121, createable=False, updateable=False, nillable=False),
        FieldDef("Email", "email", id_lookup=True),
        FieldDef("Phone", "phone", "Business Phone"),
        FieldDef("MobilePhone", "phone", "Mobile Phone"),
        FieldDef("Birthdate", "date"),
        FieldDef("HasOptedOutOfEmail", "boolean", "Email Opt Out", nillable=False, defaulted_on_create=True),
        *_address("Mailing", "Mailing"),
        FieldDef(
            "LeadSource", "picklist", "Lead Source", picklist=("Web", "Phone Inquiry", "Partner Referral", "Other")
        ),
        FieldDef("Title", "string", length=128),
        FieldDef(
            "Canalis_Customer_Id__c",
            "string",
            "Canalis Customer Id",
            length=64,
            external_id=True,
            id_lookup=True,
        ),
        _owner(),
        *_system_fields(),
    ),
)

CASE = SObjectDef(
    "Case",
    "Case",
    "Cases",
    (
        _id_field(),
        FieldDef(
            "CaseNumber",
            "string",
            "Case Number",
            length=30,
            createable=False,
            updateable=False,
            nillable=False,
            id_lookup=True,
            defaulted_on_create=True,
        ),
        FieldDef("ContactId", "reference", "Contact ID", reference_to=("Contact",), relationship_name="Contact"),
        FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",), relationship_name="Account"),
        FieldDef("Type", "picklist", "Case Type", picklist=("Question", "Problem", "Feature Request", "Complaint")),
        FieldDef(
            "Status",
            "picklist",
            nillable=True,
            defaulted_on_create=True,
            picklist=("New", "Working", "Escalated", "Closed"),
        ),
        FieldDef(
            "IsClosed",
            "boolean",
            "Closed",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            calculated=True,
        ),
        FieldDef("ClosedDate", "datetime", "Closed Date", createable=False, updateable=False),
        FieldDef("Origin", "picklist", "Case Origin", picklist=("Phone", "Email", "Web")),
        FieldDef("Priority", "picklist", defaulted_on_create=True, picklist=("High", "Medium", "Low")),
        FieldDef("Subject", "string"),
        FieldDef("Description", "textarea"),
        FieldDef("SuppliedEmail", "email", "Web Email"),
        _owner(),
        *_system_fields(),
    ),
)

TASK = SObjectDef(
    "Task",
    "Task",
    "Tasks",
    (
        _id_field(),
        FieldDef("WhoId", "reference", "Name ID", reference_to=("Contact", "Lead"), relationship_name="Who"),
        FieldDef("WhatId", "reference", "Related To ID", reference_to=("Account", "Case"), relationship_name="What"),
        FieldDef("Subject", "combobox"),
        FieldDef("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other")),
        FieldDef(
            "TaskSubtype",
            "picklist",
            "Task Subtype",
            createable=True,
            updateable=False,
            picklist=("Task", "Email", "Call"),
        ),
        FieldDef("CallType", "picklist", "Call Type", picklist=("Internal", "Inbound", "Outbound")),
        FieldDef("CallDurationInSeconds", "int", "Call Duration"),
        FieldDef(
            "Status",
            "picklist",
            nillable=False,
            defaulted_on_create=True,
            picklist=("Not Started", "In Progress", "Completed"),
        ),
        FieldDef("Priority", "picklist", nillable=False, defaulted_on_create=True, picklist=("High", "Normal", "Low")),
        FieldDef("ActivityDate", "date", "Due Date Only"),
        FieldDef("Description", "textarea"),
        _owner(),
        *_system_fields(),
    ),
)

PRODUCT2 = SObjectDef(
    "Product2",
    "Product",
    "Products",
    (
        _id_field(),
        FieldDef("Name", "string", "Product Name", nillable=False, required=True),
        FieldDef("ProductCode", "string", "Product Code", id_lookup=True),
        FieldDef("Family", "picklist", "Product Family"),
        FieldDef("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True),
        FieldDef("Description", "textarea", "Product Description", length=4000),
        FieldDef("QuantityUnitOfMeasure", "picklist", "Quantity Unit Of Measure", picklist=("Each",)),
        *_system_fields(),
    ),
)

PRICEBOOK2 = SObjectDef(
    "Pricebook2",
    "Price Book",
    "Price Books",
    (
        _id_field(),
        FieldDef("Name", "string", "Price Book Name", nillable=False, required=True, id_lookup=True),
        FieldDef("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True),
        FieldDef(
            "IsStandard",
            "boolean",
            "Is Standard Price Book",
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
        ),
        FieldDef("Description", "textarea"),
        *_system_fields(),
    ),
)

PRICEBOOK_ENTRY = SObjectDef(
    "PricebookEntry",
    "Price Book Entry",
    "Price Book Entries",
    (
        _id_field(),
        FieldDef("Name", "string", "Product Name", createable=False, updateable=False),
        FieldDef(
            "Pricebook2Id",
            "reference",
            "Price Book ID",
            updateable=False,
            nillable=False,
            required=True,
            reference_to=("Pricebook2",),
            relationship_name="Pricebook2",
        ),
        FieldDef(
            "Product2Id",
            "reference",
            "Product ID",
            updateable=False,
            nillable=False,
            required=True,
            reference_to=("Product2",),
            relationship_name="Product2",
        ),
        FieldDef("ProductCode", "string", "Product Code", createable=False, updateable=False),
        FieldDef("UnitPrice", "currency", "List Price", nillable=False, required=True),
        FieldDef("IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True),
        FieldDef("UseStandardPrice", "boolean", "Use Standard Price", nillable=False, defaulted_on_create=True),
        *_system_fields(),
    ),
)

SOBJECTS: dict[str, SObjectDef] = {
    definition.name: definition for definition in (ACCOUNT, CONTACT, CASE, TASK, PRODUCT2, PRICEBOOK2, PRICEBOOK_ENTRY)
}
_BY_LOWER = {name.lower(): definition for name, definition in SOBJECTS.items()}


def sobject(name: str) -> SObjectDef | None:
    """An sObject by name, case-insensitively."""
    return _BY_LOWER.get(name.lower())
