"""Cost of pairwise scoring (comparison levels and match weights) per candidate pair, in CPU time.

    python -m benchmarks.scoring_benchmark [--people 20000] [--level medium] [--repeat 3]
    python -m benchmarks.scoring_benchmark --world-dir DIR --records 100000

A generated email-less set (benchmarks/corrupted_people.py, zipf shape), or with `--world-dir` the sandbox
world's people cloned to `--records` records (as identity_benchmark's speed run does), is blocked as the engine
does; a model is trained once; then `compare` and `match_weights` run over all candidate pairs `--repeat`
times. Printed: pairs, CPU seconds (process time, all threads) and wall seconds
of the best run, and microseconds per pair. CPU time is the figure to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from canalis.identity import IdentityConfig, IdentityRecord
from canalis.identity.blocking import candidate_pairs
from canalis.identity.compare import compare, score_columns
from canalis.identity.features import Frame
from canalis.identity.resolver import resolve_frame
from canalis.identity.scoring import match_weights


def main(argv: list[str] | None = None) -> None:
    from benchmarks.corrupted_people import PeopleSpec, generate

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--level", default="medium")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--world-dir", type=Path, default=None, help="a sandbox world (generated when missing)")
    parser.add_argument("--records", type=int, default=100_000, help="records cloned from the world")
    args = parser.parse_args(argv)
    config = IdentityConfig()
    if args.world_dir is not None:
        from benchmarks.identity_benchmark import clone_population, load_world
        from canalis.sandbox.world import WorldSpec

        spec = WorldSpec()
        world = load_world(args.world_dir, spec.customers, spec.seed)
        rows = list(clone_population(world, args.records, spec.seed))
    else:
        rows, _ = generate(PeopleSpec(people=args.people, level=args.level, shape="zipf"))
    frame = Frame.from_records([IdentityRecord.from_mapping(row) for row in rows], config)
    model = resolve_frame(frame, config).model
    a, b, _, _ = candidate_pairs(frame, config.block_limits())
    columns = score_columns(frame)
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(args.repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        comparison = compare(columns, a, b, config.workers)
        match_weights(comparison, columns, a, model).sum(axis=1)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    print(json.dumps({"records": len(frame), "pairs": len(a), "cpu_seconds": round(best_cpu, 3),
                      "wall_seconds": round(best_wall, 3), "us_per_pair_cpu": round(best_cpu / len(a) * 1e6, 3),
                      "load_average": round(os.getloadavg()[0], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
