"""The `unified_customers` path in the store: full resolution of customer_records, then an incremental batch.

    python -m benchmarks.unified_benchmark --records 100000 [--database sqlite|postgresql|URL] [--changed 10000]

Customer records are synthesised from a sandbox world (its people cloned under new identities, each spelled the
way its systems spell it, see identity_benchmark.clone_population) and written to `customer_records` of a fresh
store. Timed: `resolve_customers(full=True)` (read the records, resolve, write source_identities, customers,
links, indexes and state), then `--changed` records changed in place and resolved incrementally (read the
changes, resolve the part of the graph they touch, persist, update golden records). Prints wall seconds, CPU
seconds of the process (steadier on a shared machine; a database server's own CPU is not counted), records/s,
the load average, the peak resident memory of the process, and the saved identity state's pieces (how many,
their size, how many the incremental run rewrote). PostgreSQL is at CANALIS_TEST_POSTGRES_URL or
127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.identity_benchmark import clone_population, load_world
from canalis.identity import IdentityConfig
from canalis.identity.persistence import resolve_customers
from canalis.identity.tables import identity_state
from canalis.sandbox.world import WorldSpec
from canalis.store import Store
from canalis.store.tables import customer_records

POSTGRES = os.environ.get("CANALIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
_FIELDS = ("given_name", "family_name", "email", "phone", "street", "postcode", "city", "region", "loyalty_id")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process (user and system): steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def customer_row(row: dict[str, Any]) -> dict[str, Any]:
    """A customer_records row from an identity record of the world."""
    birth = row.get("birth_date")
    values = {name: row.get(name) or None for name in _FIELDS}
    values.update(
        record_key=f"{row['source']}:customers:{row['source_id']}", source=row["source"], object="customers",
        source_id=str(row["source_id"]), birth_date=date.fromisoformat(str(birth)[:10]) if birth else None,
        country=None, external_ids=row.get("external_ids") or None, attributes=None, source_updated_at=None,
        loaded_at=NOW,
    )  # fmt: skip
    digest = json.dumps([values[name] for name in (*_FIELDS, "record_key")], default=str)
    values["content_hash"] = hashlib.sha256(digest.encode()).hexdigest()
    return values


def fill(engine: sa.Engine, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows:
            batch.append(customer_row(row))
            if len(batch) == 20_000:
                connection.execute(sa.insert(customer_records), batch)
                count += len(batch)
                batch = []
        if batch:
            connection.execute(sa.insert(customer_records), batch)
            count += len(batch)
    return count


def change(engine: sa.Engine, count: int, seed: int) -> int:
    """Change `count` records in place (a new street number or a corrected name), as a sync would."""
    with engine.connect() as connection:
        keys = [k for (k,) in connection.execute(sa.select(customer_records.c.record_key))]
    picked = random.Random(seed).sample(keys, min(count, len(keys)))
    with engine.begin() as connection:
        rows = connection.execute(
            sa.select(customer_records.c.record_key, customer_records.c.street, customer_records.c.given_name).where(
                customer_records.c.record_key.in_(sa.bindparam("keys", expanding=True))
            ),
            {"keys": picked},
        ).all()
        updates = [
            {"k": key, "street": f"{i % 90 + 1} {street}" if street else None, "given": given,
             "hash": uuid.uuid4().hex}
            for i, (key, street, given) in enumerate(rows)
        ]  # fmt: skip
        connection.execute(
            sa.update(customer_records)
            .where(customer_records.c.record_key == sa.bindparam("k"))
            .values(street=sa.bindparam("street"), content_hash=sa.bindparam("hash")),
            updates,
        )
    return len(updates)


def state_pieces(engine: sa.Engine) -> dict[str, Any]:
    """The saved identity state: its pieces and size, and how many of them the last run rewrote."""
    table = identity_state
    with engine.connect() as connection:
        last = connection.execute(sa.select(sa.func.max(table.c.run_id))).scalar_one()
        # Grouped by run and summed here: PostgreSQL cannot group by an expression holding a bound value.
        rows = connection.execute(
            sa.select(table.c.run_id, sa.func.count(), sa.func.sum(sa.func.length(table.c.data))).group_by(
                table.c.run_id
            )
        ).all()
    total = sum(count for _, count, _ in rows)
    size = sum(int(size or 0) for _, _, size in rows)
    latest = [(count, int(size or 0)) for run_id, count, size in rows if run_id == last]
    return {"pieces": total, "megabytes": round(size / 1e6, 1), "rewritten_by_last_run": sum(c for c, _ in latest),
            "megabytes_rewritten": round(sum(b for _, b in latest) / 1e6, 1)}  # fmt: skip


def run(url: str, records: int, changed: int, seed: int, world_dir: Path, people: int) -> dict[str, Any]:
    store = Store(url)
    store.migrate()
    engine = store.engine
    try:
        rows = load_world(world_dir, people, seed)
        filled = fill(engine, clone_population(rows, records, seed))
        config = IdentityConfig()
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), cpu_seconds()
        full = resolve_customers(engine, config=config, full=True)
        full_seconds, full_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        done = change(engine, changed, seed)
        started, cpu = time.perf_counter(), cpu_seconds()
        incremental = resolve_customers(engine, config=config)
        incremental_seconds, incremental_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        state = state_pieces(engine)
        return {
            "database": engine.dialect.name,
            "records": filled,
            "full_seconds": round(full_seconds, 2),
            "full_cpu_seconds": round(full_cpu, 2),
            "full_records_per_second": round(filled / full_seconds),
            "full_stage_seconds": full.timings,
            "customers": full.customers_total,
            "changed_records": done,
            "incremental_seconds": round(incremental_seconds, 2),
            "incremental_cpu_seconds": round(incremental_cpu, 2),
            "incremental_resolved": incremental.records_resolved,
            "incremental_stage_seconds": incremental.timings,
            "state_pieces": state,
            "load_average_before": round(load_before, 2),
            "peak_rss_mb": round(peak_rss_mb()),
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a database URL")
    parser.add_argument("--seed", type=int, default=WorldSpec().seed)
    parser.add_argument("--world-dir", type=Path, default=None, help="where to generate (or find) the world")
    parser.add_argument("--world-customers", type=int, default=3000, help="people of the world the clones come from")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="canalis-unified-bench-") as scratch:
        url = {"sqlite": f"sqlite:///{Path(scratch) / 'bench.db'}", "postgresql": POSTGRES}.get(
            args.database, args.database
        )
        if url == POSTGRES:
            engine = sa.create_engine(url)
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with engine.begin() as connection:
                connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
            url = f"{url}?options=-csearch_path%3D{schema}"
        world = args.world_dir or Path(scratch) / "world"
        try:
            print(
                json.dumps(
                    {"unified_customers": run(url, args.records, args.changed, args.seed, world, args.world_customers)},
                    indent=2,
                )
            )
        finally:
            if args.database == "postgresql":
                with engine.begin() as connection:
                    connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
