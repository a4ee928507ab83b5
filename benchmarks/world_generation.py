"""Measure sandbox world generation: wall and CPU time, peak memory and output size for a number of customers.

CPU seconds add up this process and its worker processes (user + system); peak memory is the largest resident set
of this process and, apart, of any one worker. On a shared machine the CPU time is the figure to compare.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canalis.sandbox.world import WorldSpec, generate_world


class _Progress(logging.Handler):
    """Every n-th chunk written: wall seconds, CPU seconds and resident memory of this process and its workers."""

    def __init__(self, every: int) -> None:
        super().__init__()
        import psutil  # a test and dev dependency, needed only here

        self.process, self.every, self.seen = psutil.Process(), every, 0
        self.started = time.perf_counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        if self.seen % self.every:
            return
        workers = self.process.children(recursive=True)
        cpu = sum(sum(p.cpu_times()[:2]) for p in (self.process, *workers))
        rss = [p.memory_info().rss / 2**20 for p in (self.process, *workers)]
        print(
            f"progress {record.getMessage()}: {time.perf_counter() - self.started:.0f} s wall, {cpu:.0f} s CPU, "
            f"{rss[0]:.0f} MiB here, {max(rss[1:], default=0):.0f} MiB at most in a worker",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    """Generate one world and print its timing, peak RSS and size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="kept after the run; a temp dir otherwise")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: generate_world's)")
    parser.add_argument("--progress", type=int, default=0, help="print time, CPU and memory every N chunks written")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="canalis-world-"))
    if args.progress:
        logging.getLogger("canalis.sandbox.world.generate").addHandler(_Progress(args.progress))
        logging.getLogger("canalis.sandbox.world.generate").setLevel(logging.INFO)
    try:
        summary = generate_world(WorldSpec(seed=args.seed, customers=args.customers), data_dir, workers=args.workers)
        own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
        db_mib = sum(p.stat().st_size for p in data_dir.glob("world.db*")) / 2**20
        print(f"customers        {args.customers}")
        print(f"seconds          {summary.seconds:.1f}")
        print(f"cpu_seconds      {cpu:.1f}")
        print(f"peak_rss_mib     {own.ru_maxrss / 1024:.0f}")
        print(f"worker_rss_mib   {workers.ru_maxrss / 1024:.0f}")
        print(f"objects          {summary.total_objects()}")
        print(f"truth_records    {summary.truth_records}")
        print(f"mail_messages    {summary.maildir_messages}")
        print(f"store_mib        {db_mib:.0f}")
        print(f"objects_per_sec  {summary.total_objects() / max(summary.seconds, 1e-9):.0f}")
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
