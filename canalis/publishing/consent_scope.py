"""Which customers' consents an incremental plan must work out again, and what it keeps from the last plan.

A full plan compares every publishing channel's consent with what every system's evidence gives. An incremental
plan does that only for the customers whose data changed since the last plan (the same change stamps the customer
consistency rules use: records, identities, golden records, consents, interactions, pauses) and for the customers
Canalis wrote a consent of since then (a write is left out while the channel has not been read back, and counts
again once it has). The consent changes of every other customer are the ones the last plan held, read back from it.

The last plan's position is kept in `sync_state` (connector `canalis:publishing`, stream `consent_plan`): its
high-water mark, the plan id, a fingerprint of the publish settings, the purposes and media each source holds (a
new pair changes what every record of that source is planned for) and the oldest last read of the consent
channels. Any difference in the settings or the pairs, a consent channel never read, or a plan that is no longer
stored makes the next plan full.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.publishing.policy import PublishConfig
from canalis.publishing.tables import publish_plan_changes, publish_plan_records
from canalis.store import tables

STATE_CONNECTOR = "canalis:publishing"
STATE_STREAM = "consent_plan"
_SCOPE = "consent_plan_scope"

scope_table = sa.Table(_SCOPE, sa.MetaData(), sa.Column("customer_id", sa.String(64), primary_key=True))

Pair = tuple[str, str, str]
"""(source, purpose, medium) of a consent some source holds."""


@dataclass
class ConsentScope:
    """The customers an incremental consent plan recomputes (ids in the temporary scope table), and the rest kept."""

    customers: set[str]
    kept: list[tuple[Any, dict[str, Any]]]
    """(change, record) of the last plan's consent changes of customers outside the scope, in plan order."""
    pairs: list[Pair]
    """Every (source, purpose, medium) of the consents table, not only the scope's."""

    def keeps(self, record: dict[str, Any], recomputed: set[str]) -> bool:
        """Whether a record of the last plan stays as it was: its customer and record are out of the scope."""
        return record.get("_customer_id") not in self.customers and record.get("_record_key") not in recomputed


def settings_fingerprint(config: PublishConfig) -> str:
    """A hash of the publish settings: a change of settings makes the next plan full."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:32]


def consent_pairs(conn: Connection) -> list[Pair]:
    """The (source, purpose, medium) pairs of the consents table, in order (one DISTINCT in the database)."""
    k = tables.consents
    query = sa.select(k.c.source, k.c.purpose, k.c.channel).distinct().order_by(k.c.source, k.c.purpose, k.c.channel)
    return [tuple(row) for row in conn.execute(query)]


def high_water_mark(conn: Connection) -> datetime | None:
    """The latest change stamp of every table the consent plan reads, Canalis's own writes included."""
    from canalis.consistency.scope import high_water_mark as customer_mark

    latest = [customer_mark(conn), conn.execute(sa.select(sa.func.max(tables.write_audit.c.created_at))).scalar()]
    found = [value for value in latest if value is not None]
    return max(found) if found else None


def oldest_read(read_at: dict[str, datetime], channels: list[str]) -> datetime | None:
    """The oldest last read of the consent channels; None when one of them was never read."""
    moments = [read_at.get(channel) for channel in channels]
    if not moments or any(moment is None for moment in moments):
        return None
    return min(moments)


def last_state(conn: Connection) -> dict[str, Any] | None:
    """The cursor the last plan saved, if any."""
    s = tables.sync_state
    query = sa.select(s.c.cursor).where(s.c.connector == STATE_CONNECTOR, s.c.stream == STATE_STREAM)
    return conn.execute(query).scalar()


def save_state(conn: Connection, cursor: dict[str, Any], now: datetime) -> None:
    """Keep the position of the plan just stored, for the next incremental plan."""
    s = tables.sync_state
    where = (s.c.connector == STATE_CONNECTOR) & (s.c.stream == STATE_STREAM)
    version = conn.execute(sa.select(s.c.version).where(where)).scalar()
    values = {"cursor": cursor, "updated_at": now, "run_id": None}
    if version is None:
        conn.execute(sa.insert(s).values(connector=STATE_CONNECTOR, stream=STATE_STREAM, version=1, **values))
    else:
        conn.execute(sa.update(s).where(where).values(version=version + 1, **values))


def build_consent_scope(
    conn: Connection, config: PublishConfig, pairs: list[Pair], read_at: dict[str, datetime]
) -> ConsentScope | None:
    """Fill the temporary scope table and read back what the last plan keeps; None when the plan must be full."""
    cursor = last_state(conn)
    if not cursor or cursor.get("settings") != settings_fingerprint(config) or not cursor.get("high_water_mark"):
        return None
    if [list(pair) for pair in pairs] != cursor.get("pairs") or not cursor.get("oldest_read"):
        return None
    since = datetime.fromisoformat(cursor["high_water_mark"])
    written_since = min(since, datetime.fromisoformat(cursor["oldest_read"]))
    kept = _last_plan_consents(conn, cursor.get("plan_id"))
    if kept is None:
        return None
    customers = _fill_scope(conn, since, written_since)
    return ConsentScope(customers, kept, pairs)


def _fill_scope(conn: Connection, since: datetime, written_since: datetime) -> set[str]:
    """Changed customers, and those whose consents Canalis wrote since `written_since`, into the scope table."""
    from canalis.consistency.scope import changed_customers

    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_SCOPE} (customer_id VARCHAR(64) PRIMARY KEY)")
    conn.execute(scope_table.delete())
    changed = changed_customers(since).subquery()
    conn.execute(
        scope_table.insert().from_select(
            ["customer_id"], sa.select(changed.c.customer_id).where(changed.c.customer_id.is_not(None)).distinct()
        )
    )
    customers = set(conn.execute(sa.select(scope_table.c.customer_id)).scalars())
    a, s = tables.write_audit, tables.source_identities
    written = conn.execute(
        sa.select(a.c.entity_key).where(a.c.entity_type == "consents", a.c.created_at > written_since).distinct()
    ).scalars()
    record_keys = sorted({key.rsplit(":", 2)[0] for key in written})
    for start in range(0, len(record_keys), 500):
        batch = record_keys[start : start + 500]
        owners = conn.execute(sa.select(s.c.customer_id).where(s.c.record_key.in_(batch)).distinct()).scalars()
        new = sorted(set(owners) - customers - {None})
        if new:
            conn.execute(scope_table.insert(), [{"customer_id": customer} for customer in new])
            customers.update(new)
    return customers


def drop_scope(conn: Connection) -> None:
    """Remove the temporary scope table (it would otherwise live as long as the pooled connection)."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_SCOPE}")


def _last_plan_consents(conn: Connection, plan_id: str | None) -> list[tuple[Any, dict[str, Any]]] | None:
    """The consent changes and records of the last plan (none for an empty plan); None when it is gone."""
    from canalis.publishing.plan import Change
    from canalis.publishing.plans import decode_record
    from canalis.publishing.tables import publish_plans

    if plan_id is None:
        return []
    if conn.execute(sa.select(publish_plans.c.plan_id).where(publish_plans.c.plan_id == plan_id)).first() is None:
        return None
    r = publish_plan_records
    records = {
        row.record_key: decode_record(row.record)
        for row in conn.execute(
            sa.select(r.c.record_key, r.c.record).where(r.c.plan_id == plan_id, r.c.entity == "consents")
        )
    }
    c = publish_plan_changes
    query = (
        sa.select(c.c.channel, c.c.record_key, c.c.field, c.c.old_value, c.c.new_value, c.c.reason)
        .where(c.c.plan_id == plan_id, c.c.entity == "consents")
        .order_by(c.c.seq)
    )
    kept = []
    for row in conn.execute(query):
        change = Change(row.channel, "consents", row.record_key, row.field, row.old_value, row.new_value, row.reason)
        kept.append((change, records[row.record_key]))
    present = _still_held(conn, {record["_record_key"] for _, record in kept})
    return [(change, record) for change, record in kept if record["_record_key"] in present]


def _still_held(conn: Connection, record_keys: set[str]) -> set[str]:
    """The records among these that still belong to a customer (an erased person's records are gone, unstamped)."""
    s = tables.source_identities
    ordered = sorted(record_keys)
    held: set[str] = set()
    for start in range(0, len(ordered), 500):
        query = sa.select(s.c.record_key).where(s.c.record_key.in_(ordered[start : start + 500]))
        held.update(conn.execute(query).scalars())
    return held
