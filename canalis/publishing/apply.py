"""Apply a publish plan: write each channel's changed records in vendor-sized batches, audit every change, verify."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from canalis.publishing.plan import Change, Plan, build_plan, display
from canalis.publishing.policy import PublishConfig
from canalis.publishing.suppression import remember_pause
from canalis.sdk.base import Connector
from canalis.sdk.errors import ConnectorError
from canalis.sdk.streams import WriteResult
from canalis.store import QuarantinedRecord, Store, tables

ENTITY_OF_STREAM = {"prices": "price", "stock_levels": "stock_level", "promotions": "promotion", "consents": "consent"}

Verifier = Callable[[dict[str, set[str]]], None]


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
    """What applying a plan did: writes per status, write calls against the minimum, and the verification."""

    run_id: str | None
    groups: list[GroupReport] = field(default_factory=list)
    audit_rows: int = 0
    quarantined: int = 0
    retryable_failures: int = 0
    errors: list[str] = field(default_factory=list)
    not_stuck: list[Change] = field(default_factory=list)
    verified: bool | None = None

    @property
    def planned(self) -> int:
        return sum(group.changes for group in self.groups)

    def count(self, status: str) -> int:
        """Changes that ended with a status (applied, unchanged, failed, skipped)."""
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


def idempotency_key(channel: str, entity: str, record: dict[str, Any]) -> str:
    """A key derived from the content written, so the same write always carries the same key."""
    body = json.dumps({"channel": channel, "entity": entity, "record": record}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:40]


def apply_plan(
    store: Store,
    config: PublishConfig,
    plan: Plan,
    connectors: dict[str, Connector],
    run_id: str | None,
    *,
    verify: Verifier | None = None,
) -> ApplyReport:
    """Write the plan channel by channel and stream by stream, one batch per write call, auditing every change.

    `verify`, when given, re-reads the written streams into the store (e.g. `reread_streams`); the plan is then
    rebuilt and every applied change still differing is reported as not stuck.
    """
    report = ApplyReport(run_id=run_id)
    by_group: dict[tuple[str, str], list[Change]] = {}
    for change in plan.changes:
        by_group.setdefault((change.channel, change.entity), []).append(change)
    for (channel, entity), changes in by_group.items():
        connector = connectors.get(channel)
        keys = list(dict.fromkeys(change.key for change in changes))
        size = batch_size(connector, entity) if connector is not None else 1
        group = GroupReport(channel, entity, records=len(keys), changes=len(changes), batch_size=size)
        report.groups.append(group)
        if connector is None:
            _audit(store, report, group, changes, {}, plan, run_id, missing=f"no connector for {channel}")
            continue
        for start in range(0, len(keys), size):
            batch_keys = keys[start : start + size]
            records = [plan.records[(channel, entity, key)] for key in batch_keys]
            results = _write_batch(connector, entity, records, report)
            group.write_calls += 1
            batch_changes = [change for change in changes if change.key in set(batch_keys)]
            _audit(store, report, group, batch_changes, results, plan, run_id)
    if verify is not None:
        _verify(store, config, plan, report, verify)
    return report


def _write_batch(
    connector: Connector, entity: str, records: list[dict[str, Any]], report: ApplyReport
) -> dict[str, WriteResult]:
    """One write call; a connector error fails every record of the batch (transiently, so it is not quarantined)."""
    sent = [{name: value for name, value in record.items() if not name.startswith("_")} for record in records]
    try:
        return {str(result.record_key): result for result in connector.write(entity, sent)}
    except ConnectorError as error:
        report.errors.append(f"{connector.connection} {entity}: {error}")
        return {
            str(record["key"]): WriteResult(str(record["key"]), "failed", error=str(error), retryable=True)
            for record in records
        }


def _audit(
    store: Store,
    report: ApplyReport,
    group: GroupReport,
    changes: list[Change],
    results: dict[str, WriteResult],
    plan: Plan,
    run_id: str | None,
    missing: str | None = None,
) -> None:
    """One audit row per change, pauses remembered, permanent failures quarantined: in one transaction per batch."""
    now = datetime.now(UTC)
    rows, quarantined = [], []
    for change in changes:
        record = plan.records[(change.channel, change.entity, change.key)]
        result = results.get(change.key)
        if result is None:
            result = WriteResult(change.key, "failed", error=missing or "the connector gave no result for this record")
        group.statuses[result.status] += 1
        rows.append(
            {
                "run_id": run_id,
                "channel": change.channel,
                "entity_type": change.entity,
                "entity_key": change.key,
                "field": change.field,
                "old_value": display(change.old),
                "new_value": display(change.new),
                "status": result.status,
                "idempotency_key": idempotency_key(change.channel, change.entity, record),
                "vendor_response_id": result.vendor_id,
                "error": result.error,
                "created_at": now,
            }
        )
        if result.status == "failed" and result.retryable:
            report.retryable_failures += 1
        elif result.status == "failed" and change.field == _first_field(changes, change.key):
            quarantined.append(
                QuarantinedRecord(
                    source=change.channel,
                    stream=change.entity,
                    stage="write",
                    error=result.error or "rejected by the vendor",
                    record_id=change.key,
                    payload=_json_safe(record),
                )
            )
    with store.begin() as conn:
        if rows:
            conn.execute(insert(tables.write_audit), rows)
        for key in dict.fromkeys(change.key for change in changes):
            result = results.get(key)
            record = plan.records[(group.channel, group.entity, key)]
            if result is not None and result.status in ("applied", "unchanged") and record.get("_action"):
                remember_pause(conn, group.channel, record, now, run_id)
        if quarantined:
            store.quarantine(conn, quarantined)
    report.audit_rows += len(rows)
    report.quarantined += len(quarantined)


def _first_field(changes: list[Change], key: str) -> str:
    return next(change.field for change in changes if change.key == key)


def _json_safe(record: dict[str, Any]) -> dict[str, Any]:
    def safe(value: Any) -> Any:
        if isinstance(value, Decimal | datetime):
            return display(value)
        return value

    return {name: safe(value) for name, value in record.items() if not name.startswith("_")}


def _verify(store: Store, config: PublishConfig, plan: Plan, report: ApplyReport, verify: Verifier) -> None:
    """Re-read the written streams, rebuild the plan and report applied changes that still differ."""
    written: dict[str, set[str]] = {}
    for group in report.groups:
        if group.statuses["applied"] or group.statuses["unchanged"]:
            written.setdefault(group.channel, set()).add(group.entity)
    if not written:
        report.verified = True
        return
    verify(written)
    entities = tuple(sorted({entity for entities in written.values() for entity in entities}))
    with store.begin() as conn:
        fresh = build_plan(conn, config, plan.now, entities)
    applied = {(c.channel, c.entity, c.key, c.field) for c in plan.changes}
    report.not_stuck = [c for c in fresh.changes if (c.channel, c.entity, c.key, c.field) in applied]
    report.verified = not report.not_stuck


def reread_streams(store: Store, canalis_config: Any, connectors: dict[str, Connector], run_id: str | None) -> Verifier:
    """A verifier that reads the written channels' streams again and maps them, so the store shows what stuck."""
    from canalis.canonical.canonicalize import canonicalize_entities
    from canalis.config.wiring import build_mappers
    from canalis.connectors.registry import discover
    from canalis.ingest.stream import ingest_stream

    def reread(written: dict[str, set[str]]) -> None:
        mappers = build_mappers(canalis_config, discover())
        for channel, streams in sorted(written.items()):
            mapper = mappers[channel]
            entities = sorted(ENTITY_OF_STREAM[stream] for stream in streams)
            read = sorted({name for entity in entities for name in mapper.streams_for(entity)})
            for name in read:
                ingest_stream(store, connectors[channel], name, full_refresh=True, run_id=run_id)
            canonicalize_entities(store, {channel: mapper}, entities, run_id=run_id)

    return reread
