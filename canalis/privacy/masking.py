"""Masking personal values (emails, phones, names, street addresses, birth dates) in what Canalis shows about
records: Dagster metadata, previews, summaries. The store keeps the values; nothing else needs them.

A value is masked for its field's name (`email`, `firstname`, `address1`...; `name` too in a record that holds a
person's contact details) and, whatever its field, when it looks like an email address or a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

PERSONAL_FIELDS = frozenset(
    {
        "email", "e_mail", "mail", "emailaddress", "recipient", "sender", "from", "to", "cc",
        "from_email", "to_email", "customer_email", "reply_to",
        "phone", "mobile", "mobilephone", "mobile_phone", "phone_number", "phonenumber", "tel", "telephone",
        "sms", "whatsapp", "landline_number", "mobile_number", "homephone", "otherphone", "fax",
        "firstname", "first_name", "givenname", "given_name", "lastname", "last_name", "familyname",
        "family_name", "surname", "fullname", "full_name", "middlename", "middle_name", "salutation",
        "from_name", "to_name", "sender_name", "recipient_name", "contact_name", "customer_name",
        "address", "address1", "address2", "address_1", "address_2", "address_line_1", "address_line_2",
        "addressline1", "addressline2", "street", "street2", "streetaddress", "street_address", "mailingstreet",
        "billingstreet", "shippingstreet", "line1", "line2",
        "birthdate", "birth_date", "date_of_birth", "dateofbirth", "birthday", "dob",
    }
)  # fmt: skip
"""Field names (lower-case, separators kept) whose values are personal wherever they appear."""

CONTACT_FIELDS = frozenset({"email", "phone", "mobile", "mobilephone", "firstname", "lastname", "given_name", "sms"})
NAME_FIELDS = frozenset({"name", "display_name"})
"""Fields that hold a person's name only in a record that also holds their contact details."""

RELATION_FIELDS = frozenset(
    {"partner_id", "partner_invoice_id", "partner_shipping_id", "commercial_partner_id", "customer_id", "contact_id"}
)
"""Links to a person given as (id, display name), as Odoo does: the name is masked, the id kept."""

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w.])(?:\+\d[\d .()-]{6,}\d|0\d(?:[ .-]?\d\d){4})(?![\w.])")


def mask_text(text: str) -> str:
    """A text with every email address and phone number in it masked."""
    return PHONE.sub(MASK, EMAIL.sub(MASK, text))


def _plain(name: str) -> str:
    """A field name compared without case or separators: firstName, first_name and first-name are one."""
    return re.sub(r"[\s_\-.]", "", name.lower())


PERSONAL_FIELDS = frozenset(_plain(name) for name in PERSONAL_FIELDS)
CONTACT_FIELDS = frozenset(_plain(name) for name in CONTACT_FIELDS)
NAME_FIELDS = frozenset(_plain(name) for name in NAME_FIELDS)
RELATION_FIELDS = frozenset(_plain(name) for name in RELATION_FIELDS)


def mask_value(field: str, value: Any, *, person: bool = False) -> Any:
    """A field's value as it may be shown: masked when the field is personal, else with emails and phones masked."""
    name = _plain(field)
    if value is None or value == "":
        return value
    if name in PERSONAL_FIELDS or (person and name in NAME_FIELDS):
        return _masked(value)
    if name in RELATION_FIELDS and isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[1], str):
        return [value[0], MASK]
    if isinstance(value, Mapping):
        return mask_record(value)
    if isinstance(value, list | tuple):
        return [mask_value(field, item, person=person) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record (nested objects and lists included) with its personal values masked."""
    person = any(_plain(str(key)) in CONTACT_FIELDS for key in record) or _has_contact_properties(record)
    return {key: mask_value(str(key), value, person=person) for key, value in record.items()}


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return MASK


def _has_contact_properties(record: Mapping[str, Any]) -> bool:
    """Vendor records keep a person's fields one level down (`properties` in HubSpot)."""
    inner = record.get("properties")
    return isinstance(inner, Mapping) and any(_plain(str(key)) in CONTACT_FIELDS for key in inner)
