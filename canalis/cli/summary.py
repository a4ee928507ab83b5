"""The run summary printed after a sync: records read per source, quarantine, unified customers, interactions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from canalis.store import Store, tables

SOURCE_CHECKS = ("read_succeeded", "connection_ok")
"""The checks that say a source could not be read (a failed read, a connection that cannot be built)."""


@dataclass
class RunSummary:
    """What a sync run did, from its materializations and the store."""

    run_id: str
    success: bool
    records_read: Counter = field(default_factory=Counter)
    quarantined_this_run: int = 0
    quarantined_open: int = 0
    healed_this_run: int = 0
    customer_records: int = 0
    unified_customers: int = 0
    interactions: int = 0
    interactions_attached: int = 0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    inconsistencies_found: int | None = None
    inconsistencies_opened: int = 0
    inconsistencies_closed: int = 0
    writes_planned: int | None = None
    writes_applied: int = 0
    writes_failed: int = 0
    write_calls: int = 0
    minimum_write_calls: int = 0
    publish_status: str = ""
    plan_id: str | None = None
    plan_status: str = ""
    plan_changes: int = 0
    plan_hash: str = ""
    failed_sources: dict[str, str] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "success": self.success,
            "records_read": dict(self.records_read),
            "quarantined_this_run": self.quarantined_this_run,
            "quarantined_open": self.quarantined_open,
            "healed_this_run": self.healed_this_run,
            "customer_records": self.customer_records,
            "unified_customers": self.unified_customers,
            "interactions": self.interactions,
            "interactions_attached": self.interactions_attached,
            "inconsistencies": {
                "found": self.inconsistencies_found,
                "opened": self.inconsistencies_opened,
                "closed": self.inconsistencies_closed,
            },
            "writes": {
                "planned": self.writes_planned,
                "applied": self.writes_applied,
                "failed": self.writes_failed,
                "calls": self.write_calls,
                "minimum_calls": self.minimum_write_calls,
                "status": self.publish_status,
            },
            "plan": {
                "id": self.plan_id,
                "hash": self.plan_hash,
                "status": self.plan_status,
                "changes": self.plan_changes,
            },
            "checks": {name: {"passed": passed, "severity": severity} for name, passed, severity in self.checks},
            "failed_sources": self.failed_sources,
            "failed_steps": self.failed_steps,
        }


def summarize_run(result, store: Store) -> RunSummary:
    """Build the summary of a finished job execution."""
    summary = RunSummary(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        path = materialization.asset_key.path
        metadata = {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}
        if path[0] == "raw" and len(path) == 3:
            summary.records_read[path[1]] += int(metadata.get("records_read", 0))
        summary.quarantined_this_run += int(metadata.get("quarantined", 0) or 0)
        if path[0] == "raw":
            healed = ("healed", "replay_healed", "replay_stale_closed")
            summary.healed_this_run += sum(int(metadata.get(name, 0) or 0) for name in healed)
        if path == ["customer_timeline"]:
            summary.interactions_attached = int(metadata.get("attached", 0))
        if path == ["inconsistencies"]:
            summary.inconsistencies_found = int(metadata.get("found", 0))
            summary.inconsistencies_opened = int(metadata.get("opened", 0)) + int(metadata.get("reopened", 0))
            summary.inconsistencies_closed = int(metadata.get("closed", 0))
        if path in (["price_plan"], ["approved_plan"]):
            summary.plan_id = str(metadata.get("plan_id") or "") or None
            summary.plan_hash = str(metadata.get("plan_hash") or "")
            summary.plan_status = str(metadata.get("plan_status") or "")
            decided = str(metadata.get("plan_decided_by") or "")
            if decided and summary.plan_status in ("approved", "rejected"):
                summary.plan_status += f" by {decided}"
            summary.plan_changes = int(metadata.get("plan_changes") or 0)
        if path == ["publish_apply"]:
            summary.writes_planned = int(metadata.get("writes_planned", 0))
            summary.writes_applied = int(metadata.get("applied", 0))
            summary.writes_failed = int(metadata.get("failed", 0))
            summary.write_calls = int(metadata.get("write_calls", 0))
            summary.minimum_write_calls = int(metadata.get("minimum_write_calls", 0))
            summary.publish_status = str(metadata.get("status", ""))
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        summary.checks.append((name, evaluation.passed, evaluation.severity.value))
        path = evaluation.asset_key.path
        if not evaluation.passed and evaluation.check_name in SOURCE_CHECKS and path[0] == "raw":
            summary.failed_sources.setdefault(path[1], f"{path[-1]}: {evaluation.description or 'failed'}")
    summary.failed_steps = [_failure(event) for event in result.all_events if event.is_step_failure and event.step_key]
    summary.quarantined_open = store.open_quarantine_count()
    summary.customer_records = store.count(tables.customer_records)
    summary.unified_customers = store.count(tables.customers)
    summary.interactions = store.count(tables.interactions)
    return summary


def _failure(event) -> str:
    """A failed step and the first line of why it failed."""
    error = getattr(event.event_specific_data, "error", None)
    message = (getattr(error, "message", "") or "").strip().splitlines()
    return f"{event.step_key}: {message[0]}" if message else str(event.step_key)


def render_summary(summary: RunSummary, job_name: str) -> str:
    """The summary as a few lines of text."""
    lines = [f"Canalis {job_name}: run {summary.run_id} {'succeeded' if summary.success else 'FAILED'}"]
    if job_name == "publish":
        return "\n".join(lines + _plan_lines(summary) + _check_lines(summary))
    lines.append("  records read per source:")
    for source, count in sorted(summary.records_read.items()):
        failed = summary.failed_sources.get(source)
        lines.append(f"    {source:<24} {count:>8}" + (f"  (FAILED {failed})" if failed else ""))
    for source, failed in sorted(summary.failed_sources.items()):
        if source not in summary.records_read:
            lines.append(f"    {source:<24} {'-':>8}  (FAILED {failed})")
    quarantined = (
        f"{summary.quarantined_open:>8} open ({summary.quarantined_this_run} events, "
        f"{summary.healed_this_run} healed this run)"
    )
    lines.append(f"  records quarantined:       {quarantined}")
    lines.append(f"  source customer records:   {summary.customer_records:>8}")
    lines.append(f"  unified customers:         {summary.unified_customers:>8}")
    attached = f"({summary.interactions_attached} on a unified customer)"
    lines.append(f"  interactions:              {summary.interactions:>8} {attached}")
    if summary.inconsistencies_found is not None:
        lines.append(
            f"  inconsistencies found:     {summary.inconsistencies_found:>8} "
            f"({summary.inconsistencies_opened} opened, {summary.inconsistencies_closed} closed this run)"
        )
    return "\n".join(lines + _plan_lines(summary) + _check_lines(summary))


def _plan_lines(summary: RunSummary) -> list[str]:
    lines = []
    if summary.plan_id:
        lines.append(
            f"  publish plan:              {summary.plan_id} ({summary.plan_status}, {summary.plan_changes} "
            f"changes, hash {summary.plan_hash})"
        )
    elif summary.plan_status:
        lines.append(f"  publish plan:              {summary.plan_status}")
    if summary.writes_planned is not None:
        lines.append(
            f"  writes planned / applied:  {summary.writes_planned:>8} / {summary.writes_applied} "
            f"({summary.writes_failed} failed; {summary.write_calls} API write calls, minimum "
            f"{summary.minimum_write_calls}); plan {summary.publish_status}"
        )
    return lines


def _check_lines(summary: RunSummary) -> list[str]:
    lines = []
    if summary.checks:
        failed = [name for name, passed, severity in summary.checks if not passed and severity == "ERROR"]
        warned = [name for name, passed, severity in summary.checks if not passed and severity != "ERROR"]
        passed = len(summary.checks) - len(failed) - len(warned)
        lines.append(f"  asset checks:              {passed:>8} passed, {len(warned)} warning(s), {len(failed)} failed")
        lines.extend(f"    warning: {name}" for name in warned)
        lines.extend(f"    failed: {name}" for name in failed)
    lines.extend(f"  failed: {step}" for step in summary.failed_steps)
    return lines
