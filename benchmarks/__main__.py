"""Run every benchmark at its default size and print its figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "pipeline_benchmark",
    "canonical_benchmark",
    "world_generation",
    "sync_benchmark",
    "identity_benchmark",
    "connector_benchmark",
    "ingest_benchmark",
    "hubspot_sync_benchmark",
    "erasure_benchmark",
    "scale_out",
    "run_overhead",
    "replay_benchmark",
)


def main() -> int:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"benchmarks.{name}":
                continue
            raise
        print(f"== {name}")
        module.main([])
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
