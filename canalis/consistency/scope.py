"""Which unified customers a consistency pass must look at again: those whose data changed since the last pass.

A full pass checks every customer. An incremental pass checks the customers whose source records, consents,
complaints, consent pauses, record-to-customer assignments or golden records changed after the last pass's
high-water mark (the latest change stamp that pass saw, kept in `sync_state`), plus the customers that share a
phone or an email with them (a phone held by several customers is a shop's number, not a conflict; two customers
alike but for their birth dates make one finding), and the customers with open findings that no longer exist
(merged away), so those close. Findings of the other customers stay as they were.

The scope is worked out in the database: a temporary table of customer ids filled by INSERT ... SELECT, which the
customer rules join to. `core` rows are the customers whose findings the pass records; the others (one more hop of
shared phones and emails) are only read, so that whether a core customer's phone is shared is decided on every
customer holding it.

Not seen: a value a changed record no longer holds. A customer that shared only such an old phone or email with
it keeps its findings until one of its own records changes or the next full pass (`full_sync` runs one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Select, func, literal, select, union
from sqlalchemy.engine import Connection

from canalis.consistency.findings import PER_CUSTOMER_CODES
from canalis.consistency.tables import inconsistencies
from canalis.publishing.suppression import consent_pauses
from canalis.store import tables

STATE_CONNECTOR = "canalis:consistency"
STATE_STREAM = "customer_rules"
CUSTOMER_CODES = (*sorted(PER_CUSTOMER_CODES), "duplicate_in_channel")
_SCOPE = "consistency_scope"

scope_table = sa.Table(
    _SCOPE,
    sa.MetaData(),
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("core", sa.Integer, nullable=False),
)


@dataclass
class CustomerScope:
    """The customers an incremental pass checks: ids in the temporary scope table, the core ones in `core`."""

    core: set[str]
    read: int

    def customer_filter(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A condition keeping rows whose customer column is in the scope (core or read)."""
        return column.in_(select(scope_table.c.customer_id))


def settings_fingerprint(settings: Any) -> str:
    """A hash of the settings the customer rules run under: a change of settings makes the next pass full."""
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:32]


def _stamps() -> list[tuple[sa.Table, sa.Column]]:
    """Every table whose changes can change a customer finding, with its change stamp."""
    return [
        (tables.customer_records, tables.customer_records.c.loaded_at),
        (tables.source_identities, tables.source_identities.c.updated_at),
        (tables.customers, tables.customers.c.updated_at),
        (tables.consents, tables.consents.c.updated_at),
        (tables.interactions, tables.interactions.c.loaded_at),
        (consent_pauses, consent_pauses.c.paused_at),
    ]


def high_water_mark(conn: Connection) -> datetime | None:
    """The latest change stamp of the tables the customer rules read (None when they are empty)."""
    latest = [conn.execute(select(func.max(column))).scalar() for _, column in _stamps()]
    found = [value for value in latest if value is not None]
    return max(found) if found else None


def changed_customers(since: datetime) -> Select:
    """Customer ids whose data changed after `since` (one SELECT, a UNION of one branch per table)."""
    r, s, c, i = tables.customer_records, tables.source_identities, tables.consents, tables.interactions
    branches = [
        select(s.c.customer_id).join(r, r.c.record_key == s.c.record_key).where(r.c.loaded_at > since),
        select(s.c.customer_id).where(s.c.updated_at > since),
        select(tables.customers.c.customer_id).where(tables.customers.c.updated_at > since),
        select(s.c.customer_id).join(c, c.c.record_key == s.c.record_key).where(c.c.updated_at > since),
        select(i.c.customer_id).where(i.c.loaded_at > since, i.c.customer_id.is_not(None)),
        select(s.c.customer_id)
        .join(i, i.c.customer_record_key == s.c.record_key)
        .where(i.c.loaded_at > since, i.c.customer_id.is_(None)),
        select(consent_pauses.c.customer_id).where(consent_pauses.c.paused_at > since),
        # open customer findings of customers that no longer exist (merged away): checking them closes them
        select(inconsistencies.c.entity_key.label("customer_id")).where(
            inconsistencies.c.status == "open",
            inconsistencies.c.code.in_(CUSTOMER_CODES),
            ~select(s.c.record_key).where(s.c.customer_id == inconsistencies.c.entity_key).exists(),
        ),
    ]
    return union(*branches)


def _neighbours() -> Select:
    """Customers holding a phone or an email that a core customer of the scope holds, not yet in the scope."""
    r, s, held = tables.customer_records, tables.source_identities, scope_table
    r2, s2 = r.alias("scope_records"), s.alias("scope_identities")
    of_core = (
        select(r2.c.phone)
        .join(s2, s2.c.record_key == r2.c.record_key)
        .join(held, held.c.customer_id == s2.c.customer_id)
        .where(held.c.core == 1)
    )
    phones = of_core.where(r2.c.phone.is_not(None))
    emails = of_core.with_only_columns(r2.c.email).where(r2.c.email.is_not(None))
    return (
        select(s.c.customer_id)
        .join(r, r.c.record_key == s.c.record_key)
        .where(sa.or_(r.c.phone.in_(phones), r.c.email.in_(emails)))
        .where(~s.c.customer_id.in_(select(held.c.customer_id)))
        .distinct()
    )


def build_scope(conn: Connection, since: datetime) -> CustomerScope:
    """Fill the temporary scope table: changed customers and their neighbours (core), then one more hop (read)."""
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_SCOPE} (customer_id VARCHAR(64) PRIMARY KEY, core INTEGER NOT NULL)"
    )
    conn.execute(scope_table.delete())
    changed = changed_customers(since).subquery()
    conn.execute(
        scope_table.insert().from_select(
            ["customer_id", "core"],
            select(changed.c.customer_id, literal(1)).where(changed.c.customer_id.is_not(None)).distinct(),
        )
    )
    for core in (1, 0):
        neighbours = _neighbours().subquery()
        conn.execute(
            scope_table.insert().from_select(["customer_id", "core"], select(neighbours.c.customer_id, literal(core)))
        )
    core_ids = set(conn.execute(select(scope_table.c.customer_id).where(scope_table.c.core == 1)).scalars())
    read = conn.execute(select(func.count()).select_from(scope_table)).scalar_one()
    return CustomerScope(core_ids, read)


def drop_scope(conn: Connection) -> None:
    """Remove the temporary scope table (it would otherwise live as long as the pooled connection)."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_SCOPE}")
