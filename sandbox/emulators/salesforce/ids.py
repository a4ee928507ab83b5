"""Salesforce record ids in the emulator: validation, 15 -> 18 character form, and fresh ids for new objects."""

from __future__ import annotations

import re

from canalis.sandbox.world.ids import BASE62, SALESFORCE_PREFIXES, salesforce_checksum, salesforce_id

ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
FRESH_ID_BASE = 1_000_000_000  # far above the generator's counters, so new ids never meet generated ones
QUERY_LOCATOR_PREFIX = "01g"
BULK_JOB_PREFIX = "750"


def is_record_id(value: str) -> bool:
    """Whether text has the shape of a 15- or 18-character Salesforce id."""
    return bool(ID_PATTERN.match(value))


def to_18(value: str) -> str:
    """The 18-character form of a 15- or 18-character id (the checksum of an 18-character id is recomputed)."""
    return value[:15] + salesforce_checksum(value[:15])


def sobject_of(record_id: str) -> str | None:
    """The sObject whose key prefix starts the id, when it is one the emulator knows."""
    for sobject, prefix in SALESFORCE_PREFIXES.items():
        if record_id.startswith(prefix):
            return sobject
    return None


def fresh_record_id(sobject: str, number: int) -> str:
    """A new 18-character id for the n-th object the emulator creates of a type."""
    return salesforce_id(sobject, FRESH_ID_BASE + number)


def opaque_id(prefix: str, number: int) -> str:
    """An 18-character id with a key prefix for things that are not records (query locators, bulk jobs)."""
    body = ""
    value = number
    for _ in range(10):
        value, digit = divmod(value, 62)
        body = BASE62[digit] + body
    id15 = f"{prefix}5g{body}"
    return id15 + salesforce_checksum(id15)
