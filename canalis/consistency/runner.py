"""One consistency pass: run the enabled rules, then open, refresh and close inconsistencies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from canalis.consistency.findings import Finding
from canalis.consistency.lifecycle import LifecycleReport, record_findings
from canalis.consistency.rules import enabled_rules, run_rule
from canalis.consistency.settings import ConsistencySettings
from canalis.store import Store

if TYPE_CHECKING:
    from canalis.config.connections import CanalisConfig


@dataclass
class ConsistencyReport:
    """What a pass found and what it did to the inconsistencies table."""

    findings: list[Finding] = field(default_factory=list)
    lifecycle: LifecycleReport = field(default_factory=LifecycleReport)
    rules_run: list[str] = field(default_factory=list)

    def by_code(self) -> dict[str, int]:
        """Findings per rule code (every rule run is listed, zero included)."""
        counts = Counter(finding.code for finding in self.findings)
        return {code: counts.get(code, 0) for code in self.rules_run}

    def by_severity(self) -> dict[str, int]:
        """Findings per severity."""
        return dict(Counter(finding.severity for finding in self.findings))


def settings_for(config: CanalisConfig) -> ConsistencySettings:
    """The consistency settings of a connections file, with its publish section (systems of record) attached."""
    from canalis.publishing import load_publish_config

    return config.consistency.with_publish(load_publish_config(config))


def check_consistency(
    store: Store, settings: ConsistencySettings, *, run_id: str | None = None, now: datetime | None = None
) -> ConsistencyReport:
    """Run every enabled rule on the store and record the findings' lifecycle, in one transaction."""
    now = now or datetime.now(UTC)
    report = ConsistencyReport()
    with store.begin() as conn:
        for rule in enabled_rules(settings):
            report.findings.extend(run_rule(conn, rule, settings, now))
            report.rules_run.append(rule.code)
        report.lifecycle = record_findings(conn, report.findings, run_id, now, evaluated_codes=report.rules_run)
    return report
