"""The cross-channel timeline: every interaction attached to its unified customer, in time order.

Attaching is one UPDATE in the database: an interaction takes the customer of its source record, or, when it has no
record that belongs to a customer, the one customer holding its email as a valid contact point; it is left
unattached when several customers hold that email. Only rows whose customer changes are written. The report's
figures (channel switches, customers seen in several channels) are aggregates worked out by the database too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from canalis.store import Store, tables


@dataclass
class TimelineReport:
    """How many interactions found their customer, and how customers move between channels."""

    interactions: int = 0
    attached: int = 0
    unattached: int = 0
    ambiguous: int = 0
    customers_with_interactions: int = 0
    multichannel_customers: int = 0
    channel_switches: int = 0
    by_channel: Counter = field(default_factory=Counter)
    example: list[dict[str, Any]] = field(default_factory=list)


def _record_customer() -> ColumnElement:
    """The customer of an interaction's source record (a correlated scalar subquery)."""
    i, s = tables.interactions, tables.source_identities
    return select(s.c.customer_id).where(s.c.record_key == i.c.customer_record_key).scalar_subquery()


def _email_holders(aggregate: ColumnElement) -> Any:
    """An aggregate over the customers holding an interaction's email as a valid contact point (correlated)."""
    i, cp, s = tables.interactions, tables.contact_points, tables.source_identities
    return (
        select(aggregate)
        .select_from(cp.join(s, s.c.record_key == cp.c.record_key))
        .where(cp.c.kind == "email", cp.c.is_valid.is_(True), cp.c.value == i.c.customer_email)
    )


def _attached_customer() -> ColumnElement:
    """The customer an interaction belongs to: its record's, else its email's when one customer alone holds it."""
    s = tables.source_identities
    only_one = (
        _email_holders(func.min(s.c.customer_id)).having(func.count(s.c.customer_id.distinct()) == 1).scalar_subquery()
    )
    return func.coalesce(_record_customer(), only_one)


def attach_interactions(store: Store) -> TimelineReport:
    """Set `customer_id` on every interaction from its source record, or from its email when that is all it has."""
    i = tables.interactions
    report = TimelineReport()
    with store.begin() as conn:
        customer = _attached_customer()
        conn.execute(update(i).where(i.c.customer_id.is_distinct_from(customer)).values(customer_id=customer))
        _count_attached(conn, report)
        _measure_switches(conn, report)
    return report


def _count_attached(conn: Connection, report: TimelineReport) -> None:
    """Interactions, attached ones, and unattached ones whose email several customers hold."""
    i = tables.interactions
    report.interactions, report.attached = conn.execute(select(func.count(), func.count(i.c.customer_id))).one()
    report.unattached = report.interactions - report.attached
    if not report.unattached:
        return
    s = tables.source_identities
    several = _email_holders(func.count(s.c.customer_id.distinct())).scalar_subquery() > 1
    report.ambiguous = conn.execute(
        select(func.count()).where(i.c.customer_id.is_(None), i.c.customer_email.is_not(None), several)
    ).scalar_one()


def _measure_switches(conn: Connection, report: TimelineReport) -> None:
    """Interactions per channel, channel switches along each customer's timeline, and the busiest timeline."""
    i = tables.interactions
    attached = i.c.customer_id.is_not(None)
    for channel, count in conn.execute(select(i.c.channel, func.count()).where(attached).group_by(i.c.channel)):
        report.by_channel[channel] = count
    previous = func.lag(i.c.channel).over(partition_by=i.c.customer_id, order_by=(i.c.occurred_at, i.c.interaction_key))
    steps = select(i.c.channel, previous.label("previous")).where(attached).subquery()
    report.channel_switches = conn.execute(
        select(func.count()).where(and_(steps.c.previous.is_not(None), steps.c.previous != steps.c.channel))
    ).scalar_one()
    per_customer = (
        select(
            i.c.customer_id,
            func.count(i.c.channel.distinct()).label("channels"),
            func.count().label("interactions"),
        )
        .where(attached)
        .group_by(i.c.customer_id)
        .subquery()
    )
    report.customers_with_interactions, report.multichannel_customers = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((per_customer.c.channels > 1, 1), else_=0)), 0))
    ).one()
    busiest = conn.execute(
        select(per_customer.c.customer_id)
        .order_by(per_customer.c.channels.desc(), per_customer.c.interactions.desc(), per_customer.c.customer_id)
        .limit(1)
    ).scalar()
    if busiest is not None:
        report.example = customer_timeline(conn, busiest)


def customer_timeline(conn, customer_id: str) -> list[dict[str, Any]]:
    """One customer's interactions across channels, oldest first."""
    i = tables.interactions
    rows = conn.execute(
        select(
            i.c.occurred_at,
            i.c.channel,
            i.c.kind,
            i.c.source,
            i.c.subject,
            i.c.status,
            i.c.amount,
            i.c.currency,
        )
        .where(i.c.customer_id == customer_id)
        .order_by(i.c.occurred_at, i.c.interaction_key)
    )
    return [
        {
            "customer_id": customer_id,
            "occurred_at": row.occurred_at.isoformat(),
            "channel": row.channel,
            "kind": row.kind,
            "source": row.source,
            "subject": row.subject or "",
            "status": row.status or "",
            "amount": f"{row.amount} {row.currency}" if row.amount is not None else "",
        }
        for row in rows
    ]
