"""The life of an inconsistency: opened when first found, seen again on later runs, closed when gone.

Each inconsistency has a stable id, a hash of (code, entity type, entity key, and the sorted channel set where the
channels define the inconsistency, as for a price in one channel; customer-level rules leave them out). A run that no
longer finds an open one closes it. One that comes back later reopens the same row: `first_seen_at` and the
occurrence count keep its whole history, `opened_at`/`opened_run_id` start a new open spell and `reopened` counts
the comebacks, so a flapping price shows as one inconsistency, not many.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from canalis.consistency.findings import Finding
from canalis.consistency.tables import inconsistencies


@dataclass
class LifecycleReport:
    """Ids of the inconsistencies a run opened (new or reopened), saw again, and closed."""

    opened: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many of each."""
        return {
            "opened": len(self.opened),
            "still_open": len(self.still_open),
            "closed": len(self.closed),
            "reopened": len(self.reopened),
        }


def inconsistency_id(code: str, entity_type: str, entity_key: str, channels: Iterable[str]) -> str:
    """The stable id of an inconsistency."""
    text = "\x1f".join([code, entity_type, entity_key, *sorted(set(channels))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def record_findings(
    conn: Connection,
    findings: Iterable[Finding],
    run_id: str | None,
    now: datetime,
    *,
    evaluated_codes: Iterable[str] | None = None,
    evaluated: Callable[[str, str], bool] | None = None,
) -> LifecycleReport:
    """Open, refresh and close inconsistencies from one run's findings, in one bulk statement per kind of change.

    Only inconsistencies of `evaluated_codes` (default: the codes of every rule in the catalogue) can be closed, so
    a rule that was disabled or did not run leaves its open inconsistencies as they were; `evaluated(code,
    entity_key)`, when given, narrows that to the entities the run looked at (an incremental pass's customers).
    """
    if evaluated_codes is None:
        from canalis.consistency.rules import RULES

        evaluated_codes = RULES
    codes = set(evaluated_codes)
    table = inconsistencies
    seen: dict[str, Finding] = {}
    for finding in findings:
        seen.setdefault(inconsistency_id(*finding.identity), finding)
    existing = {
        row.inconsistency_id: row
        for row in conn.execute(
            select(table.c.inconsistency_id, table.c.code, table.c.entity_key, table.c.status)
        ).all()
    }
    report = LifecycleReport()
    inserts: list[dict[str, Any]] = []
    refreshes: list[dict[str, Any]] = []
    reopenings: list[dict[str, Any]] = []
    for key, finding in sorted(seen.items()):
        row = existing.get(key)
        values = {
            "b_id": key,
            "b_severity": finding.severity,
            "b_channels": sorted(set(finding.channels)),
            "b_details": finding.details,
        }
        if row is None:
            inserts.append(
                {
                    "inconsistency_id": key,
                    "code": finding.code,
                    "entity_type": finding.entity_type,
                    "entity_key": finding.entity_key,
                    "severity": finding.severity,
                    "channels": values["b_channels"],
                    "details": finding.details,
                    "status": "open",
                    "first_seen_at": now,
                    "opened_at": now,
                    "opened_run_id": run_id,
                    "last_seen_at": now,
                    "last_run_id": run_id,
                    "occurrences": 1,
                    "reopened": 0,
                }
            )
            report.opened.append(key)
        elif row.status == "open":
            refreshes.append(values)
            report.still_open.append(key)
        else:
            reopenings.append(values)
            report.opened.append(key)
            report.reopened.append(key)
    closing = [
        {"b_id": key}
        for key, row in sorted(existing.items())
        if row.status == "open"
        and key not in seen
        and row.code in codes
        and (evaluated is None or evaluated(row.code, row.entity_key))
    ]
    report.closed = [item["b_id"] for item in closing]
    if inserts:
        conn.execute(table.insert(), inserts)
    seen_again = {
        "severity": bindparam("b_severity"),
        "channels": bindparam("b_channels", type_=table.c.channels.type),
        "details": bindparam("b_details", type_=table.c.details.type),
        "last_seen_at": now,
        "last_run_id": run_id,
        "occurrences": table.c.occurrences + 1,
    }
    by_id = table.c.inconsistency_id == bindparam("b_id")
    if refreshes:
        conn.execute(table.update().where(by_id).values(seen_again), refreshes)
    if reopenings:
        reopen = {
            "status": "open",
            "opened_at": now,
            "opened_run_id": run_id,
            "closed_at": None,
            "closed_run_id": None,
            "reopened": table.c.reopened + 1,
        }
        conn.execute(table.update().where(by_id).values({**seen_again, **reopen}), reopenings)
    if closing:
        conn.execute(table.update().where(by_id).values(status="closed", closed_at=now, closed_run_id=run_id), closing)
    return report
