"""One consistency pass: run the enabled rules, then open, refresh and close inconsistencies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from canalis.consistency.findings import Finding
from canalis.consistency.lifecycle import LifecycleReport, record_findings
from canalis.consistency.rules import enabled_rules, run_rule
from canalis.consistency.scope import (
    CUSTOMER_CODES,
    STATE_CONNECTOR,
    STATE_STREAM,
    CustomerScope,
    build_scope,
    drop_scope,
    high_water_mark,
    settings_fingerprint,
)
from canalis.consistency.settings import ConsistencySettings
from canalis.store import Store, tables

if TYPE_CHECKING:
    from canalis.config.connections import CanalisConfig


@dataclass
class ConsistencyReport:
    """What a pass found and what it did to the inconsistencies table."""

    findings: list[Finding] = field(default_factory=list)
    lifecycle: LifecycleReport = field(default_factory=LifecycleReport)
    rules_run: list[str] = field(default_factory=list)
    customers_checked: int | None = None
    """Customers the customer rules looked at in an incremental pass (None: every customer, a full pass)."""

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
    store: Store,
    settings: ConsistencySettings,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    full: bool = True,
) -> ConsistencyReport:
    """Run every enabled rule on the store and record the findings' lifecycle, in one transaction.

    With `full=False` the customer rules look only at the customers whose data changed since the last pass (see
    `canalis.consistency.scope`) and leave the findings of the others as they are; the first pass, and any pass
    after the settings changed, checks every customer.
    """
    now = now or datetime.now(UTC)
    report = ConsistencyReport()
    fingerprint = settings_fingerprint(settings)
    with store.begin(immediate=True) as conn:  # reads, fills a temporary scope, then writes the findings
        mark = high_water_mark(conn)
        since = None if full else _last_mark(conn, fingerprint)
        scope = build_scope(conn, since) if since is not None else None
        try:
            for rule in enabled_rules(settings):
                report.findings.extend(run_rule(conn, rule, settings, now, scope=scope))
                report.rules_run.append(rule.code)
            report.lifecycle = record_findings(
                conn,
                report.findings,
                run_id,
                now,
                evaluated_codes=report.rules_run,
                evaluated=_in_scope(scope) if scope is not None else None,
            )
        finally:
            if scope is not None:
                drop_scope(conn)
        report.customers_checked = len(scope.core) if scope is not None else None
        cursor = {"high_water_mark": mark.isoformat() if mark else None, "settings": fingerprint}
        store.save_state(conn, STATE_CONNECTOR, STATE_STREAM, cursor, run_id)
    return report


def _last_mark(conn: Connection, fingerprint: str) -> datetime | None:
    """The high-water mark of the last pass, if it ran under the same settings."""
    s = tables.sync_state
    cursor = conn.execute(
        select(s.c.cursor).where(s.c.connector == STATE_CONNECTOR, s.c.stream == STATE_STREAM)
    ).scalar()
    if not cursor or cursor.get("settings") != fingerprint or not cursor.get("high_water_mark"):
        return None
    return datetime.fromisoformat(cursor["high_water_mark"])


def _in_scope(scope: CustomerScope):
    """Whether a pass with this scope evaluated an inconsistency: every non-customer one, customers of its core."""

    def evaluated(code: str, entity_key: str) -> bool:
        return code not in CUSTOMER_CODES or entity_key in scope.core

    return evaluated
