"""Settle writes whose outcome was never recorded: the write-ahead `sending` audit rows left by a run that died
(or lost the vendor's answer) between announcing a write and recording its result.

Every vendor call is announced in the write audit by a `sending` row per change before it is made, and followed by
one outcome row once the answer is in. A `sending` row with no outcome after it is a write the vendor may or may
not have received. On the next apply, each one is read back from its channel (`observation.observe`) and settled:

- `applied`: the channel shows the value the write set (the vendor received it; its answer was lost);
- `not applied`: the channel still shows the value the plan saw (the write never landed; the apply sends it again);
- `unknown`: the channel shows something else, or cannot be read: nobody can tell, a person should look.

So the audit names every write a vendor may have received, and says what became of it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from canalis.mappings.declarative.engine import Mapper
from canalis.publishing.audit import audit_row
from canalis.publishing.observation import FieldKey, observe
from canalis.publishing.plan import DAY_FIELDS, PRICE_FIELDS, display, same
from canalis.publishing.plans import StoredChange, plan_records
from canalis.publishing.policy import PublishConfig
from canalis.publishing.tables import publish_plan_changes
from canalis.sdk import Connector
from canalis.store import Store, tables

SENDING = "sending"
APPLIED = "applied"
NOT_APPLIED = "not applied"
UNKNOWN = "unknown"
OUTCOMES = (APPLIED, NOT_APPLIED, UNKNOWN)

log = logging.getLogger(__name__)


def unresolved_keys(conn: sa.Connection, idempotency_keys: Iterable[str] | None = None) -> set[str]:
    """Idempotency keys of changes whose last audit row is `sending`: announced, outcome never recorded."""
    a = tables.write_audit
    last = sa.select(a.c.idempotency_key, sa.func.max(a.c.audit_id).label("audit_id")).where(
        a.c.idempotency_key.is_not(None)
    )
    if idempotency_keys is not None:
        wanted = sorted(set(idempotency_keys))
        if not wanted:
            return set()
        last = last.where(a.c.idempotency_key.in_(wanted))
    latest = last.group_by(a.c.idempotency_key).subquery()
    query = sa.select(a.c.idempotency_key).join(latest, latest.c.audit_id == a.c.audit_id).where(a.c.status == SENDING)
    return {row[0] for row in conn.execute(query)}


def outcome(field_name: str, current: Any, old: str | None, wanted: Any, tolerance: Decimal) -> str:
    """What a channel's current value says about a write of `wanted` over `old` (see the module's description)."""
    if same(field_name, current, wanted, tolerance):
        return APPLIED
    if shows(field_name, current, old, tolerance):
        return NOT_APPLIED
    return UNKNOWN


def shows(field_name: str, current: Any, text: str | None, tolerance: Decimal) -> bool:
    """Whether a channel's current value is the one a plan stored as text."""
    if text is None or current is None:
        return text is None and current is None
    if isinstance(current, Decimal):
        try:
            return abs(current - Decimal(text)) <= tolerance
        except InvalidOperation:
            return False
    if field_name in DAY_FIELDS and isinstance(current, datetime):
        return display(current)[:10] == text[:10]
    return display(current) == text


def reconcile_sent(
    store: Store,
    config: PublishConfig,
    connectors: Mapping[str, Connector],
    mappers: Mapping[str, Mapper],
    *,
    run_id: str | None,
    now: datetime | None = None,
) -> Counter[str]:
    """Read back and settle every unresolved write of the channels given; how many ended in each outcome.

    A change settled `applied` is marked applied in its plan (an apply does not send it again), one `not applied`
    is planned again (an apply of its plan sends it); one `unknown` keeps its plan status, so applying its plan
    refuses it as moved. Channels without a connector here stay unresolved until a run has one.
    """
    now = now or datetime.now(UTC)
    c = publish_plan_changes
    with store.engine.connect() as conn:
        keys = unresolved_keys(conn)
        if not keys:
            return Counter()
        rows = conn.execute(
            sa.select(c).where(c.c.idempotency_key.in_(sorted(keys)), c.c.channel.in_(sorted(connectors)))
        ).all()
        changes: dict[str, list[StoredChange]] = {}
        for row in rows:
            changes.setdefault(row.plan_id, []).append(
                StoredChange(**{name: row._mapping[name] for name in StoredChange.__dataclass_fields__})
            )
        records = {plan_id: plan_records(conn, plan_id) for plan_id in changes}
    if not changes:
        return Counter()
    wanted: set[FieldKey] = {change.key for group in changes.values() for change in group}
    readable = True
    try:
        observed = observe(store, config, wanted, connectors, mappers, now)
        note = "read back on a later run: the outcome of this write was never recorded"
    except Exception as error:  # a channel that cannot be read now: the outcome stays unknown, saying why
        log.warning("reading back %d unsettled write(s) failed (%s)", len(wanted), type(error).__name__)
        readable, observed = False, {}
        note = f"read back on a later run failed ({type(error).__name__}): the outcome cannot be told"
    counts: Counter[str] = Counter()
    audit = []
    with store.begin() as conn:
        for plan_id, group in changes.items():
            for change in group:
                record = records[plan_id].get((change.channel, change.entity, change.record_key), {})
                tolerance = config.price_tolerance if change.field in PRICE_FIELDS else Decimal(0)
                status = (
                    outcome(
                        change.field, observed.get(change.key), change.old_value, record.get(change.field), tolerance
                    )
                    if readable
                    else UNKNOWN
                )
                counts[status] += 1
                audit.append(audit_row(change, status, run_id, now, note=note))
                plan_status = {APPLIED: "applied", NOT_APPLIED: "planned"}.get(status)
                if plan_status is not None and change.status == SENDING:
                    conn.execute(
                        sa.update(c)
                        .where(c.c.plan_id == plan_id, c.c.seq == change.seq)
                        .values(status=plan_status, updated_at=now)
                    )
        conn.execute(sa.insert(tables.write_audit), audit)
    log.info("unsettled writes read back: %s", ", ".join(f"{count} {status}" for status, count in counts.items()))
    return counts


def unresolved_channels(store: Store) -> set[str]:
    """Channels with a write whose outcome was never recorded."""
    with store.engine.connect() as conn:
        keys = unresolved_keys(conn)
        if not keys:
            return set()
        c = publish_plan_changes
        return set(conn.execute(sa.select(c.c.channel).where(c.c.idempotency_key.in_(sorted(keys)))).scalars())
