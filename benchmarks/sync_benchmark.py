"""Whole syncs of a sandbox world, run as a user runs them, on SQLite and PostgreSQL.

    python -m benchmarks.sync_benchmark --customers 100000 1000000 --database sqlite postgresql

For each world size and database, in a fresh Canalis home: the world is generated (or reused from --worlds),
served by the sandbox from a process of its own (its CPU time is printed too), then `canalis run full_sync`,
`canalis run incremental_sync` after a share of the customers (--changed, 1% by default) were edited in every
channel, and `canalis run incremental_sync` with nothing changed run one after the other as separate processes.
Printed per run: wall time, the run process's CPU time and peak memory, and the seconds of its steps grouped as raw
landing, canonical pass, unified_customers, inconsistencies, plans, KPIs and the rest (read from the run's step events
in Dagster's storage). With several sizes the figures are printed side by side with the ratio of each to the smallest
size's. On a shared machine the CPU time is the steadier figure: wall time also counts the time other processes held
the cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.serve import ensure_world, set_shopify_plan
from canalis.sandbox.server.process import SandboxProcess
from canalis.sandbox.world import WorldSpec, store_path
from canalis.sandbox.world.changes import change_customers

REPO = Path(__file__).resolve().parents[1]
DEMO_HOME = REPO / "dagster_home"
POSTGRES_SERVER = os.environ.get("CANALIS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SEED = 42
RUNS = ("full_sync", "incremental_sync (changed)", "incremental_sync (unchanged)")
GROUPS = ("raw landing", "canonical pass", "unified_customers", "inconsistencies", "plans", "kpis", "other")


@dataclass
class RunFigures:
    """One job run: wall seconds, peak memory of its process and seconds per step group."""

    seconds: float
    peak_mib: float
    ok: bool
    steps: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0


def step_group(step_key: str) -> str:
    """The group of a Dagster step key of the sync jobs (asset checks go with their asset)."""
    if step_key.startswith("raw"):
        return "raw landing"
    if step_key.startswith("canonical"):
        return "canonical pass"
    if step_key.startswith(("unified", "identity")):
        return "unified_customers"
    if step_key.startswith("inconsistencies"):
        return "inconsistencies"
    if "plan" in step_key:
        return "plans"
    if "kpis" in step_key:
        return "kpis"
    return "other"


def canalis_command() -> str:
    """The `canalis` script installed beside this Python."""
    script = Path(sys.executable).with_name("canalis")
    return str(script) if script.exists() else shutil.which("canalis") or "canalis"


def run_job(job: str, environment: dict[str, str], log: Path) -> RunFigures:
    """Run `canalis run <job>` in its own process; its wall time, CPU time, peak memory and step seconds."""
    started = time.perf_counter()
    with log.open("a") as out:
        process = subprocess.Popen([canalis_command(), "run", job], env=environment, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    figures = RunFigures(seconds, usage.ru_maxrss / 1024, process.returncode == 0, step_seconds(environment))
    figures.cpu_seconds = usage.ru_utime + usage.ru_stime
    steps = ", ".join(f"{group} {value:.1f}" for group, value in figures.steps.items())
    print(
        f"  {job}: {seconds:.1f} s wall, {figures.cpu_seconds:.1f} s CPU, {figures.peak_mib:.0f} MiB; {steps}",
        flush=True,
    )
    return figures


def step_seconds(environment: dict[str, str]) -> dict[str, float]:
    """Seconds per step group of the latest run in the Dagster home of the environment."""
    from dagster import DagsterInstance

    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = environment["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            stats = instance.get_run_step_stats(runs[0].run_id) if runs else []
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved
    totals = dict.fromkeys(GROUPS, 0.0)
    for stat in stats:
        if stat.start_time is not None and stat.end_time is not None:
            totals[step_group(stat.step_key)] += stat.end_time - stat.start_time
    return totals


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """The store URL to use: None for the home's SQLite file, or a new PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    server = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"canalis_bench_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def prepare_world(customers: int, worlds: Path) -> tuple[Path, float]:
    """A world of that many customers under the worlds folder (generated unless there); seconds spent generating."""
    data_dir = worlds / f"world-{customers}"
    started = time.perf_counter()
    generated = ensure_world(WorldSpec(seed=SEED, customers=customers), data_dir, pinned=False)
    return data_dir, (time.perf_counter() - started) if generated else 0.0


def bench_one(customers: int, kind: str, worlds: Path, changed: float, keep: bool) -> dict[str, RunFigures]:
    """The three runs on one world and one database, in a fresh home."""
    world, generation = prepare_world(customers, worlds)
    if generation:
        print(f"  world of {customers} customers generated in {generation:.0f} s", flush=True)
    home = Path(tempfile.mkdtemp(prefix=f"canalis-sync-{customers}-{kind}-"))
    served = home / "sandbox"
    shutil.copytree(world, served, ignore=shutil.ignore_patterns("*-shm", "*-wal"))  # edits stay in this home
    set_shopify_plan(served, "plus")
    for name in ("canalis.yaml", "dagster.yaml"):
        shutil.copy(DEMO_HOME / name, home / name)
    log = home / "runs.log"
    figures: dict[str, RunFigures] = {}
    server = SandboxProcess(served, imap=True).start()
    try:
        with database(kind) as url:
            environment = {
                **os.environ,
                **sandbox_environment(server.base_url, server.credentials()),
                "DAGSTER_HOME": str(home),
                "CANALIS_HOME": str(home),
            }
            if url:
                environment["CANALIS_DATABASE_URL"] = url
            figures[RUNS[0]] = run_job("full_sync", environment, log)
            with ObjectStore(store_path(served)) as store:
                counts = change_customers(store, changed, datetime.now(UTC))
            print(f"  changed {sum(counts.values())} customer records across {len(counts)} channels", flush=True)
            figures[RUNS[1]] = run_job("incremental_sync", environment, log)
            figures[RUNS[2]] = run_job("incremental_sync", environment, log)
    finally:
        sandbox_cpu = server.stop()
        print(f"  the sandbox process used {sandbox_cpu:.1f} s of CPU serving the three runs", flush=True)
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"  home kept in {home}")
    if not all(run.ok for run in figures.values()):
        print(f"  a run failed: see {log}" if keep else "  a run failed (use --keep to read its log)")
    return figures


def render(results: dict[tuple[int, str], dict[str, RunFigures]]) -> str:
    """The figures as a table, one column per world size and database, ratios to the smallest size."""
    columns = sorted(results)
    smallest = {kind: min(c for c, k in columns if k == kind) for _, kind in columns}
    header = f"{'':<44}" + "".join(f"{f'{c:,} {k}':>22}" for c, k in columns)
    lines = [header]
    for run in RUNS:
        rows = [
            (f"{run}: wall s", lambda f: f.seconds),
            (f"{run}: CPU s", lambda f: f.cpu_seconds),
            (f"{run}: peak MiB", lambda f: f.peak_mib),
        ]
        rows += [(f"  {group} s", lambda f, g=group: f.steps.get(g, 0.0)) for group in GROUPS]
        for label, value in rows:
            cells = []
            for customers, kind in columns:
                figure = results[(customers, kind)].get(run)
                if figure is None:
                    cells.append(f"{'-':>22}")
                    continue
                text = f"{value(figure):.1f}" if figure.ok else "failed"
                base = results[(smallest[kind], kind)].get(run)
                if customers != smallest[kind] and base and figure.ok and value(base) > 0 and "MiB" not in label:
                    text += f" (x{value(figure) / value(base):.1f})"
                cells.append(f"{text:>22}")
            lines.append(f"{label:<44}" + "".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[tuple[int, str], dict[str, RunFigures]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--database", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite"])
    parser.add_argument("--changed", type=float, default=0.01, help="share of customer records edited (0.01 = 1%%)")
    parser.add_argument("--worlds", type=Path, default=None, help="folder keeping generated worlds between runs")
    parser.add_argument("--keep", action="store_true", help="keep each run's Canalis home and log")
    args = parser.parse_args(argv)
    worlds = args.worlds or Path(tempfile.mkdtemp(prefix="canalis-worlds-"))
    results: dict[tuple[int, str], dict[str, RunFigures]] = {}
    try:
        for customers in sorted(args.customers):
            for kind in args.database:
                print(f"== {customers:,} customers, {kind}", flush=True)
                results[(customers, kind)] = bench_one(customers, kind, worlds, args.changed, args.keep)
    finally:
        if args.worlds is None:
            shutil.rmtree(worlds, ignore_errors=True)
    print("sync (sandbox world, every connection of the demo; `canalis run` per job in a fresh home)")
    print(render(results))
    return results


if __name__ == "__main__":
    main()
