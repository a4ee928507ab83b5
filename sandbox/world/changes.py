"""Customers edited in the channels after a world was generated: what an incremental sync then has to carry.

A changed record gets a new modification time, in its payload (in the vendor's own timestamp format) and in the
store, so every emulator lists it again among the records changed since a cursor. Which records change is fixed
by their position in each system's sequence, so the same share picks the same records in every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from canalis.sandbox.objectstore import ObjectStore, format_timestamp
from canalis.sandbox.world.formats import (
    brevo_datetime,
    iso_millis_z,
    iso_seconds_z,
    odoo_datetime,
    salesforce_datetime,
)
from canalis.sandbox.world.systems import brevo, freshdesk, hubspot, mailchimp, odoo, salesforce, shopify, square

CUSTOMER_TYPES: tuple[tuple[str, str], ...] = tuple(
    (module.SYSTEM, module.IDENTITY_TYPE)
    for module in (salesforce, hubspot, shopify, square, odoo, brevo, freshdesk, mailchimp)
)
"""(system, object type) of the records that stand for a customer in each vendor."""

MODIFICATION_KEYS = frozenset(
    {
        "updatedAt",
        "updated_at",
        "modifiedAt",
        "lastmodifieddate",
        "hs_lastmodifieddate",
        "LastModifiedDate",
        "SystemModstamp",
        "write_date",
        "last_changed",
    }
)
"""Payload fields that carry a record's last modification time, in any vendor."""

_FORMATS: tuple[tuple[re.Pattern[str], Callable[[datetime], str]], ...] = (
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"), iso_millis_z),
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"), iso_seconds_z),
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$"), salesforce_datetime),
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"), odoo_datetime),
    (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"), brevo_datetime),
    (
        re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"),
        lambda moment: iso_seconds_z(moment)[:-1] + "+00:00",
    ),
)


def restamp(payload: Any, moment: datetime) -> int:
    """Set every modification time in a payload (nested ones included) to the moment, in the format found there."""
    changed = 0
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in MODIFICATION_KEYS and isinstance(value, str):
                for pattern, render in _FORMATS:
                    if pattern.match(value):
                        payload[key] = render(moment)
                        changed += 1
                        break
            else:
                changed += restamp(value, moment)
    elif isinstance(payload, list):
        for item in payload:
            changed += restamp(item, moment)
    return changed


def change_customers(
    store: ObjectStore, share: float, moment: datetime, types: tuple[tuple[str, str], ...] = CUSTOMER_TYPES
) -> dict[str, int]:
    """Mark a share of each vendor's customer records as edited at the moment; the count changed per system."""
    if not 0 < share <= 1:
        raise ValueError(f"share of records to change must be in (0, 1], got {share}")
    step = max(1, round(1 / share))
    stamp = format_timestamp(moment)
    counts: dict[str, int] = {}
    for system, object_type in types:
        rows = [(stored.object_id, stamp, stored.payload) for stored in store.every_nth(system, object_type, step)]
        for _, _, payload in rows:
            restamp(payload, moment)
        counts[system] = store.update_many(system, object_type, rows)
    return counts
