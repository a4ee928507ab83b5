"""Whether the data the KPIs read changed: a fingerprint of the store tables they depend on, with the settings.

The KPIs are whole-population measures: a changed interaction can move any of them, so they are worked out over
every row when something changed. When nothing did, the figures of the last run are still exact, and a sync can
show them again instead of reading every customer once more.

The fingerprint is the row count and latest change stamp of each table a KPI reads or that decides which customer
an interaction belongs to (records, identities, contact points, golden records), worked out in one SELECT: a new,
changed or deleted row in any of them changes it.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.kpis.settings import KpiSettings
from canalis.store import tables


def _stamped() -> list[tuple[sa.Table, sa.Column]]:
    """The tables behind the KPIs, each with its change stamp."""
    return [
        (tables.interactions, tables.interactions.c.loaded_at),
        (tables.orders, tables.orders.c.loaded_at),
        (tables.customers, tables.customers.c.updated_at),
        (tables.source_identities, tables.source_identities.c.updated_at),
        (tables.customer_records, tables.customer_records.c.loaded_at),
        (tables.contact_points, tables.contact_points.c.updated_at),
    ]


def inputs_fingerprint(conn: Connection, settings: KpiSettings) -> str:
    """A hash of the KPI settings and of each input table's row count and latest change stamp."""
    columns = []
    for number, (table, stamp) in enumerate(_stamped()):
        columns.append(sa.select(sa.func.count()).select_from(table).scalar_subquery().label(f"rows_{number}"))
        columns.append(sa.select(sa.func.max(stamp)).scalar_subquery().label(f"latest_{number}"))
    row = conn.execute(sa.select(*columns)).one()
    body = {"settings": settings.model_dump(mode="json"), "tables": [str(value) for value in row]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
