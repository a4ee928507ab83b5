"""Erasure requests: a plan of kind `erase` deletes or anonymises a person in every connected system that
supports it; once applied, the person is purged from the store, leaving only salted hashes.

The plan goes through the publishing flow (`canalis publish show | approve | reject | apply`). Its changes name
source records by id only (`field` erase, new value delete or anonymise); the emails and record ids it will
remember are stored as salted hashes. Applying it calls each connector's `erase`, records every call in the
write audit (by hashed key, without values), purges the store, remembers the hashes and updates the golden
records. A failed vendor call leaves the plan approved: applying it again retries the calls that failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.identity import IdentityConfig
from canalis.identity.persistence import resolve_customers
from canalis.privacy.person import Person, contains, find_person, person_of_records
from canalis.privacy.subjects import erasure_salt, record_ref, subject_hash
from canalis.privacy.tables import erased_subjects, privacy_requests
from canalis.publishing.plan import Change, Plan
from canalis.publishing.plans import (
    PlanError,
    StoredChange,
    StoredPlan,
    check_hash,
    finish_plan,
    load_plan,
    plan_changes,
    store_plan,
)
from canalis.publishing.tables import publish_plan_changes, publish_plans
from canalis.sdk import Connector, ConnectorError
from canalis.store import Store, tables, utcnow
from canalis.store.schema import metadata

KIND = "erase"
PENDING = ("planned", "sending", "failed")
CHUNK = 500
KEPT_TABLES = frozenset({"erased_subjects", "privacy_requests", "write_audit", "publish_plans"})
"""Tables the purge does not delete from: the hashes, the audits (anonymised instead) and plan headers."""


@dataclass
class ErasePlanReport:
    """What planning an erasure found (counts only: nothing personal)."""

    plan_id: str | None
    short_hash: str
    status: str
    per_channel: dict[str, dict[str, int]]
    not_supported: dict[str, int]
    records: int


@dataclass
class EraseReport:
    """What applying an erase plan did."""

    plan_id: str
    status: str
    calls: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    purged: dict[str, int] = field(default_factory=dict)
    hashes: int = 0


def plan_erasure(
    store: Store,
    connectors: Mapping[str, type[Connector]],
    *,
    email: str | None = None,
    customer: str | None = None,
    by: str,
    now: datetime | None = None,
) -> ErasePlanReport:
    """Store an erase plan for the person, proposed for a person to approve. `connectors` maps each connection to
    its connector class, whose `erasure` says what it can erase; records of other connections are counted as not
    supported (the store forgets them all the same)."""
    now = now or datetime.now(UTC)
    salt = erasure_salt(create=True)
    with store.begin() as conn:
        person = find_person(conn, email=email, customer=customer)
        plan = Plan(now=now)
        not_supported: Counter[str] = Counter()
        for source, obj, source_id in person.source_records(conn):
            connector = connectors.get(source)
            mode = connector.erasure.get(obj) if connector is not None else None
            if mode is None:
                not_supported[source] += 1
                continue
            plan.changes.append(Change(source, obj, source_id, "erase", None, mode, "erasure request"))
        first = sorted(person.emails)[0] if person.emails else None
        subject = subject_hash(salt, "email", first) if first else subject_hash(salt, "customer", customer or "")
        if not plan.changes:  # nothing to ask of the channels: the plan carries the purge of the store alone
            plan.changes.append(Change("canalis", "person", subject[:16], "erase", None, "purge", "erasure request"))
        inputs: dict[str, Any] = {
            "subject": subject,
            "record_keys": sorted(person.record_keys),
            "not_supported": dict(sorted(not_supported.items())),
            "now": now.isoformat(),
        }
        stored = store_plan(
            conn, plan, entities=(KIND,), created_by=by, inputs=inputs, auto_approve=False, now=now, kind=KIND
        )
        assert stored is not None  # an erase plan always has a change
        if not _request_exists(conn, stored.plan_id):
            conn.execute(
                sa.insert(privacy_requests).values(
                    request_id=stored.plan_id,
                    kind=KIND,
                    subject_hash=subject,
                    status="planned",
                    systems=stored.counts,
                    requested_by=by,
                    created_at=now,
                )
            )
    return ErasePlanReport(
        plan_id=stored.plan_id,
        short_hash=stored.short_hash,
        status=stored.status,
        per_channel=stored.counts,
        not_supported=dict(not_supported),
        records=len(person.record_keys),
    )


def _request_exists(conn: Connection, request_id: str) -> bool:
    query = sa.select(privacy_requests.c.request_id).where(privacy_requests.c.request_id == request_id)
    return conn.execute(query).first() is not None


def apply_erase_plan(
    store: Store,
    plan_id: str,
    connectors: Mapping[str, Connector],
    *,
    identity: IdentityConfig,
    by: str,
    expected_hash: str | None = None,
    now: datetime | None = None,
) -> EraseReport:
    """Erase the person at every channel of an approved erase plan, then purge them from the store."""
    now = now or datetime.now(UTC)
    with store.engine.connect() as conn:
        plan = load_plan(conn, plan_id)
        check_hash(plan, expected_hash)
        if plan.kind != KIND:
            raise PlanError(f"plan {plan_id} is a {plan.kind} plan, not an erase plan")
        if plan.status == "applied":
            return EraseReport(plan_id=plan_id, status="applied")
        if plan.status != "approved":
            raise PlanError(f"plan {plan_id} is {plan.status}: only an approved erase plan is applied")
        changes = plan_changes(conn, plan_id)
    salt = erasure_salt()
    report = EraseReport(plan_id=plan_id, status="applied")
    for change in changes:
        if change.status not in PENDING:
            report.calls[change.status] += 1
            continue
        status, error = _erase_one(store, plan_id, change, connectors, salt, by)
        report.calls[status] += 1
        if error:
            report.errors.append(f"{change.channel}.{change.entity}: {error}")
    with store.begin() as conn:
        person = person_of_records(conn, set(plan.inputs.get("record_keys", [])))
        forget = {subject_hash(salt, "email", email) for email in person.emails}
        forget |= {subject_hash(salt, "record", record_ref(*ref)) for ref in person.raw_refs(conn)}
        report.purged = purge(conn, person, plan_id)
        report.hashes = remember_hashes(conn, forget, plan_id, now)
    with store.lock("identity"):
        # the engine's saved state still holds the purged records' features: it is dropped, and the golden
        # records and links are resolved again from the stored records (customer ids stay as they were)
        with store.begin() as conn:
            conn.execute(sa.delete(metadata.tables["identity_state"]))
        resolve_customers(store.engine, config=identity, now=now, full=True)
    with store.begin() as conn:
        report.status = "partial" if report.calls["failed"] else "applied"
        _finish(conn, plan, report, by, now)
    return report


def _erase_one(
    store: Store, plan_id: str, change: StoredChange, connectors: Mapping[str, Connector], salt: bytes, by: str
) -> tuple[str, str | None]:
    """Call the channel for one change, announced in the audit before and settled after; (status, error)."""
    c = publish_plan_changes
    where = sa.and_(c.c.plan_id == plan_id, c.c.seq == change.seq)
    hashed = "erased:" + subject_hash(salt, "record", record_ref(change.channel, change.entity, change.record_key))[:32]
    if change.channel == "canalis":
        with store.begin() as conn:
            conn.execute(
                sa.update(c).where(where).values(status="applied", attempts=change.attempts + 1, updated_at=utcnow())
            )
        return "applied", None
    with store.begin() as conn:
        conn.execute(sa.update(c).where(where).values(status="sending", attempts=change.attempts + 1))
        audit = conn.execute(
            sa.insert(tables.write_audit).values(
                run_id=by[:64],
                channel=change.channel,
                entity_type=change.entity,
                entity_key=hashed,
                field="erase",
                new_value=change.new_value,
                status="planned",
                idempotency_key=change.idempotency_key,
                created_at=utcnow(),
            )
        ).inserted_primary_key[0]
    connector = connectors.get(change.channel)
    error: str | None = None
    if connector is None:
        status, error = "failed", f"connection '{change.channel}' is not configured or not enabled"
    else:
        try:
            result = connector.erase(change.entity, change.record_key)
            status, error = result.status, result.error
        except ConnectorError as failure:
            status, error = "failed", str(failure)
    status = "applied" if status == "unchanged" else status  # already erased at the source: done
    with store.begin() as conn:
        conn.execute(sa.update(c).where(where).values(status=status, error=error, updated_at=utcnow()))
        conn.execute(
            sa.update(tables.write_audit)
            .where(tables.write_audit.c.audit_id == audit)
            .values(status=status, error=error)
        )
    return status, error


def remember_hashes(conn: Connection, hashes: set[str], request_id: str, now: datetime) -> int:
    """Store the hashes that keep the person from coming back; how many were new."""
    known = (
        set(
            conn.execute(sa.select(erased_subjects.c.subject_hash).where(erased_subjects.c.subject_hash.in_(hashes)))
            .scalars()
            .all()
        )
        if hashes
        else set()
    )
    rows = [
        {"subject_hash": digest, "kind": "identifier", "request_id": request_id, "erased_at": now}
        for digest in sorted(hashes - known)
    ]
    if rows:
        conn.execute(sa.insert(erased_subjects), rows)
    return len(rows)


def _finish(conn: Connection, plan: StoredPlan, report: EraseReport, by: str, now: datetime) -> None:
    """Record the outcome: the plan applied (its record ids replaced by hashes) unless a call failed."""
    systems: dict[str, Counter[str]] = {}
    for change in plan_changes(conn, plan.plan_id):
        systems.setdefault(change.channel, Counter())[change.status] += 1
    for channel, count in plan.inputs.get("not_supported", {}).items():
        systems.setdefault(channel, Counter())["not supported"] += count
    conn.execute(
        sa.update(privacy_requests)
        .where(privacy_requests.c.request_id == plan.plan_id)
        .values(
            status=report.status,
            systems={channel: dict(counts) for channel, counts in sorted(systems.items())},
            purged=report.purged,
            finished_at=now,
        )
    )
    if report.status != "applied":
        return
    finish_plan(conn, plan.plan_id, by, f"erased; {sum(report.purged.values())} store rows purged", now=now)
    c = publish_plan_changes
    for change in plan_changes(conn, plan.plan_id):
        hashed = "erased:" + erasure_key(change.channel, change.entity, change.record_key)
        conn.execute(sa.update(c).where(c.c.plan_id == plan.plan_id, c.c.seq == change.seq).values(record_key=hashed))
    inputs = {key: value for key, value in plan.inputs.items() if key != "record_keys"}
    inputs["records"] = len(plan.inputs.get("record_keys", []))
    conn.execute(sa.update(publish_plans).where(publish_plans.c.plan_id == plan.plan_id).values(inputs=inputs))


def erasure_key(channel: str, entity: str, source_id: str) -> str:
    """The hashed name of an erased record in plans and audits."""
    return subject_hash(erasure_salt(), "record", record_ref(channel, entity, source_id))[:32]


# --- purging the store -------------------------------------------------------------------------------------


def purge(conn: Connection, person: Person, plan_id: str) -> dict[str, int]:
    """Delete every row of the store that holds the person; rows removed per table."""
    t = tables
    removed: Counter[str] = Counter()
    refs = person.raw_refs(conn)
    by_stream: dict[tuple[str, str], list[str]] = {}
    for source, stream, record_id in refs:
        by_stream.setdefault((source, stream), []).append(record_id)
    for table, id_column in (
        (t.raw_records, "record_id"),
        (t.quarantine, "record_id"),
        (t.source_deletions, "record_id"),
    ):
        stream_column = table.c.stream
        for (source, stream), ids in sorted(by_stream.items()):
            removed[table.name] += _delete_in(
                conn, table, table.c[id_column], ids, table.c.source == source, stream_column == stream
            )
    keys, ids = person.record_keys, person.customer_ids
    for table, column in (
        (t.contact_points, "record_key"),
        (t.consents, "record_key"),
        (t.customer_records, "record_key"),
        (t.source_identities, "record_key"),
        (t.order_lines, "order_key"),
    ):
        values = person.order_keys if column == "order_key" else keys
        removed[table.name] += _delete_in(conn, table, table.c[column], values)
    removed["orders"] += _delete_in(conn, t.orders, t.orders.c.order_key, person.order_keys)
    removed["interactions"] += _delete_in(
        conn, t.interactions, t.interactions.c.interaction_key, person.interaction_keys
    )
    removed["customers"] += _delete_in(conn, t.customers, t.customers.c.customer_id, ids)
    identity = metadata.tables
    for name, columns in (
        ("identity_records", ("record_key",)),
        ("identity_links", ("record_a", "record_b")),
        ("identity_overrides", ("record_a", "record_b")),
        ("identity_proposed_merges", ("record_a", "record_b")),
    ):
        for column in columns:
            removed[name] += _delete_in(conn, identity[name], identity[name].c[column], keys)
    for name, columns in (
        ("identity_customer_ids", ("customer_id",)),
        ("identity_id_events", ("customer_id", "other_id")),
        ("consent_pauses", ("customer_id",)),
        ("timeline_customers", ("customer_id",)),
    ):
        for column in columns:
            removed[name] += _delete_in(conn, identity[name], identity[name].c[column], ids)
    for name, count in _sweep(conn, person, plan_id).items():
        removed[name] += count
    return {name: count for name, count in sorted(removed.items()) if count}


def _delete_in(conn: Connection, table: sa.Table, column: sa.Column, values: set[str] | list[str], *where: Any) -> int:
    ordered = sorted(values)
    count = 0
    for start in range(0, len(ordered), CHUNK):
        statement = sa.delete(table).where(column.in_(ordered[start : start + CHUNK]), *where)
        count += conn.execute(statement).rowcount or 0
    return count


def _text_columns(table: sa.Table) -> list[sa.Column]:
    from canalis.store.types import JSONDoc

    return [column for column in table.columns if isinstance(column.type, sa.String | sa.Text | JSONDoc)]


def _sweep(conn: Connection, person: Person, plan_id: str) -> Counter[str]:
    """Delete any row left anywhere that still holds one of the person's emails or phone numbers (plans, checks,
    notes...); in the write audit the values are blanked instead, so the audit keeps every write."""
    removed: Counter[str] = Counter()
    values = sorted(person.emails | person.phones)
    if not values:
        return removed
    for table in metadata.sorted_tables:
        if table.name in KEPT_TABLES:
            continue
        columns = _text_columns(table)
        if not columns:
            continue
        condition = sa.or_(*(contains(column, value) for column in columns for value in values))
        if table.name == "publish_plan_changes":
            condition = sa.and_(condition, table.c.plan_id != plan_id)
        removed[table.name] += conn.execute(sa.delete(table).where(condition)).rowcount or 0
    audit = tables.write_audit
    condition = sa.or_(
        *(
            contains(audit.c[name], value)
            for name in ("entity_key", "old_value", "new_value", "error")
            for value in values
        )
    )
    removed["write_audit (blanked)"] += (
        conn.execute(
            sa.update(audit).where(condition).values(entity_key="erased", old_value=None, new_value=None, error=None)
        ).rowcount
        or 0
    )
    return removed
