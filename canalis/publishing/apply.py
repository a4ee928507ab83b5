"""Apply a stored, approved plan: exactly its changes, in vendor-sized batches, each announced before it is sent.

Before writing, every pending change is compared with what its channel shows now (`observation.observe`): a
value already at the plan's new one is not sent again (so an apply cut short by a crash and run again writes
nothing twice), a value still at the plan's old one is written, and any other value means the channel moved
under the plan: the plan is expired, naming what moved, and nothing is written. Each batch is marked `sending`
with an intent row in the audit before the vendor call, and its outcome recorded after it; a transient failure
(a dropped answer, a 5xx or throttling after the retries: the vendor may have applied the write) is recorded
`unknown` and settled by reading back on the next apply. Announced writes a dead run never settled are read back first
(`reconcile.reconcile_sent`). Afterwards the written fields are read back the same way and marked verified or not.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from canalis.mappings.declarative.engine import Mapper
from canalis.publishing.audit import audit_row
from canalis.publishing.observation import FieldKey, observe
from canalis.publishing.plan import PRICE_FIELDS, display, same
from canalis.publishing.plans import (
    PlanError,
    StoredChange,
    StoredPlan,
    check_hash,
    expire_plan,
    finish_plan,
    load_plan,
    plan_changes,
    plan_records,
)
from canalis.publishing.policy import PublishConfig
from canalis.publishing.reconcile import UNKNOWN, reconcile_sent, shows
from canalis.publishing.suppression import remember_pause
from canalis.publishing.tables import publish_plan_changes
from canalis.sdk import Connector, ConnectorError, WriteResult
from canalis.store import QuarantinedRecord, Store, tables

PENDING = ("planned", "sending", "deferred")
MOVED_SHOWN = 10


class PlanMoved(PlanError):
    """A channel changed a value the plan was about to set since the plan was made: the plan is not applied."""

    def __init__(self, plan_id: str, moved: list[str]) -> None:
        shown = "; ".join(moved[:MOVED_SHOWN]) + (f"; and {len(moved) - MOVED_SHOWN} more" if len(moved) > 10 else "")
        super().__init__(
            f"plan {plan_id} was not applied: {len(moved)} value(s) changed in the channels since it was made "
            f"({shown}). The plan is expired; the next sync plans again from what the channels show now."
        )
        self.moved = moved


@dataclass
class GroupReport:
    """What one channel's write stream did."""

    channel: str
    entity: str
    records: int = 0
    changes: int = 0
    batch_size: int = 1
    write_calls: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def minimum_calls(self) -> int:
        """The fewest write calls the changed records could take at the vendor's batch size."""
        return math.ceil(self.records / self.batch_size) if self.records else 0


@dataclass
class ApplyReport:
    """What applying a plan did: changes per status, write calls against the minimum, and the verification."""

    plan_id: str
    run_id: str | None
    status: str = "applied"
    groups: list[GroupReport] = field(default_factory=list)
    already_there: int = 0
    audit_rows: int = 0
    quarantined: int = 0
    retryable_failures: int = 0
    errors: list[str] = field(default_factory=list)
    not_stuck: list[StoredChange] = field(default_factory=list)
    verified: bool | None = None

    @property
    def planned(self) -> int:
        return sum(group.changes for group in self.groups)

    def count(self, status: str) -> int:
        """Changes that ended with a status (applied, unchanged, failed, deferred, skipped)."""
        return sum(group.statuses[status] for group in self.groups)

    @property
    def write_calls(self) -> int:
        return sum(group.write_calls for group in self.groups)

    @property
    def minimum_calls(self) -> int:
        return sum(group.minimum_calls for group in self.groups)


def batch_size(connector: Connector, stream: str) -> int:
    """The vendor's largest write batch for a stream, as the connector declares it (`write_batch_size`)."""
    try:
        return max(1, int(connector.write_batch_size(stream)))
    except ConnectorError:
        return 1


def apply_stored_plan(
    store: Store,
    config: PublishConfig,
    plan_id: str,
    connectors: Mapping[str, Connector],
    mappers: Mapping[str, Mapper],
    *,
    run_id: str | None,
    expected_hash: str | None = None,
    now: datetime | None = None,
    verify: bool = True,
) -> ApplyReport:
    """Apply exactly the changes of an approved plan (see the module's description); PlanError when it may not."""
    now = now or datetime.now(UTC)
    with store.engine.connect() as conn:
        plan = load_plan(conn, plan_id)
        check_hash(plan, expected_hash)
        report = ApplyReport(plan_id=plan_id, run_id=run_id, status=plan.status)
        if plan.status == "applied":
            return report
        _check_applicable(plan, config)
    reconcile_sent(store, config, connectors, mappers, run_id=run_id, now=now)
    with store.engine.connect() as conn:
        changes = plan_changes(conn, plan_id)
        records = plan_records(conn, plan_id)
    age = now - plan.created_at
    if age > timedelta(hours=config.plan_max_age_hours):
        limit = f"publish.plan_max_age_hours ({config.plan_max_age_hours:g} h)"
        with store.begin() as conn:
            expire_plan(conn, plan_id, f"older than {limit}")
        raise PlanError(
            f"plan {plan_id} was made {age.total_seconds() / 3600:.1f} h ago, more than {limit}: plan again"
        )
    pending = [change for change in changes if change.status in PENDING]
    observed = observe(store, config, {change.key for change in pending}, connectors, mappers, now)
    to_write, already, moved = _classify(pending, records, observed, config)
    if moved:
        with store.begin() as conn:
            expire_plan(conn, plan_id, f"moved in the channels before it was applied: {'; '.join(moved[:20])}")
        raise PlanMoved(plan_id, moved)
    with store.begin() as conn:
        _settle_already_there(conn, plan_id, already, run_id, now)
    report.already_there = len(already)
    by_group: dict[tuple[str, str], list[StoredChange]] = {}
    for change in to_write:
        by_group.setdefault((change.channel, change.entity), []).append(change)
    for (channel, entity), group_changes in by_group.items():
        _apply_group(store, plan_id, channel, entity, group_changes, records, connectors.get(channel), report, run_id)
    if verify:
        _verify(store, config, plan_id, records, connectors, mappers, report)
    with store.begin() as conn:
        left = [change for change in plan_changes(conn, plan_id) if change.status in PENDING]
        if left:
            report.status = "approved"
            report.errors.append(
                f"{len(left)} change(s) could not be written yet; applying the plan again retries them"
            )
        else:
            failed = report.count("failed") + report.count("skipped")
            note = f"{failed} change(s) refused by the channels (quarantined)" if failed else None
            finish_plan(conn, plan_id, f"run:{run_id}" if run_id else "cli", note)
            report.status = "applied"
    return report


def _check_applicable(plan: StoredPlan, config: PublishConfig) -> None:
    if plan.kind != "publish":
        raise PlanError(
            f"plan {plan.plan_id} is an {plan.kind} plan: apply it with `canalis publish apply {plan.plan_id}`"
        )
    if plan.status == "proposed":
        raise PlanError(f"plan {plan.plan_id} is proposed: approve it first (`canalis publish approve {plan.plan_id}`)")
    if plan.status != "approved":
        reason = f" ({plan.status_reason})" if plan.status_reason else ""
        raise PlanError(f"plan {plan.plan_id} is {plan.status}{reason}: only an approved plan is applied")
    if config.mode != "apply":
        raise PlanError("publish.mode is `plan`: plans are stored and reviewed, never applied; set it to `apply`")


def _classify(
    pending: list[StoredChange],
    records: Mapping[tuple[str, str, str], dict[str, Any]],
    observed: Mapping[FieldKey, Any],
    config: PublishConfig,
) -> tuple[list[StoredChange], list[StoredChange], list[str]]:
    """Changes to write, changes the channel already shows, and descriptions of values that moved."""
    to_write, already, moved = [], [], []
    for change in pending:
        current = observed.get(change.key)
        wanted = records[(change.channel, change.entity, change.record_key)].get(change.field)
        tolerance = config.price_tolerance if change.field in PRICE_FIELDS else Decimal(0)
        if same(change.field, current, wanted, tolerance):
            already.append(change)
        elif shows(change.field, current, change.old_value, tolerance):
            to_write.append(change)
        else:
            moved.append(
                f"{change.channel} {change.entity} {change.record_key} {change.field}: the plan saw "
                f"{change.old_value or '(none)'}, the channel now shows {display(current) or '(none)'}"
            )
    return to_write, already, moved


def _settle_already_there(
    conn: sa.Connection, plan_id: str, changes: list[StoredChange], run_id: str | None, now: datetime
) -> None:
    """Changes the channel already shows: an earlier attempt's send landed (applied), or nothing to do."""
    audit = []
    for change in changes:
        sent_before = change.status == "sending" or (change.status == "deferred" and change.attempts > 0)
        status = "applied" if sent_before else "unchanged"
        _set_status(conn, plan_id, [change], status, now)
        audit.append(audit_row(change, status, run_id, now, note="read back before writing"))
    if audit:
        conn.execute(sa.insert(tables.write_audit), audit)


def _apply_group(
    store: Store,
    plan_id: str,
    channel: str,
    entity: str,
    changes: list[StoredChange],
    records: Mapping[tuple[str, str, str], dict[str, Any]],
    connector: Connector | None,
    report: ApplyReport,
    run_id: str | None,
) -> None:
    keys = list(dict.fromkeys(change.record_key for change in changes))
    size = batch_size(connector, entity) if connector is not None else 1
    group = GroupReport(channel, entity, records=len(keys), changes=len(changes), batch_size=size)
    report.groups.append(group)
    for start in range(0, len(keys), size):
        batch_keys = set(keys[start : start + size])
        batch = [change for change in changes if change.record_key in batch_keys]
        batch_records = {key: records[(channel, entity, key)] for key in keys[start : start + size]}
        with store.begin() as conn:  # the write-ahead: what is about to be sent, committed before the call
            now = datetime.now(UTC)
            _set_status(conn, plan_id, batch, "sending", now, attempt=True)
            conn.execute(sa.insert(tables.write_audit), [audit_row(c, "sending", run_id, now) for c in batch])
        if connector is None:
            results = {key: WriteResult(key, "failed", error=f"no connector for {channel}") for key in batch_records}
        else:
            results = _write_batch(connector, entity, list(batch_records.values()), report)
            group.write_calls += 1
        _record(store, plan_id, group, batch, batch_records, results, report, run_id)


def _write_batch(
    connector: Connector, entity: str, records: list[dict[str, Any]], report: ApplyReport
) -> dict[str, WriteResult]:
    """One write call; a connector error fails every record of the batch (transiently: retried on the next apply)."""
    sent = [{name: value for name, value in record.items() if not name.startswith("_")} for record in records]
    try:
        return {str(result.record_key): result for result in connector.write(entity, sent)}
    except ConnectorError as error:
        report.errors.append(f"{connector.connection} {entity}: {error}")
        return {
            str(record["key"]): WriteResult(str(record["key"]), "failed", error=str(error), retryable=True)
            for record in records
        }


def _record(
    store: Store,
    plan_id: str,
    group: GroupReport,
    changes: list[StoredChange],
    records: Mapping[str, dict[str, Any]],
    results: Mapping[str, WriteResult],
    report: ApplyReport,
    run_id: str | None,
) -> None:
    """Each change's outcome, its audit row, remembered pauses and quarantined refusals, in one transaction."""
    now = datetime.now(UTC)
    audit, quarantined = [], []
    with store.begin() as conn:
        for change in changes:
            result = results.get(change.record_key) or WriteResult(
                change.record_key, "failed", error="the connector gave no result for this record", retryable=True
            )
            status = "deferred" if result.status == "failed" and result.retryable else result.status
            group.statuses[status] += 1
            _set_status(conn, plan_id, [change], status, now, error=result.error)
            # a transient failure may have reached the vendor (a dropped answer, a 5xx after the write; connectors
            # report these per record): recorded unknown, the next apply reads it back
            outcome = UNKNOWN if status == "deferred" else result.status
            audit.append(audit_row(change, outcome, run_id, now, result=result))
            report.retryable_failures += status == "deferred"
            first_of_record = change is next(c for c in changes if c.record_key == change.record_key)
            if status in ("failed", "skipped") and first_of_record:
                quarantined.append(
                    QuarantinedRecord(
                        source=change.channel,
                        stream=change.entity,
                        stage="write",
                        error=result.error or f"{result.status} by the channel",
                        record_id=change.record_key,
                        payload=_json_safe(records[change.record_key]),
                    )
                )
        conn.execute(sa.insert(tables.write_audit), audit)
        for key, record in records.items():
            result = results.get(key)
            if result is not None and result.status in ("applied", "unchanged") and record.get("_action"):
                remember_pause(conn, group.channel, record, now, run_id)
        if quarantined:
            store.quarantine(conn, quarantined)
    report.audit_rows += len(audit)
    report.quarantined += len(quarantined)


def _verify(
    store: Store,
    config: PublishConfig,
    plan_id: str,
    records: Mapping[tuple[str, str, str], dict[str, Any]],
    connectors: Mapping[str, Connector],
    mappers: Mapping[str, Mapper],
    report: ApplyReport,
) -> None:
    """Read the written fields back from the channels and mark each applied change verified or not."""
    with store.engine.connect() as conn:
        written = [change for change in plan_changes(conn, plan_id) if change.status in ("applied", "unchanged")]
    if not written:
        report.verified = True
        return
    observed = observe(store, config, {change.key for change in written}, connectors, mappers, datetime.now(UTC))
    stuck, not_stuck = [], []
    for change in written:
        wanted = records[(change.channel, change.entity, change.record_key)].get(change.field)
        tolerance = config.price_tolerance if change.field in PRICE_FIELDS else Decimal(0)
        (stuck if same(change.field, observed.get(change.key), wanted, tolerance) else not_stuck).append(change)
    c = publish_plan_changes
    with store.begin() as conn:
        for verified, group in ((True, stuck), (False, not_stuck)):
            if group:
                conn.execute(
                    sa.update(c)
                    .where(c.c.plan_id == plan_id, c.c.seq.in_([change.seq for change in group]))
                    .values(verified=verified)
                )
    report.not_stuck = not_stuck
    report.verified = not not_stuck


def _set_status(
    conn: sa.Connection,
    plan_id: str,
    changes: list[StoredChange],
    status: str,
    now: datetime,
    *,
    attempt: bool = False,
    error: str | None = None,
) -> None:
    c = publish_plan_changes
    values: dict[str, Any] = {"status": status, "updated_at": now, "error": error}
    if attempt:
        values["attempts"] = c.c.attempts + 1
    conn.execute(
        sa.update(c).where(c.c.plan_id == plan_id, c.c.seq.in_([change.seq for change in changes])).values(**values)
    )


def _json_safe(record: dict[str, Any]) -> dict[str, Any]:
    def safe(value: Any) -> Any:
        return display(value) if isinstance(value, Decimal | datetime) else value

    return {name: safe(value) for name, value in record.items() if not name.startswith("_")}
