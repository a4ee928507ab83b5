"""Consents across systems: opt-outs propagate (per-purpose rule) and open complaints pause promotional email."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Column, String, Table
from sqlalchemy.engine import Connection

from canalis.publishing.consent_scope import consent_pairs, scope_table
from canalis.publishing.policy import ConsentRule, PublishConfig
from canalis.store import tables
from canalis.store.schema import metadata
from canalis.store.types import UTCDateTime

if TYPE_CHECKING:
    from canalis.publishing.consent_scope import ConsentScope
    from canalis.publishing.plan import Plan, Written

PAUSED_PURPOSE = "marketing"
PAUSED_MEDIUM = "email"
PAUSE = "paused: open complaint"
RESTORE = "restored: complaint resolved"
DEFAULT_PAIRS = frozenset({(PAUSED_PURPOSE, PAUSED_MEDIUM)})

consent_pauses = Table(
    "consent_pauses",
    metadata,
    Column("channel", String(100), primary_key=True, comment="connection the pause was written to"),
    Column("record_key", String(300), primary_key=True),
    Column("purpose", String(50), primary_key=True),
    Column("medium", String(30), primary_key=True, comment="email, sms..."),
    Column("customer_id", String(64), nullable=False),
    Column("restore_status", String(20), comment="the channel's status before the pause"),
    Column("paused_at", UTCDateTime, nullable=False),
    Column("run_id", String(64)),
    comment="Consents Canalis set to denied because of an open complaint; they are not the customer's choice.",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One system's consent status for a customer, purpose and medium."""

    source: str
    status: str
    recorded_at: datetime | None


def combine(evidence: list[Evidence], rule: ConsentRule) -> tuple[str, list[str]]:
    """The status the rule gives from every system's evidence, and the systems it came from."""
    known = [item for item in evidence if item.status in ("granted", "denied")]
    if not known:
        return "unknown", []
    if rule == "most_recent":
        latest = max(
            known, key=lambda item: (item.recorded_at is not None, item.recorded_at or datetime.min, item.source)
        )
        return latest.status, [latest.source]
    status = "denied" if any(item.status == "denied" for item in known) else "granted"
    return status, sorted({item.source for item in known if item.status == status})


def open_complaints(conn: Connection, config: PublishConfig, scope: ConsentScope | None = None) -> set[str]:
    """Unified customers (of the scope, when given) with a complaint in any system whose status does not close it."""
    i = tables.interactions
    closed = {status.lower() for status in config.complaint_closed_statuses}
    query = sa.select(i.c.customer_id, i.c.status).where(i.c.is_complaint.is_(True), i.c.customer_id.is_not(None))
    if scope is not None:
        query = query.where(i.c.customer_id.in_(sa.select(scope_table.c.customer_id)))
    return {row.customer_id for row in conn.execute(query) if (row.status or "").strip().lower() not in closed}


def active_pauses(conn: Connection) -> dict[tuple[str, str, str, str], Any]:
    """Pauses Canalis wrote, keyed by (channel, record_key, purpose, medium)."""
    p = consent_pauses
    return {(row.channel, row.record_key, row.purpose, row.medium): row for row in conn.execute(sa.select(p))}


def consent_key(record_key: str, purpose: str, medium: str) -> str:
    """The key of a record's consent, as the consents table holds it."""
    return f"{record_key}:{purpose}:{medium}"


def plan_consents(
    plan: Plan, conn: Connection, config: PublishConfig, written: Written, scope: ConsentScope | None = None
) -> None:
    """Add to the plan every consent a publishing channel must change: propagated opt-outs, pauses and restores.

    With a scope (see `canalis.publishing.consent_scope`), only the scope's customers are worked out again; the
    last plan's consent changes of the other customers are added as they were.
    """
    from canalis.publishing.plan import Change

    channels = config.channels_publishing("consents")
    if not channels:
        return
    pauses = active_pauses(conn)
    complaints = open_complaints(conn, config, scope)
    evidence: dict[tuple[str, str, str], list[Evidence]] = defaultdict(list)
    current: dict[str, str] = {}
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    k, s = tables.consents, tables.source_identities
    consents = (
        sa.select(k.c.consent_key, k.c.record_key, k.c.source, k.c.purpose, k.c.channel, k.c.status, k.c.recorded_at)
        .add_columns(s.c.customer_id)
        .select_from(k.outerjoin(s, s.c.record_key == k.c.record_key))
        .order_by(k.c.consent_key)
    )
    if scope is not None:
        consents = consents.where(s.c.customer_id.in_(sa.select(scope_table.c.customer_id)))
    else:
        # a customer with one record, no open complaint and no pause has nothing to propagate: read the others
        consents = consents.where(s.c.customer_id.in_(_customers_that_can_change()))
        for source, purpose, medium in consent_pairs(conn):
            pairs[source].add((purpose, medium))
    for row in conn.execute(consents):
        current[row.consent_key] = row.status
        pairs[row.source].add((row.purpose, row.channel))
        if row.customer_id is None or (row.source, row.record_key, row.purpose, row.channel) in pauses:
            continue  # a pause Canalis wrote is not the customer's choice
        evidence[(row.customer_id, row.purpose, row.channel)].append(Evidence(row.source, row.status, row.recorded_at))
    c = tables.customer_records
    records = (
        sa.select(c.c.record_key, c.c.source, c.c.source_id, c.c.email, s.c.customer_id)
        .join(s, s.c.record_key == c.c.record_key)
        .where(c.c.source.in_(list(channels)))
        .order_by(c.c.source, c.c.record_key)
    )
    if scope is not None:
        records = records.where(s.c.customer_id.in_(sa.select(scope_table.c.customer_id)))
        for pair in scope.pairs:
            pairs[pair[0]].add(pair[1:])
    else:
        records = records.where(s.c.customer_id.in_(_customers_that_can_change()))
    recomputed: set[str] = set()
    for record in conn.execute(records):
        customer = record.customer_id
        recomputed.add(record.record_key)
        for purpose, medium in sorted(pairs.get(record.source) or DEFAULT_PAIRS):
            if medium == "email" and not record.email:
                continue  # no address to hold an email consent
            status, sources = combine(evidence.get((customer, purpose, medium), []), config.rule_for(purpose))
            pause = pauses.get((record.source, record.record_key, purpose, medium))
            paused = customer in complaints and (purpose, medium) == (PAUSED_PURPOSE, PAUSED_MEDIUM)
            if paused:
                status, reason, action = "denied", PAUSE, "pause"
            elif pause is not None:
                status = status if status != "unknown" else (pause.restore_status or "unknown")
                reason, action = RESTORE, "restore"
            else:
                reason, action = f"{status} in {', '.join(sources)} ({config.rule_for(purpose)})", None
                if status == "granted" and not config.propagate_opt_ins:
                    continue  # only opt-outs travel between systems unless opt-ins are asked for
            key = consent_key(record.record_key, purpose, medium)
            old = current.get(key)
            if (
                status == "unknown"
                or old == status
                or written.pending((record.source, "consents", key, "status"), status)
            ):
                continue
            change = Change(record.source, "consents", key, "status", old, status, reason)
            plan.add(
                [change],
                {
                    "key": key,
                    "source_id": record.source_id,
                    "email": record.email,
                    "purpose": purpose,
                    "channel": medium,
                    "status": status,
                    "_action": action,
                    "_customer_id": customer,
                    "_record_key": record.record_key,
                    "_previous": old,
                },
            )

    if scope is not None:
        for change, record in scope.kept:
            if scope.keeps(record, recomputed):
                plan.add([change], record)


def _customers_that_can_change() -> sa.Select:
    """Customers whose consents a full plan may change: several records, a complaint, or a pause on a record.

    A customer with a single record has that record's consents as the only evidence, which gives each consent its
    own status back; only a pause (an open complaint) or a restore (a pause Canalis wrote) changes it.
    """
    s, i, p = tables.source_identities, tables.interactions, consent_pauses
    several = sa.select(s.c.customer_id).group_by(s.c.customer_id).having(sa.func.count() > 1)
    complained = sa.select(i.c.customer_id).where(i.c.is_complaint.is_(True), i.c.customer_id.is_not(None))
    paused = sa.select(s.c.customer_id).join(p, p.c.record_key == s.c.record_key)
    return sa.union(several, complained, paused)


def remember_pause(conn: Connection, channel: str, record: dict[str, Any], now: datetime, run_id: str | None) -> None:
    """Note that Canalis paused a consent (after the write was applied), or forget it once restored."""
    where = (channel, record["_record_key"], record["purpose"], record["channel"])
    p = consent_pauses
    condition = sa.and_(
        p.c.channel == where[0], p.c.record_key == where[1], p.c.purpose == where[2], p.c.medium == where[3]
    )
    if record.get("_action") == "restore":
        conn.execute(sa.delete(p).where(condition))
    elif record.get("_action") == "pause" and conn.execute(sa.select(p.c.channel).where(condition)).first() is None:
        conn.execute(
            sa.insert(p).values(
                channel=where[0],
                record_key=where[1],
                purpose=where[2],
                medium=where[3],
                customer_id=record["_customer_id"],
                restore_status=record.get("_previous"),
                paused_at=now,
                run_id=run_id,
            )
        )
