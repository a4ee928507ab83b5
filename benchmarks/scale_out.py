"""A full sync of a sandbox world in process on SQLite, then on the production profile with Celery workers, and
the scaling to expect with more workers.

    python -m benchmarks.scale_out --customers 100000 --workers 2 --worlds /tmp/canalis-worlds --timeout 3600

The profile is started on this machine (`canalis deploy local up`: PostgreSQL, RabbitMQ and Redis must run here)
on databases of its own, dropped at the end. Both runs read the same sandbox world (the profile's), with the
demo's connections. The estimate for more workers comes from the profile run's own step durations: the raw
reads run in parallel but each vendor's reads are capped by its pool; the canonical pass, identity, consistency
and planning each hold a store lock (one at a time); the other downstream steps run in parallel.

With `--worlds DIR` the sandbox world is generated once into DIR/world-N and copied into the profile on later runs.
The profile's run goes first. A run that does not finish within `--timeout` is stopped, and the steps it finished
are printed with their seconds (and those still running), so a world too big for the time given still says where
the time went; `--progress` prints each step as it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from canalis.deploy.local import LocalProfile, down, up
from canalis.deploy.pools import SERIAL_POOLS
from canalis.deploy.runs import graphql_client, submit
from canalis.sandbox.serve import ensure_world
from canalis.sandbox.world import WorldSpec

SERVER = os.environ.get("CANALIS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
SEED = 42
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def prepare_world(customers: int, worlds: Path, data_dir: Path) -> float:
    """Copy the world of that many customers kept under `worlds` (generated there first if missing) to data_dir;
    seconds spent generating."""
    kept = worlds / f"world-{customers}"
    started = time.perf_counter()
    generated = ensure_world(WorldSpec(seed=SEED, customers=customers), kept, pinned=False)
    seconds = time.perf_counter() - started if generated else 0.0
    shutil.copytree(kept, data_dir, ignore=shutil.ignore_patterns("*-shm", "*-wal"))
    return seconds


def running_steps(home: Path, run_id: str, environment: dict[str, str]) -> list[tuple[str, float]]:
    """(step, seconds so far) of each step of a run that started and has not ended."""
    from dagster import DagsterInstance

    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            now = time.time()
            return [
                (stat.step_key, now - stat.start_time)
                for stat in instance.get_run_step_stats(run_id)
                if stat.start_time and not stat.end_time
            ]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def print_steps(title: str, steps: list[tuple[str, float, str | None]], running: list[tuple[str, float]]) -> None:
    """The steps a run finished, longest first, and those still running."""
    print(f"{title}: {len(steps)} steps finished, {sum(d for _, d, _ in steps):.1f} s of step time", flush=True)
    for key, seconds, _ in sorted(steps, key=lambda row: -row[1]):
        print(f"    {seconds:8.1f} s  {key}")
    for key, seconds in running:
        print(f"    {seconds:8.1f} s+ {key} (still running)")


def wait_for_run(profile: LocalProfile, run_id: str, timeout: float, progress: bool, env: dict[str, str]) -> str:
    """Wait for a profile run; its status, or TIMEOUT after `timeout` s (the run is then terminated)."""
    client = graphql_client(profile)
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        try:
            status = client.get_run_status(run_id).value
        except Exception:  # the webserver busy: ask again
            status = ""
        if progress:
            for key, seconds, _ in step_stats(profile.home, run_id, env):
                if key not in seen:
                    seen.add(key)
                    print(f"  profile step done: {key} {seconds:.1f} s", flush=True)
        if status in FINISHED:
            return status
        time.sleep(5)
    with contextlib.suppress(Exception):  # the profile is stopped next anyway
        client.terminate_run(run_id)
    return "TIMEOUT"


def step_stats(home: Path, run_id: str, environment: dict[str, str]) -> list[tuple[str, float, str | None]]:
    """(step, seconds, pool) of each step of a run, from the instance in `home`."""
    from dagster import DagsterInstance

    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(run_id)
            snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            pools = {step.key: step.pool for step in snapshot.steps}
            return [
                (stat.step_key, stat.end_time - stat.start_time, pools.get(stat.step_key))
                for stat in instance.get_run_step_stats(run_id)
                if stat.end_time and stat.start_time
            ]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def list_schedule(durations: list[float], workers: int) -> float:
    """Makespan of independent tasks on `workers`, longest first (LPT)."""
    finish = [0.0] * workers
    for duration in sorted(durations, reverse=True):
        earliest = heapq.heappop(finish)
        heapq.heappush(finish, earliest + duration)
    return max(finish) if durations else 0.0


def estimate(steps: list[tuple[str, float, str | None]], workers: int, limits: dict[str, int]) -> dict[str, float]:
    """Seconds of each stage with `workers`: raw reads (vendor-capped), serial store steps, other steps."""
    raw = [(d, pool) for key, d, pool in steps if key.startswith("raw__")]
    serial = [d for key, d, pool in steps if not key.startswith("raw__") and pool in SERIAL_POOLS]
    other = [d for key, d, pool in steps if not key.startswith("raw__") and pool not in SERIAL_POOLS]
    by_pool: dict[str, float] = defaultdict(float)
    for duration, pool in raw:
        by_pool[pool or ""] += duration / max(1, limits.get(pool or "", workers))
    raw_time = max(list_schedule([d for d, _ in raw], workers), max(by_pool.values(), default=0.0))
    return {"raw": raw_time, "serial": sum(serial), "other": list_schedule(other, workers)}


def run_in_process(environment: dict[str, str], folder: Path, timeout: float) -> tuple[float, str | None, Path, bool]:
    """`canalis run full_sync` on a fresh SQLite store: seconds, run id, Dagster home, whether it finished."""
    home = folder / "in_process"
    home.mkdir()
    env = {
        **os.environ,
        **{k: v for k, v in environment.items() if k.startswith("CANALIS_")},
        "CANALIS_HOME": str(home),
        "DAGSTER_HOME": str(home),
        "CANALIS_DATABASE_URL": f"sqlite:///{home / 'canalis.db'}",
        "CANALIS_EXECUTOR": "in_process",
    }
    started = time.perf_counter()
    finished = True
    try:
        result = subprocess.run(
            [sys.executable, "-m", "canalis.cli.main", "run", "full_sync", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise SystemExit(f"in-process full sync failed:\n{result.stderr[-2000:]}")
    except subprocess.TimeoutExpired:
        finished = False
    seconds = time.perf_counter() - started
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        run_id = runs[0].run_id if runs else None
    return seconds, run_id, home, finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_out")
    parser.add_argument("--customers", type=int, default=1000, help="customers in the sandbox world")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers of the profile")
    parser.add_argument("--worlds", type=Path, default=None, help="folder keeping generated worlds between runs")
    parser.add_argument("--timeout", type=float, default=24 * 3600, help="seconds each full sync may take")
    parser.add_argument("--progress", action="store_true", help="print each profile step as it ends")
    parser.add_argument("--skip-in-process", action="store_true", help="only the profile's run")
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]
    in_process, local_steps, local_done, generation = 0.0, [], False, 0.0
    with tempfile.TemporaryDirectory(prefix="canalis-scale-") as tmp:
        folder = Path(tmp)
        profile = LocalProfile(
            folder=folder / "prod",
            instance_database=f"{SERVER}/canalis_bench_{tag}_dagster",
            store_database=f"{SERVER}/canalis_bench_{tag}_store",
            queue=f"canalis_bench_{tag}",
            workers=args.workers,
            sandbox_customers=args.customers,
            webserver_port=3071,
            code_server_port=4267,
            sandbox_port=8791,
            sandbox_imap_port=8191,
        )
        if args.worlds is not None:
            generation = prepare_world(args.customers, args.worlds, profile.home / "sandbox")
        started = time.perf_counter()
        try:
            environment = up(profile, out=open(os.devnull, "w"))  # noqa: SIM115
            setup = time.perf_counter() - started
            print(f"profile up in {setup:.1f} s; full sync on the profile", flush=True)
            started = time.perf_counter()
            run_id = submit(profile, "full_sync")
            status = wait_for_run(profile, run_id, args.timeout, args.progress, environment)
            on_profile = time.perf_counter() - started
            steps = step_stats(profile.home, run_id, environment)
            if status == "TIMEOUT":
                print_steps(
                    f"profile run stopped after {on_profile:.0f} s",
                    steps,
                    running_steps(profile.home, run_id, environment),
                )
            elif not args.skip_in_process:
                print("full sync in process", flush=True)
                in_process, local_run, local_home, local_done = run_in_process(environment, folder, args.timeout)
                local_steps = step_stats(local_home, local_run, {}) if local_run else []
                if not local_done:
                    print_steps(
                        f"in-process run stopped after {in_process:.0f} s",
                        local_steps,
                        running_steps(local_home, local_run, {}) if local_run else [],
                    )
            from canalis.config.connections import load_config
            from canalis.connectors.registry import discover
            from canalis.deploy.pools import pool_limits

            saved = os.environ.get("CANALIS_CONFIG")
            os.environ["CANALIS_CONFIG"] = str(profile.connections)
            limits = {row.pool: row.limit for row in pool_limits(load_config(), discover())}
            if saved is None:
                os.environ.pop("CANALIS_CONFIG")
        finally:
            down(LocalProfile.load(profile.folder), out=open(os.devnull, "w"))  # noqa: SIM115
            engine = sa.create_engine(f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/postgres")
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                for database in (profile.instance_database, profile.store_database):
                    name = database.rsplit("/", 1)[1]
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()
    print(f"machine: {os.cpu_count()} cores, shared with other work while measuring")
    connections = {key.split("__")[1] for key, _, _ in steps if key.startswith("raw__")}
    print(f"world: {args.customers} customers, the demo's {len(connections)} connections")
    if generation:
        print(f"world generation (kept in {args.worlds}): {generation:.1f} s")
    print(f"profile start-up (sandbox world, databases, migrations, processes): {setup:.1f} s")
    if local_steps or local_done:
        print(
            f"full sync in process on SQLite:                  {in_process:8.1f} s  ({len(local_steps)} steps, "
            f"{sum(d for _, d, _ in local_steps):.1f} s of step time{'' if local_done else ', stopped'})"
        )
    print(
        f"full sync on the profile, {args.workers} Celery workers:       {on_profile:8.1f} s  ({status}, "
        f"{len(steps)} steps, {sum(d for _, d, _ in steps):.1f} s of step time)"
    )
    if status == "TIMEOUT":
        return 1
    modelled = estimate(steps, args.workers, limits)
    # What the step times do not show (task dispatch, a process per step loading the code location, run start)
    # is spread over the steps: each step costs that much more, on whichever worker runs it.
    per_step = max(0.0, on_profile - sum(modelled.values())) * args.workers / max(1, len(steps))
    print(
        f"  of which raw reads {modelled['raw']:.1f} s, serial store steps {modelled['serial']:.1f} s, other steps "
        f"{modelled['other']:.1f} s; dispatch and step start-up about {per_step:.1f} s per step"
    )
    print("expected with more workers (the same step durations and per-step start-up; raw reads capped by pools):")
    loaded = [(key, seconds + per_step, pool) for key, seconds, pool in steps]
    for workers in (args.workers, 4, 16, 64):
        stages = estimate(loaded, workers, limits)
        print(
            f"  {workers:>3} workers: {sum(stages.values()):8.1f} s  (raw reads {stages['raw']:.1f}, serial store "
            f"steps {stages['serial']:.1f}, other steps {stages['other']:.1f})"
        )
    print_steps("profile steps", steps, [])
    print(json.dumps({"in_process_s": round(in_process, 1), "profile_s": round(on_profile, 1), "steps": steps}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
