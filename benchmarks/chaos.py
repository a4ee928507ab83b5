"""The chaos table: a fixed-seed sandbox world under heavy faults on every emulator, then killed with kill -9 in
every step, each compared with an undisturbed run of the same world; and two first runs at once on a fresh home.

    python -m benchmarks.chaos [--customers 30] [--seed 7] [--faults SPEC] [--skip-first-runs]

Prints, per scenario: faults injected per kind, records quarantined with their reasons, records healed by replay,
records lost, writes applied twice and audit rows missing (the last three must be 0), and the time it took.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from canalis.sandbox.chaos.scenarios import CUSTOMERS, HEAVY_FAULTS, SEED, ChaosLab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--faults", default=HEAVY_FAULTS)
    parser.add_argument("--skip-first-runs", action="store_true", help="leave out the two first runs at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="canalis-chaos-") as folder:
        lab = ChaosLab(Path(folder), seed=args.seed, customers=args.customers, faults=args.faults)
        started = time.perf_counter()
        reference = lab.undisturbed()
        print(reference.table.render())
        print(f"  {'records stored':<40}  {sum(len(keys) for keys in reference.snapshot.keys.values()):>8}")
        print(f"  {'time':<40}  {time.perf_counter() - started:>7.1f}s\n")
        for scenario in (lab.under_faults, lab.killed):
            started = time.perf_counter()
            result = scenario()
            print(result.table.render())
            for step in result.failed_steps:
                print(f"  failed: {step}")
            print(f"  {'time':<40}  {time.perf_counter() - started:>7.1f}s\n")
            failures += result.table.records_lost + result.table.applied_twice + result.table.audit_missing
        if not args.skip_first_runs:
            started = time.perf_counter()
            first = lab.first_runs()
            print("two first runs at once on a fresh home")
            print(
                f"  exit codes {first.exit_codes}; Alembic heads per database {first.heads}; "
                f"records lost {sum(first.lost.values())}; {time.perf_counter() - started:.1f} s"
            )
            failures += any(first.exit_codes) + sum(first.lost.values())
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
