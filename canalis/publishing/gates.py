"""The gates a plan passes before the publish job writes it: quarantine, open critical inconsistencies, and the
circuit breaker against a plan that would rewrite too much of a channel at once (a bad system-of-record load)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.consistency.tables import inconsistencies
from canalis.publishing.plans import StoredPlan
from canalis.publishing.policy import PublishConfig
from canalis.store import tables

BREAKER_ENTITIES = {"prices": tables.prices, "stock_levels": tables.stock_levels}


@dataclass
class GateResult:
    """Whether a gate lets the plan through, why, and the figures behind it (no personal values)."""

    passed: bool
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


def quarantine_gate(conn: Connection, plan: StoredPlan, config: PublishConfig) -> GateResult:
    """Open quarantine entries of the plan's channels and systems of record, against the records they landed."""
    sources = sorted(set(plan.counts) | set(config.systems_of_record.values()))
    q, raw = tables.quarantine, tables.raw_records
    held = dict(
        conn.execute(
            sa.select(q.c.source, sa.func.count())
            .where(q.c.source.in_(sources), tables.quarantine_open(), q.c.stage != "write")
            .group_by(q.c.source)
        ).all()
    )
    landed = dict(
        conn.execute(
            sa.select(raw.c.source, sa.func.count()).where(raw.c.source.in_(sources)).group_by(raw.c.source)
        ).all()
    )
    total_held, total = sum(held.values()), sum(landed.values()) + sum(held.values())
    share = total_held / total if total else 0.0
    limit = config.gates.max_quarantine_share
    rows = [{"source": s, "quarantined": held.get(s, 0), "landed": landed.get(s, 0)} for s in sources]
    return GateResult(
        passed=share <= limit,
        summary=f"{total_held} of {total} records held in quarantine ({share:.1%}, limit {limit:.0%})",
        figures={"quarantined": total_held, "records": total, "share": round(share, 4), "limit": limit},
        rows=rows,
    )


def inconsistency_gate(conn: Connection, config: PublishConfig) -> GateResult:
    """Open inconsistencies of severity error per rule, against each rule's limit."""
    i = inconsistencies
    counts = Counter(
        dict(
            conn.execute(
                sa.select(i.c.code, sa.func.count())
                .where(i.c.status == "open", i.c.severity == "error")
                .group_by(i.c.code)
            ).all()
        )
    )
    gates = config.gates
    rows = [
        {"rule": code, "open": count, "limit": gates.max_open.get(code, gates.max_open_errors)}
        for code, count in sorted(counts.items())
    ]
    over = [row for row in rows if row["open"] > row["limit"]]
    summary = (
        "open errors within limits"
        if not over
        else "too many open errors: " + ", ".join(f"{row['rule']} {row['open']} > {row['limit']}" for row in over)
    )
    return GateResult(passed=not over, summary=summary, figures={"open_errors": sum(counts.values())}, rows=rows)


def circuit_breaker(conn: Connection, plan: StoredPlan, config: PublishConfig) -> GateResult:
    """The share of each channel's prices and stock levels the plan changes, against the channel's limit."""
    rows = []
    for channel, counts in sorted(plan.counts.items()):
        for entity, table in BREAKER_ENTITIES.items():
            if entity not in counts:
                continue
            held = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.source == channel))
            records = int(held.scalar_one())
            changed = _changed_records(conn, plan.plan_id, channel, entity)
            share = changed / records if records else 1.0
            limit = config.change_share_limit(channel)
            checked = records >= config.gates.min_records
            rows.append(
                {
                    "channel": channel,
                    "entity": entity,
                    "changed": changed,
                    "held": records,
                    "share": round(share, 4),
                    "limit": limit,
                    "tripped": checked and share > limit,
                }
            )
    tripped = [row for row in rows if row["tripped"]]
    summary = (
        "no channel changes more than its limit at once"
        if not tripped
        else "circuit breaker tripped: "
        + ", ".join(f"{r['channel']} {r['entity']} {r['changed']}/{r['held']} > {r['limit']:.0%}" for r in tripped)
    )
    return GateResult(passed=not tripped, summary=summary, figures={"tripped": len(tripped)}, rows=rows)


def _changed_records(conn: Connection, plan_id: str, channel: str, entity: str) -> int:
    from canalis.publishing.tables import publish_plan_records

    r = publish_plan_records
    query = sa.select(sa.func.count()).where(r.c.plan_id == plan_id, r.c.channel == channel, r.c.entity == entity)
    return int(conn.execute(query).scalar_one())
