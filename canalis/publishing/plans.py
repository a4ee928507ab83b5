"""Stored publish plans: proposed by a sync, approved or rejected by a person or the policy, applied exactly.

A plan's lifecycle: proposed -> approved -> applied, or superseded (a newer plan replaced it), rejected, expired
(too old, or the channel moved under it). A plan is never recomputed once stored: the apply writes exactly its
changes, and its content hash lets an approval name the very plan it approves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.publishing import consent_scope
from canalis.publishing.plan import ENTITIES, Change, Plan, build_plan, display, last_written
from canalis.publishing.policy import PublishConfig
from canalis.publishing.tables import publish_plan_changes, publish_plan_records, publish_plans
from canalis.sdk.errors import CanalisError
from canalis.store import tables

OPEN = ("proposed", "approved")
POLICY = "policy"


class PlanError(CanalisError):
    """A plan cannot do what was asked: unknown, in the wrong status, or not the plan that was reviewed."""


@dataclass(frozen=True)
class StoredPlan:
    """A plan as stored: its identity, status and summary (its changes are read with `plan_changes`)."""

    plan_id: str
    kind: str
    content_hash: str
    status: str
    status_reason: str | None
    entities: list[str]
    counts: dict[str, dict[str, int]]
    changes: int
    records: int
    inputs: dict[str, Any]
    created_at: datetime
    created_by: str
    decided_at: datetime | None
    decided_by: str | None
    applied_at: datetime | None
    applied_by: str | None
    superseded_by: str | None

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


@dataclass(frozen=True)
class StoredChange:
    """One field change of a stored plan, with what became of it."""

    seq: int
    channel: str
    entity: str
    record_key: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    status: str
    attempts: int
    error: str | None
    idempotency_key: str
    verified: bool | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.channel, self.entity, self.record_key, self.field)


# --- values ----------------------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A record value as JSON that keeps its type (decimals and timestamps are tagged)."""
    if isinstance(value, Decimal):
        return {"$decimal": format(value, "f")}
    if isinstance(value, datetime):
        return {"$datetime": value.astimezone(UTC).isoformat()}
    return value


def decode_value(value: Any) -> Any:
    """The value `encode_value` stored."""
    if isinstance(value, dict) and len(value) == 1:
        if "$decimal" in value:
            return Decimal(value["$decimal"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
    return value


def encode_record(record: dict[str, Any]) -> dict[str, Any]:
    return {name: encode_value(value) for name, value in record.items()}


def decode_record(record: dict[str, Any]) -> dict[str, Any]:
    return {name: decode_value(value) for name, value in record.items()}


def content_hash(plan: Plan) -> str:
    """A digest of a plan's changes and records, in their stable order: equal plans have equal hashes."""
    body = {
        "changes": [[c.channel, c.entity, c.key, c.field, display(c.old), display(c.new)] for c in plan.changes],
        "records": [[*key, encode_record(record)] for key, record in plan.records.items()],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def change_idempotency_key(plan_id: str, change: Change | StoredChange) -> str:
    """The idempotency key of one change of one plan: the same on every attempt to apply it."""
    key = change.key if isinstance(change, Change) else change.record_key
    body = f"{plan_id}|{change.channel}|{change.entity}|{key}|{change.field}"
    return hashlib.sha256(body.encode()).hexdigest()[:40]


# --- storing and reading ---------------------------------------------------------------------------------


def store_plan(
    conn: Connection,
    plan: Plan,
    *,
    entities: tuple[str, ...],
    created_by: str,
    inputs: dict[str, Any],
    auto_approve: bool,
    now: datetime | None = None,
    kind: str = "publish",
) -> StoredPlan | None:
    """Store a freshly computed plan; the open plan with the same content is kept as it is (approval included).

    Any other open plan is superseded: it was computed from an older state of the store. An empty plan stores
    nothing and supersedes the open ones. Only plans of the same kind supersede each other: an erase plan and a
    publish plan are independent.
    """
    now = now or datetime.now(UTC)
    digest = content_hash(plan)
    p = publish_plans
    open_plans = conn.execute(
        sa.select(p.c.plan_id, p.c.content_hash).where(p.c.status.in_(OPEN), p.c.kind == kind).order_by(p.c.created_at)
    ).all()
    same = next((row.plan_id for row in open_plans if row.content_hash == digest), None) if plan.changes else None
    if same is not None:
        _supersede(conn, [row.plan_id for row in open_plans if row.plan_id != same], same, now)
        return load_plan(conn, same)
    prefix = "plan" if kind == "publish" else kind
    plan_id = f"{prefix}-{now:%Y%m%d-%H%M%S}-{digest[:6]}" if plan.changes else None
    _supersede(conn, [row.plan_id for row in open_plans], plan_id, now)
    if plan_id is None:
        return None
    counts = {channel: dict(sorted(counter.items())) for channel, counter in sorted(plan.counts().items())}
    conn.execute(
        sa.insert(p).values(
            plan_id=plan_id,
            kind=kind,
            content_hash=digest,
            status="approved" if auto_approve else "proposed",
            entities=list(entities),
            counts=counts,
            changes=len(plan.changes),
            records=len(plan.records),
            inputs=inputs,
            created_at=now,
            created_by=created_by,
            decided_at=now if auto_approve else None,
            decided_by=POLICY if auto_approve else None,
        )
    )
    conn.execute(
        sa.insert(publish_plan_changes),
        [
            {
                "plan_id": plan_id,
                "seq": seq,
                "channel": change.channel,
                "entity": change.entity,
                "record_key": change.key,
                "field": change.field,
                "old_value": display(change.old),
                "new_value": display(change.new),
                "reason": change.reason,
                "status": "planned",
                "attempts": 0,
                "idempotency_key": change_idempotency_key(plan_id, change),
                "updated_at": now,
            }
            for seq, change in enumerate(plan.changes)
        ],
    )
    if not plan.records:  # an erase plan writes no record: its changes are calls
        return load_plan(conn, plan_id)
    conn.execute(
        sa.insert(publish_plan_records),
        [
            {"plan_id": plan_id, "channel": c, "entity": e, "record_key": k, "record": encode_record(record)}
            for (c, e, k), record in plan.records.items()
        ],
    )
    return load_plan(conn, plan_id)


def _supersede(conn: Connection, plan_ids: list[str], by: str | None, now: datetime) -> None:
    if not plan_ids:
        return
    reason = f"replaced by {by}" if by else "a newer plan found nothing left to change"
    p = publish_plans
    conn.execute(
        sa.update(p)
        .where(p.c.plan_id.in_(plan_ids), p.c.status.in_(OPEN))
        .values(status="superseded", status_reason=reason, superseded_by=by, decided_at=now)
    )


def load_plan(conn: Connection, plan_id: str) -> StoredPlan:
    """A stored plan by id; PlanError when there is none."""
    row = conn.execute(sa.select(publish_plans).where(publish_plans.c.plan_id == plan_id)).first()
    if row is None:
        raise PlanError(f"no publish plan '{plan_id}' (list them with `canalis publish list`)")
    return _plan(row)


def _plan(row: Any) -> StoredPlan:
    return StoredPlan(**{column.name: row._mapping[column.name] for column in publish_plans.columns})


def list_plans(
    conn: Connection, *, limit: int = 20, status: str | None = None, kind: str | None = None
) -> list[StoredPlan]:
    """The newest plans first (of one kind when given)."""
    query = sa.select(publish_plans).order_by(publish_plans.c.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(publish_plans.c.status == status)
    if kind is not None:
        query = query.where(publish_plans.c.kind == kind)
    return [_plan(row) for row in conn.execute(query)]


def latest_plan(conn: Connection, status: str, kind: str = "publish") -> StoredPlan | None:
    """The newest plan of a kind in a status."""
    found = list_plans(conn, limit=1, status=status, kind=kind)
    return found[0] if found else None


def plan_changes(conn: Connection, plan_id: str) -> list[StoredChange]:
    """A plan's changes in plan order."""
    c = publish_plan_changes
    rows = conn.execute(sa.select(c).where(c.c.plan_id == plan_id).order_by(c.c.seq))
    return [StoredChange(**{name: row._mapping[name] for name in StoredChange.__dataclass_fields__}) for row in rows]


def plan_records(conn: Connection, plan_id: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The records a plan writes, by (channel, entity, key), with their values typed again."""
    r = publish_plan_records
    rows = conn.execute(sa.select(r).where(r.c.plan_id == plan_id))
    return {(row.channel, row.entity, row.record_key): decode_record(row.record) for row in rows}


# --- decisions -------------------------------------------------------------------------------------------


def approve_plan(
    conn: Connection, plan_id: str, by: str, *, expected_hash: str | None = None, now: datetime | None = None
) -> StoredPlan:
    """Approve a proposed plan; with `expected_hash` (the hash the reviewer saw), only if it is that plan."""
    plan = load_plan(conn, plan_id)
    check_hash(plan, expected_hash)
    if plan.status == "approved":
        return plan
    if plan.status != "proposed":
        raise PlanError(f"plan {plan_id} is {plan.status}{_why(plan)}; only a proposed plan can be approved")
    _decide(conn, plan_id, "approved", by, None, now)
    return load_plan(conn, plan_id)


def reject_plan(conn: Connection, plan_id: str, by: str, reason: str, *, now: datetime | None = None) -> StoredPlan:
    """Reject an open plan: it will never be applied."""
    plan = load_plan(conn, plan_id)
    if plan.status not in OPEN:
        raise PlanError(
            f"plan {plan_id} is {plan.status}{_why(plan)}; only a proposed or approved plan can be rejected"
        )
    _decide(conn, plan_id, "rejected", by, reason, now)
    return load_plan(conn, plan_id)


def expire_plan(conn: Connection, plan_id: str, reason: str, *, now: datetime | None = None) -> None:
    """Retire an open plan that may no longer be applied (too old, or the channels moved under it)."""
    p = publish_plans
    conn.execute(
        sa.update(p)
        .where(p.c.plan_id == plan_id, p.c.status.in_(OPEN))
        .values(status="expired", status_reason=reason, decided_at=now or datetime.now(UTC))
    )


def finish_plan(conn: Connection, plan_id: str, run: str, note: str | None, *, now: datetime | None = None) -> None:
    """Record that an apply of the plan ended with every change settled."""
    p = publish_plans
    conn.execute(
        sa.update(p)
        .where(p.c.plan_id == plan_id)
        .values(status="applied", status_reason=note, applied_at=now or datetime.now(UTC), applied_by=run)
    )


def check_hash(plan: StoredPlan, expected_hash: str | None) -> None:
    """PlanError unless the plan's content hash starts with the one given (the reviewer's; 12 characters do)."""
    if expected_hash is None:
        return
    if len(expected_hash) < 8 or not plan.content_hash.startswith(expected_hash.lower()):
        raise PlanError(
            f"plan {plan.plan_id} has content hash {plan.short_hash}, not {expected_hash}: "
            "it is not the plan that was reviewed"
        )


def _decide(conn: Connection, plan_id: str, status: str, by: str, reason: str | None, now: datetime | None) -> None:
    p = publish_plans
    conn.execute(
        sa.update(p)
        .where(p.c.plan_id == plan_id)
        .values(status=status, decided_by=by, decided_at=now or datetime.now(UTC), status_reason=reason)
    )


def _why(plan: StoredPlan) -> str:
    return f" ({plan.status_reason})" if plan.status_reason else ""


def propose_plan(
    conn: Connection,
    config: PublishConfig,
    *,
    created_by: str,
    now: datetime | None = None,
    entities: tuple[str, ...] = ENTITIES,
    incremental: bool = False,
) -> tuple[Plan, StoredPlan | None]:
    """Compute the plan from the store, store it (approved at once when the policy approves) and return both.

    With `incremental`, consents are worked out again only for the customers whose data changed since the last
    plan, the others keeping the last plan's consent changes (see `canalis.publishing.consent_scope`); the first
    plan, and any plan after the publish settings changed, is full.
    """
    now = now or datetime.now(UTC)
    with_consents = "consents" in entities
    mark = consent_scope.high_water_mark(conn) if with_consents else None
    written = last_written(conn)
    pairs = consent_scope.consent_pairs(conn) if with_consents else []
    scope = (
        consent_scope.build_consent_scope(conn, config, pairs, written.read_at)
        if incremental and with_consents
        else None
    )
    try:
        plan = build_plan(conn, config, now, entities, written=written, consent_scope=scope)
    finally:
        if scope is not None:
            consent_scope.drop_scope(conn)
    batches = tables.load_batches
    position = conn.execute(sa.select(sa.func.max(batches.c.batch_id))).scalar()
    read_at = {channel: moment.isoformat() for channel, moment in sorted(written.read_at.items())}
    inputs = {"now": now.isoformat(), "store_position": position, "read_at": read_at}
    stored = store_plan(
        conn,
        plan,
        entities=entities,
        created_by=created_by,
        inputs=inputs,
        auto_approve=config.auto_approve,
        now=now,
    )
    if with_consents:
        oldest = consent_scope.oldest_read(written.read_at, sorted(config.channels_publishing("consents")))
        cursor = {
            "high_water_mark": mark.isoformat() if mark else None,
            "plan_id": stored.plan_id if stored is not None else None,
            "settings": consent_scope.settings_fingerprint(config),
            "pairs": [list(pair) for pair in pairs],
            "oldest_read": oldest.isoformat() if oldest else None,
        }
        consent_scope.save_state(conn, cursor, now)
    return plan, stored
