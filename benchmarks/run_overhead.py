"""The fixed cost of a `canalis run`: start-up, Dagster's per-step overhead, and the share of a demo run they take.

    python -m benchmarks.run_overhead --job full_sync --runs 2

Runs `canalis run <job>` as a subprocess in a scratch copy of dagster_home/ (the demo world, the sandbox served
by the run), measuring its wall time and CPU time (user + system of the child), then reads the run's event log
to split the wall time into:

- before the run: process start, imports, sandbox start, connections check, definitions built, run created
  (with Dagster's "planned" events written one by one);
- to the first step: RUN_START to the first STEP_START;
- between steps: the time no step was running (a STEP_SUCCESS to the next STEP_START), per step;
- after the last step: the last step's end to RUN_SUCCESS, then the summary until the process exits.

Also prints the import time of the code location (`canalis.assets.definitions`) in a fresh interpreter. The machine
may be loaded: compare CPU seconds, or runs started side by side.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunFigures:
    wall: float
    cpu: float
    before_run: float
    to_first_step: float
    steps: int
    in_steps: float
    between_steps: float
    after_last_step: float
    after_run: float


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(home: Path, job: str, source: Path | None = None) -> RunFigures:
    """One `canalis run` in `home`, timed from outside and split by its event log (code from `source` if given)."""
    environment = {**os.environ, "DAGSTER_HOME": str(home), "CANALIS_HOME": str(home)}
    environment.pop("CANALIS_SANDBOX_URL", None)
    if source is not None:
        environment["PYTHONPATH"] = str(source)
    cpu_before = child_cpu()
    started = time.time()
    process = subprocess.run(
        [sys.executable, "-m", "canalis.cli.main", "run", job, "--json"],
        env=environment,
        cwd=source or ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ended = time.time()
    cpu = child_cpu() - cpu_before
    if process.returncode not in (0, 1):  # 1: the run finished with failed checks or steps, still timed
        raise SystemExit(f"canalis run {job} failed ({process.returncode}):\n{process.stderr[-2000:]}")
    return split_run(home, started, ended, cpu)


def split_run(home: Path, started: float, ended: float, cpu: float) -> RunFigures:
    """The wall time of the newest run in `home`, split by its event log's timestamps."""
    os.environ["DAGSTER_HOME"] = str(home)
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        events = [event for event in instance.all_logs(run.run_id) if event.dagster_event is not None]
    run_start = min(e.timestamp for e in events if e.dagster_event.event_type_value in ("PIPELINE_START", "RUN_START"))
    run_end = max(
        e.timestamp for e in events if e.dagster_event.event_type_value in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE")
    )
    intervals = step_intervals(events)
    first_step = intervals[0][0] if intervals else run_start
    last_step = max(end for _, end in intervals) if intervals else run_end
    busy = covered(intervals)
    return RunFigures(
        wall=ended - started,
        cpu=cpu,
        before_run=run_start - started,
        to_first_step=first_step - run_start,
        steps=len(intervals),
        in_steps=busy,
        between_steps=(last_step - first_step) - busy,
        after_last_step=run_end - last_step,
        after_run=ended - run_end,
    )


def step_intervals(events) -> list[tuple[float, float]]:
    """(start, end) of each step, in start order."""
    starts: dict[str, float] = {}
    intervals = []
    for event in events:
        kind = event.dagster_event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED") and event.step_key in starts:
            intervals.append((starts.pop(event.step_key), event.timestamp))
    return sorted(intervals)


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, reach = 0.0, float("-inf")
    for start, end in intervals:
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def import_seconds(module: str, source: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of `import module` in a fresh interpreter, with the demo's connections file."""
    code = (
        f"import resource, time; t = time.perf_counter(); import {module}; w = time.perf_counter() - t; "
        "u = resource.getrusage(resource.RUSAGE_SELF); print(w, u.ru_utime + u.ru_stime)"
    )
    home = str((source or ROOT) / "dagster_home")
    environment = {**os.environ, "CANALIS_HOME": home, "DAGSTER_HOME": home}
    if source is not None:
        environment["PYTHONPATH"] = str(source)
    out = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=source or ROOT, capture_output=True, text=True, check=True
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default="full_sync", choices=["full_sync", "incremental_sync"])
    parser.add_argument("--runs", type=int, default=2, help="runs in the same home (the first generates the world)")
    parser.add_argument("--home", type=Path, help="a scratch home to reuse (default: a fresh copy of dagster_home/)")
    parser.add_argument(
        "--source",
        type=Path,
        help="another tree laid out as the installed `canalis` package, with its dagster_home/ (to compare versions "
        "side by side); default: this checkout as installed",
    )
    args = parser.parse_args(argv)
    source = args.source.resolve() if args.source else None

    for module in ("canalis.cli.main", "canalis.assets.definitions"):
        wall, cpu = import_seconds(module, source)
        print(f"import {module:<28} {wall:6.2f} s wall  {cpu:6.2f} s CPU (interpreter included)")

    scratch = None
    home = args.home
    if home is None:
        scratch = tempfile.mkdtemp(prefix="canalis-run-overhead-")
        home = Path(scratch) / "home"
        shutil.copytree((source or ROOT) / "dagster_home", home)
    try:
        print(
            f"{'run':<18} {'wall':>6} {'CPU':>6} {'before':>7} {'to 1st':>7} {'steps':>5} {'in steps':>8} "
            f"{'between':>8} {'/step':>6} {'to end':>7} {'after':>6} {'fixed share':>11}"
        )
        for index in range(args.runs):
            figures = run_once(home, args.job, source)
            fixed = (
                figures.before_run
                + figures.to_first_step
                + figures.between_steps
                + figures.after_last_step
                + figures.after_run
            )
            per_step = figures.between_steps / max(figures.steps - 1, 1)
            label = f"{args.job} #{index + 1}" + (" (world)" if index == 0 and args.home is None else "")
            print(
                f"{label:<18} {figures.wall:6.1f} {figures.cpu:6.1f} {figures.before_run:7.2f} "
                f"{figures.to_first_step:7.2f} {figures.steps:5d} {figures.in_steps:8.2f} "
                f"{figures.between_steps:8.2f} {per_step:6.3f} {figures.after_last_step:7.2f} "
                f"{figures.after_run:6.2f} {fixed / figures.wall:10.0%}"
            )
        print("seconds; wall from outside the process, CPU = user + system of the child; 'fixed share' = wall")
        print("outside steps (before, to 1st, between, to end, after) over the run's wall time; load:", load())
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())
