"""What a chaos scenario left behind, compared with an undisturbed run, and the table that sums it up."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from canalis.publishing.reconcile import unresolved_keys
from canalis.publishing.tables import publish_plan_changes
from canalis.store import Store, tables

KEYED_TABLES: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    "raw records": (tables.raw_records, ("source", "stream", "record_id")),
    "customer records": (tables.customer_records, ("record_key",)),
    "consents": (tables.consents, ("consent_key",)),
    "interactions": (tables.interactions, ("interaction_key",)),
    "orders": (tables.orders, ("order_key",)),
    "order lines": (tables.order_lines, ("order_line_key",)),
    "products": (tables.products, ("product_key",)),
    "prices": (tables.prices, ("price_key",)),
    "stock levels": (tables.stock_levels, ("stock_key",)),
    "promotions": (tables.promotions, ("promotion_key",)),
}
"""Every kind of record a sync stores, by the columns that identify one."""

VALUES: dict[str, tuple[sa.Table, str, tuple[str, ...]]] = {
    "customer records": (tables.customer_records, "record_key", ("content_hash",)),
    "consents": (tables.consents, "consent_key", ("status",)),
    "prices": (tables.prices, "price_key", ("amount", "compare_at_amount")),
    "stock levels": (tables.stock_levels, "stock_key", ("available",)),
    "promotions": (tables.promotions, "promotion_key", ("discount_value", "status", "ends_at")),
}
"""The values compared between runs (what publishing writes, and customer records whole); load times and
vendor update stamps differ between any two runs and are left out."""


QuarantineEntry = tuple[str, str, str, str | None, str, bool]
"""(source, stream, stage, record id, error, resolved) of one quarantine entry."""


@dataclass
class Snapshot:
    """A store's records, values, unified customers and publishing outcome, without times and generated ids."""

    keys: dict[str, set[tuple[Any, ...]]]
    values: dict[str, dict[Any, tuple[Any, ...]]]
    unified: list[list[str]]
    quarantine: list[QuarantineEntry]

    @classmethod
    def of(cls, store: Store) -> Snapshot:
        with store.engine.connect() as conn:
            keys = {
                name: {tuple(row) for row in conn.execute(sa.select(*(table.c[column] for column in columns)))}
                for name, (table, columns) in KEYED_TABLES.items()
            }
            values = {
                name: {
                    row[0]: tuple(str(value) if value is not None else None for value in row[1:])
                    for row in conn.execute(sa.select(table.c[key], *(table.c[column] for column in columns)))
                }
                for name, (table, key, columns) in VALUES.items()
            }
            clusters: dict[str, list[str]] = {}
            ids = tables.source_identities
            for record_key, customer_id in conn.execute(sa.select(ids.c.record_key, ids.c.customer_id)):
                clusters.setdefault(customer_id, []).append(record_key)
            q = tables.quarantine
            quarantine = [
                (row.source, row.stream, row.stage, row.record_id, row.error, row.resolved_at is not None)
                for row in conn.execute(sa.select(q))
            ]
        return cls(keys, values, sorted(sorted(members) for members in clusters.values()), sorted(quarantine))

    def lost(self, expected: Snapshot) -> Counter[str]:
        """Records the undisturbed run stored that this store lacks, per kind."""
        return Counter(
            {name: len(wanted - self.keys[name]) for name, wanted in expected.keys.items() if wanted - self.keys[name]}
        )

    def surplus(self, expected: Snapshot) -> Counter[str]:
        """Records this store holds that the undisturbed run did not store, per kind."""
        return Counter(
            {name: len(have - expected.keys[name]) for name, have in self.keys.items() if have - expected.keys[name]}
        )

    def different(self, expected: Snapshot) -> Counter[str]:
        """Records both stores hold with different values, per kind."""
        found: Counter[str] = Counter()
        for name, wanted in expected.values.items():
            have = self.values[name]
            changed = sum(1 for key, value in wanted.items() if key in have and have[key] != value)
            if changed:
                found[name] = changed
        return found


def reason_of(error: str) -> str:
    """A quarantine error's kind, without the values it quotes (input values, quoted parts and numbers are left
    out), so entries of one kind count together and no record value reaches the table."""
    text = error.split("[", 1)[0].split("input_value", 1)[0]
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", text)
    text = re.sub(r"\d+", "N", text)
    return " ".join(text.split())[:70].rstrip(" ,;:")


def audit_gaps(store: Store) -> tuple[int, int]:
    """(writes announced with no outcome, writes a channel shows applied with no announcement) in the audit."""
    with store.engine.connect() as conn:
        unsettled = len(unresolved_keys(conn))
        a, c = tables.write_audit, publish_plan_changes
        announced = set(conn.execute(sa.select(a.c.idempotency_key).where(a.c.status == "sending")).scalars())
        applied = set(
            conn.execute(sa.select(c.c.idempotency_key).where(c.c.status == "applied", c.c.attempts > 0)).scalars()
        )
    return unsettled, len(applied - announced)


def applied_twice_in_audit(store: Store) -> int:
    """Changes the audit records applied more than once."""
    a = tables.write_audit
    with store.engine.connect() as conn:
        query = (
            sa.select(a.c.idempotency_key)
            .where(a.c.status == "applied")
            .group_by(a.c.idempotency_key)
            .having(sa.func.count() > 1)
        )
        return len(conn.execute(query).all())


def applied_twice_at_vendors(writes: Mapping[Any, int], undisturbed: Mapping[Any, int]) -> int:
    """Vendor objects changed by more requests than in the undisturbed run: a write applied again."""
    return sum(max(0, count - undisturbed.get(key, 0)) for key, count in writes.items())


@dataclass
class ChaosTable:
    """One scenario's figures."""

    scenario: str
    faults: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)
    healed: int = 0
    still_open: int = 0
    lost: Counter[str] = field(default_factory=Counter)
    different: Counter[str] = field(default_factory=Counter)
    applied_twice: int = 0
    audit_missing: int = 0
    kills: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    write_requests: int = 0
    """Requests that changed objects at the vendors."""

    @property
    def records_lost(self) -> int:
        return sum(self.lost.values())

    def rows(self) -> list[tuple[str, str]]:
        """(measure, value) lines of the table."""
        lines: list[tuple[str, str]] = []
        if self.kills:
            lines.append(("kill -9 in", ", ".join(self.kills)))
        lines.append(("steps that failed (and were run again)", str(len(self.failed_steps))))
        lines.append(("vendor write requests applied", str(self.write_requests)))
        lines.append(("faults injected", str(sum(self.faults.values()))))
        lines += [(f"  {kind}", str(count)) for kind, count in sorted(self.faults.items())]
        lines.append(("records quarantined", str(sum(self.quarantined.values()))))
        lines += [(f"  {reason}", str(count)) for reason, count in self.quarantined.most_common()]
        lines.append(("records healed by replay", str(self.healed)))
        lines.append(("quarantine entries still open", str(self.still_open)))
        lines.append(("records lost (must be 0)", str(self.records_lost)))
        lines += [(f"  {kind}", str(count)) for kind, count in sorted(self.lost.items())]
        lines.append(("records with other values", str(sum(self.different.values()))))
        lines += [(f"  {kind}", str(count)) for kind, count in sorted(self.different.items())]
        lines.append(("writes applied twice (must be 0)", str(self.applied_twice)))
        lines.append(("audit rows missing (must be 0)", str(self.audit_missing)))
        return lines

    def render(self) -> str:
        rows = self.rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join([self.scenario, *(f"  {name:<{width}}  {value:>8}" for name, value in rows)])


def quarantine_figures(
    quarantine: Iterable[tuple[str, str, str, str | None, str, bool]],
) -> tuple[Counter[str], int, int]:
    """Entries per reason (with their stage), entries healed (closed since), entries still open."""
    reasons: Counter[str] = Counter()
    healed = still_open = 0
    for _source, _stream, stage, _record, error, resolved in quarantine:
        reasons[f"{stage}: {reason_of(error)}"] += 1
        healed += resolved
        still_open += not resolved
    return reasons, healed, still_open
