"""Measure the Shopify emulator's bulk exports: wall and CPU seconds, lines and bytes written per export.

Runs the connector's bulk queries (customers, orders with their lines, variants) one after the other over a world,
as the emulator's background thread runs them, in this process. `--executor graphql-core` answers each page with
graphql-core's `execute` instead of the emulator's bulk executor, for a side-by-side figure; both write the same
bytes (the script checks it when given `--compare`). On a shared machine the CPU seconds are the figure to compare.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphql import execute

from canalis.connectors.shopify import queries
from canalis.sandbox.emulators.shopify import bulk as bulk_module
from canalis.sandbox.emulators.shopify import bulkquery
from canalis.sandbox.emulators.shopify.bulk import BulkOperations
from canalis.sandbox.emulators.shopify.objects import ObjectAccess
from canalis.sandbox.emulators.shopify.schema import schema_for
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import WorldSpec, generate_world, store_path

VERSION = "2026-07"
PINNED = datetime(2026, 1, 15, 9, tzinfo=UTC)


class _GraphQLCoreQuery(bulkquery.BulkQuery):
    """Pages answered by graphql-core's `execute`, as the emulator once did."""

    def __init__(self, schema: Any, document: Any) -> None:
        super().__init__(schema, document)
        self.document = document

    def run(self, context: Any) -> dict[str, Any]:
        result = execute(self.schema, self.document, context_value=context)
        if result.errors:
            raise bulkquery.BulkQueryError(result.errors[0].message)
        return result.data or {}


def export(store: ObjectStore, out_dir: Path, kind: str, number: int, *, group: bool) -> tuple[float, float, Path]:
    """Run one bulk export to its end; wall seconds, CPU seconds and the file written."""
    bulk = BulkOperations(ObjectAccess(store), schema_for, out_dir)
    state = {
        "id": f"gid://shopify/BulkOperation/{number}",
        "status": "CREATED",
        "query": queries.BULK[kind],
        "version": VERSION,
        "groupObjects": group,
    }
    wall, cpu = time.perf_counter(), time.process_time()
    bulk._export(number, state)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if state["status"] != "COMPLETED":
        raise RuntimeError(f"{kind} export ended {state['status']}")
    return wall, cpu, out_dir / str(state["file"])


def main(argv: list[str] | None = None) -> None:
    """Generate (or reuse) a world and print each export's figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="a world generated there is reused; kept")
    parser.add_argument("--kinds", default="customers,orders,variants")
    parser.add_argument("--group", action="store_true", help="groupObjects: true, as the connector asks")
    parser.add_argument("--executor", choices=("bulk", "graphql-core"), default="bulk")
    parser.add_argument("--compare", action="store_true", help="also run graphql-core and compare the files")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="canalis-bulk-"))
    if not store_path(data_dir).exists():
        generate_world(WorldSpec(seed=args.seed, customers=args.customers, now=PINNED), data_dir)
    schema_for(VERSION)  # built once, outside the figures
    out_dir = Path(tempfile.mkdtemp(prefix="canalis-bulk-out-"))
    executors = ["bulk", "graphql-core"] if args.compare else [args.executor]
    try:
        with ObjectStore(store_path(data_dir)) as store:
            for number, kind in enumerate(args.kinds.split(","), start=1):
                files = []
                for executor in executors:
                    if executor == "graphql-core":
                        bulk_module.BulkQuery = _GraphQLCoreQuery  # type: ignore[misc]
                    try:
                        wall, cpu, path = export(store, out_dir / executor, kind, number, group=args.group)
                    finally:
                        bulk_module.BulkQuery = bulkquery.BulkQuery  # type: ignore[misc]
                    lines = sum(1 for _ in path.open(encoding="utf-8"))
                    print(
                        f"{kind:<10} {executor:<13} wall {wall:7.1f} s  cpu {cpu:7.1f} s  lines {lines:>9}  "
                        f"{path.stat().st_size / 2**20:7.1f} MiB",
                        flush=True,
                    )
                    files.append(path)
                if len(files) == 2:
                    print(f"{kind:<10} identical files: {filecmp.cmp(files[0], files[1], shallow=False)}")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
