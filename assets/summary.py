"""The run summary printed after a sync: records read per source, quarantine, unified customers, interactions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mappings.store import Store, tables


@dataclass
class RunSummary:
    """What a sync run did, from its materializations and the store."""

    run_id: str
    success: bool
    records_read: Counter = field(default_factory=Counter)
    quarantined_this_run: int = 0
    quarantined_open: int = 0
    customer_records: int = 0
    unified_customers: int = 0
    interactions: int = 0
    interactions_attached: int = 0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "success": self.success,
            "records_read": dict(self.records_read),
            "quarantined_this_run": self.quarantined_this_run,
            "quarantined_open": self.quarantined_open,
            "customer_records": self.customer_records,
            "unified_customers": self.unified_customers,
            "interactions": self.interactions,
            "interactions_attached": self.interactions_attached,
            "checks": {name: {"passed": passed, "severity": severity} for name, passed, severity in self.checks},
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
        if path == ["customer_timeline"]:
            summary.interactions_attached = int(metadata.get("attached", 0))
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        summary.checks.append((name, evaluation.passed, evaluation.severity.value))
    summary.failed_steps = [event.step_key for event in result.all_events if event.is_step_failure and event.step_key]
    summary.quarantined_open = store.open_quarantine_count()
    summary.customer_records = store.count(tables.customer_records)
    summary.unified_customers = store.count(tables.customers)
    summary.interactions = store.count(tables.interactions)
    return summary


def render_summary(summary: RunSummary, job_name: str) -> str:
    """The summary as a few lines of text."""
    lines = [f"Canalis {job_name}: run {summary.run_id} {'succeeded' if summary.success else 'FAILED'}"]
    lines.append("  records read per source:")
    for source, count in sorted(summary.records_read.items()):
        lines.append(f"    {source:<24} {count:>8}")
    lines.append(
        f"  records quarantined:       {summary.quarantined_open:>8} open ({summary.quarantined_this_run} events this run)"
    )
    lines.append(f"  source customer records:   {summary.customer_records:>8}")
    lines.append(f"  unified customers:         {summary.unified_customers:>8}")
    lines.append(
        f"  interactions:              {summary.interactions:>8} ({summary.interactions_attached} on a unified customer)"
    )
    if summary.checks:
        failed = [name for name, passed, severity in summary.checks if not passed and severity == "ERROR"]
        warned = [name for name, passed, severity in summary.checks if not passed and severity != "ERROR"]
        passed = len(summary.checks) - len(failed) - len(warned)
        lines.append(f"  asset checks:              {passed:>8} passed, {len(warned)} warning(s), {len(failed)} failed")
        lines.extend(f"    warning: {name}" for name in warned)
        lines.extend(f"    failed: {name}" for name in failed)
    if summary.failed_steps:
        lines.append("  failed steps: " + ", ".join(summary.failed_steps))
    return "\n".join(lines)
