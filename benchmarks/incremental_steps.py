"""The store-side steps of an incremental sync, worked out over every row and scoped to what changed, side by side.

    python -m benchmarks.incremental_steps --home /tmp/canalis-sync-20000-sqlite-xxxx [--changed 0.01]

Takes the store of a Canalis home that ran a sync (`python -m benchmarks.sync_benchmark --keep` leaves one), copies
it, and for two cases, nothing changed and a share of the customers changed (their records, consents and
interactions stamped as loaded again, one consent in two flipped), runs each step twice on copies of the same data:
the way an incremental sync ran it before it was scoped (every row) and scoped to what changed. Printed per step:
CPU and wall seconds of each, and whether both gave the same result (attachments and report for the timeline, the
plan's content hash, the KPI figures). Steps: timeline, consent and catalogue plan, KPIs (the five computations, or
the fingerprint that shows the last figures again). On a shared machine the CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from canalis.config.connections import load_config
from canalis.kpis import channel_mix, lifetime_value, ropo, satisfaction, service_kpis
from canalis.kpis.inputs import inputs_fingerprint
from canalis.publishing import load_publish_config
from canalis.publishing.plans import content_hash, propose_plan
from canalis.store import Store, tables
from canalis.timeline import attach_interactions

KPIS = (channel_mix, service_kpis, satisfaction, lifetime_value, ropo)


def timed(step: Callable[[], Any]) -> tuple[float, float, Any]:
    """CPU seconds, wall seconds and result of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = step()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def copy_store(source: Path, folder: Path, name: str) -> Store:
    """A copy of a SQLite store (its write-ahead log folded in first)."""
    target = folder / f"{name}.db"
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(source, target)
    return Store(f"sqlite:///{target}")


def change_customers(store: Store, share: float, seed: int = 7) -> int:
    """Stamp a share of the customers' records, consents and interactions as loaded again; flip half the consents."""
    s, r, k, i = tables.source_identities, tables.customer_records, tables.consents, tables.interactions
    now = datetime.now(UTC) + timedelta(seconds=1)
    with store.begin() as conn:
        customers = sorted(conn.execute(sa.select(tables.customers.c.customer_id)).scalars())
        chosen = random.Random(seed).sample(customers, max(1, int(len(customers) * share)))
        for start in range(0, len(chosen), 500):
            batch = chosen[start : start + 500]
            keys = sa.select(s.c.record_key).where(s.c.customer_id.in_(batch))
            conn.execute(sa.update(r).where(r.c.record_key.in_(keys)).values(loaded_at=now))
            conn.execute(sa.update(i).where(i.c.customer_id.in_(batch)).values(loaded_at=now))
            flipped = sa.case((k.c.status == "granted", "denied"), else_="granted")
            halves = k.c.record_key.in_(keys) & (sa.func.length(k.c.consent_key) % 2 == 0)
            conn.execute(sa.update(k).where(halves).values(status=flipped, updated_at=now))
            conn.execute(sa.update(k).where(k.c.record_key.in_(keys), ~halves).values(updated_at=now))
    return len(chosen)


def attachments(store: Store) -> dict[str, str | None]:
    i = tables.interactions
    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(i.c.interaction_key, i.c.customer_id)).all())


def plan_hash(store: Store, config: Any, incremental: bool, now: datetime) -> str:
    with store.begin() as conn:
        plan, _ = propose_plan(conn, config, created_by="benchmark", now=now, incremental=incremental)
    return content_hash(plan)


def kpi_figures(store: Store, settings: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return [repr(compute(conn, settings)) for compute in KPIS]


def fingerprint(store: Store, settings: Any) -> str:
    with store.engine.connect() as conn:
        return inputs_fingerprint(conn, settings)


def prime(store: Store, config: Any, publish: Any) -> str:
    """What the sync before left: a timeline pass, a plan and the KPI fingerprint."""
    attach_interactions(store, full=True)
    plan_hash(store, publish, False, datetime.now(UTC))
    return fingerprint(store, config.kpis)


def compare(base: Path, folder: Path, case: str, config: Any, publish: Any, last_fingerprint: str) -> None:
    """Each step on two copies of the data: every row (as before) and scoped."""
    now = datetime.now(UTC)
    whole, scoped = copy_store(base, folder, f"{case}-whole"), copy_store(base, folder, f"{case}-scoped")
    rows = []
    a = timed(lambda: attach_interactions(whole, full=True))
    b = timed(lambda: attach_interactions(scoped, full=False))
    rows.append(("timeline", a, b, a[2] == b[2] and attachments(whole) == attachments(scoped)))
    a = timed(lambda: plan_hash(whole, publish, False, now))
    b = timed(lambda: plan_hash(scoped, publish, True, now))
    rows.append(("plan", a, b, a[2] == b[2]))
    a = timed(lambda: kpi_figures(whole, config.kpis))

    def kpis_scoped() -> list[Any] | None:
        return None if fingerprint(scoped, config.kpis) == last_fingerprint else kpi_figures(scoped, config.kpis)

    b = timed(kpis_scoped)
    rows.append(("kpis", a, b, b[2] is None or a[2] == b[2]))
    print(f"\n{case}")
    print(f"  {'step':<10}{'every row CPU s':>17}{'wall s':>9}{'scoped CPU s':>15}{'wall s':>9}  same result")
    for name, (cpu_a, wall_a, _), (cpu_b, wall_b, _), same in rows:
        print(f"  {name:<10}{cpu_a:>17.2f}{wall_a:>9.2f}{cpu_b:>15.2f}{wall_b:>9.2f}  {'yes' if same else 'NO'}")
    whole.close()
    scoped.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a Canalis home whose SQLite store ran a sync")
    parser.add_argument("--changed", type=float, default=0.01, help="share of customers changed (0.01 = 1%%)")
    args = parser.parse_args(argv)
    with sqlite3.connect(args.home / "canalis.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    config = load_config(args.home / "canalis.yaml")
    publish = load_publish_config(config)
    with tempfile.TemporaryDirectory(prefix="canalis-steps-") as name:
        folder = Path(name)
        base = folder / "base.db"
        shutil.copy(args.home / "canalis.db", base)
        store = Store(f"sqlite:///{base}")
        store.migrate()  # a home kept by an older version gets the tables of this one
        last = prime(store, config, publish)
        store.close()
        customers = store.count(tables.customers)
        print(f"{customers:,} customers, {store.count(tables.interactions):,} interactions")
        compare(base, folder, "nothing changed", config, publish, last)
        changed = change_customers(store, args.changed)
        store.close()
        compare(base, folder, f"{changed:,} customers changed ({args.changed:.0%})", config, publish, last)


if __name__ == "__main__":
    main()
