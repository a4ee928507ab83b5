"""The cross-channel timeline: every interaction attached to its unified customer, in time order."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

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


def attach_interactions(store: Store) -> TimelineReport:
    """Set `customer_id` on every interaction from its source record, or from its email when that is all it has."""
    i, s, cp = tables.interactions, tables.source_identities, tables.contact_points
    report = TimelineReport()
    with store.begin() as conn:
        record_customer = dict(conn.execute(select(s.c.record_key, s.c.customer_id)).all())
        email_customers: dict[str, set[str]] = defaultdict(set)
        for value, key in conn.execute(
            select(cp.c.value, cp.c.record_key).where(cp.c.kind == "email", cp.c.is_valid.is_(True))
        ):
            if key in record_customer:
                email_customers[value].add(record_customer[key])
        changes: dict[str, str | None] = {}
        for key, record_key, email, current in conn.execute(
            select(i.c.interaction_key, i.c.customer_record_key, i.c.customer_email, i.c.customer_id)
        ):
            report.interactions += 1
            customer = record_customer.get(record_key) if record_key else None
            if customer is None and email:
                candidates = email_customers.get(email, set())
                if len(candidates) == 1:
                    customer = next(iter(candidates))
                elif len(candidates) > 1:
                    report.ambiguous += 1
            if customer is None:
                report.unattached += 1
            else:
                report.attached += 1
            if customer != current:
                changes[key] = customer
        for key, customer in changes.items():
            conn.execute(update(i).where(i.c.interaction_key == key).values(customer_id=customer))
        _measure_switches(conn, report)
    return report


def _measure_switches(conn, report: TimelineReport) -> None:
    i = tables.interactions
    last: dict[str, str] = {}
    channels: dict[str, set[str]] = defaultdict(set)
    counts: Counter = Counter()
    rows = conn.execute(
        select(i.c.customer_id, i.c.channel, i.c.occurred_at)
        .where(i.c.customer_id.is_not(None))
        .order_by(i.c.customer_id, i.c.occurred_at, i.c.interaction_key)
    )
    for customer, channel, _ in rows:
        report.by_channel[channel] += 1
        counts[customer] += 1
        if customer in last and last[customer] != channel:
            report.channel_switches += 1
        last[customer] = channel
        channels[customer].add(channel)
    report.customers_with_interactions = len(channels)
    report.multichannel_customers = sum(1 for seen in channels.values() if len(seen) > 1)
    if counts:
        busiest = max(sorted(counts), key=lambda customer: (len(channels[customer]), counts[customer]))
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
