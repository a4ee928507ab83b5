"""Churn in a generated world: some people deleted or archived in the vendors' systems, the vendors' way, with the
list of what was removed as ground truth (`churn.json` in the data dir).

What each system does, as its emulator then serves it:

| system | object | what happens | how the API shows it |
| --- | --- | --- | --- |
| salesforce | Contact | deleted (recycle bin) | `queryAll` returns it with `IsDeleted` true |
| hubspot | contacts | archived | listed only with `archived=true`, with `archivedAt` |
| odoo | res.partner | archived | `active` false, read with `active_test` off |
| square | customers | deleted | gone from lists and searches |

The choice depends on the seed only: the same world and seed remove the same records.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from canalis.sandbox.emulators.hubspot.crm import archive
from canalis.sandbox.emulators.hubspot.wire import timestamp
from canalis.sandbox.emulators.odoo.orm import odoo_datetime
from canalis.sandbox.emulators.salesforce.records import updated_payload
from canalis.sandbox.emulators.salesforce.schema import sobject
from canalis.sandbox.objectstore import ObjectStore, StoredObject, format_timestamp
from canalis.sandbox.world.generate import store_path

CHURN_FILE = "churn.json"


@dataclass(frozen=True)
class Removal:
    """One record a vendor deleted or archived."""

    system: str
    object_type: str
    object_id: str
    kind: str  # deleted or archived


def churn(data_dir: Path, *, seed: int = 7, per_system: int = 2, now: datetime | None = None) -> list[Removal]:
    """Delete or archive `per_system` people in each system of the world; what was removed (also written to
    `churn.json`, appended to what earlier churns removed)."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    removed: list[Removal] = []
    with ObjectStore(store_path(data_dir)) as store:
        for system, object_type, kind, live, remove in _SYSTEMS:
            candidates = sorted(
                (row for row in store.iter_all(system, object_type) if live(row)), key=lambda row: row.object_id
            )
            for row in rng.sample(candidates, min(per_system, len(candidates))):
                remove(store, row, now)
                removed.append(Removal(system, object_type, row.object_id, kind))
    path = Path(data_dir) / CHURN_FILE
    earlier = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    path.write_text(json.dumps(earlier + [asdict(r) for r in removed], indent=2), encoding="utf-8")
    return removed


def churned(data_dir: Path) -> list[Removal]:
    """Every removal the world's churns made (ground truth)."""
    path = Path(data_dir) / CHURN_FILE
    return [Removal(**item) for item in json.loads(path.read_text(encoding="utf-8"))] if path.is_file() else []


def _delete_contact(store: ObjectStore, row: StoredObject, now: datetime) -> None:
    payload = updated_payload(sobject("Contact"), {**row.payload, "IsDeleted": True}, {}, now)
    store.put("salesforce", "Contact", row.object_id, payload, updated_at=format_timestamp(now))


def _archive_contact(store: ObjectStore, row: StoredObject, now: datetime) -> None:
    archive(store, "contacts", row.payload, timestamp(now))


def _archive_partner(store: ObjectStore, row: StoredObject, now: datetime) -> None:
    payload = {**row.payload, "active": False, "write_date": odoo_datetime(now)}
    store.put("odoo", "res.partner", row.object_id, payload, updated_at=format_timestamp(now))


def _delete_customer(store: ObjectStore, row: StoredObject, now: datetime) -> None:
    store.delete("square", "customers", row.object_id)


def _odoo_customer(row: StoredObject) -> bool:
    payload = row.payload
    return (
        bool(payload.get("active", True)) and not payload.get("is_company") and (payload.get("customer_rank") or 0) > 0
    )


_SYSTEMS = (
    ("salesforce", "Contact", "deleted", lambda row: not row.payload.get("IsDeleted"), _delete_contact),
    ("hubspot", "contacts", "archived", lambda row: True, _archive_contact),
    ("odoo", "res.partner", "archived", _odoo_customer, _archive_partner),
    ("square", "customers", "deleted", lambda row: True, _delete_customer),
)
