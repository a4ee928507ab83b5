"""A process running chaos steps that can stop at a kill point and wait there for `kill -9`.

`python -m canalis.sandbox.chaos.child --store URL --config FILE --steps read,canonical --stop-at canonical`
runs the steps in order; with `--stop-at`, it prints `STOPPED-AT <step>` once that step is under way (some raw
pages stored, one canonical chunk written, identity's results or the plan written but not committed) and sleeps, so
the parent kills it at that very point. The kill in the middle of a write batch needs no stop: the parent kills
this process from the sandbox when the vendor has applied a write, before the answer goes out.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from canalis.config.connections import CanalisConfig
from canalis.sandbox.chaos.pipeline import STEPS, run_steps
from canalis.store import Store

STOP_MARK = "STOPPED-AT"
LANDED_PAGES_BEFORE_STOP = 3
STOP_SECONDS = 300


def _stop(step: str) -> None:
    print(f"{STOP_MARK} {step}", flush=True)
    time.sleep(STOP_SECONDS)  # the parent kills this process now
    raise SystemExit(f"not killed at {step}")


def _after(calls: int, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, stopping at `step` after its `calls`-th call returned."""
    count = 0

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        result = function(*args, **kwargs)
        count += 1
        if count == calls:
            _stop(step)
        return result

    return wrapped


def arm(step: str) -> None:
    """Stop at a point inside `step`: after a few raw pages stored, a canonical chunk written, or identity's
    results or the plan written inside their transaction."""
    if step == "read":
        from canalis.ingest import landing

        landing.Lander.land = _after(LANDED_PAGES_BEFORE_STOP, step, landing.Lander.land)  # type: ignore[method-assign]
    elif step == "canonical":
        from canalis.canonical import canonicalize

        canonicalize._Pass._write = _after(1, step, canonicalize._Pass._write)  # type: ignore[method-assign]
    elif step == "identity":
        from canalis.identity import persistence

        persistence._write = _after(1, step, persistence._write)  # type: ignore[assignment]
    elif step == "plan":
        from canalis.publishing import plans

        plans.store_plan = _after(1, step, plans.store_plan)  # type: ignore[assignment]
    else:
        raise SystemExit(f"no kill point inside {step}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canalis.sandbox.chaos.child")
    parser.add_argument("--store", required=True)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--steps", required=True)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--run-id", default="chaos")
    parser.add_argument("--stop-at")
    args = parser.parse_args(argv)
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}: known {list(STEPS)}")
    if args.stop_at:
        arm(args.stop_at)
    config = CanalisConfig.model_validate(yaml.safe_load(args.config.read_text(encoding="utf-8")))
    with Store(args.store) as store:
        run_steps(store, config, steps, full=args.full, run_id=args.run_id)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
