"""Ingest and mapping throughput of the store path: CSV rows -> raw landing table -> canonical customer records.

    python -m benchmarks.pipeline_benchmark --records 100000

Prints records/s for the ingest step and the mapping step, and peak memory. The rows carry the variety of real
data (benchmarks/contacts.py: thousands of distinct names, streets and cities, several phone formats, email case,
missing values) so normalisation does real work and its caches rarely hit.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.contacts import Pools, contact, pools
from canalis.canonical.canonicalize import canonicalize
from canalis.connectors.file_drop import FileDropConnector
from canalis.connectors.registry import shipped_mapping
from canalis.ingest.stream import ingest_stream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.store import Store


def write_rows(path: Path, count: int, seed: int = 7) -> Pools:
    """Write the contacts as a CSV export; the pools they were drawn from."""
    rng = random.Random(seed)
    drawn = pools(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "birth_date",
                "street",
                "postcode",
                "city",
                "country",
                "accepts_marketing",
                "updated_at",
            ]
        )
        for n in range(count):
            person = contact(n, rng, drawn)
            writer.writerow(
                [
                    f"C{n}",
                    person["first_name"] or "",
                    person["last_name"],
                    person["email"],
                    person["phone"] or "",
                    person["birth_date"] or "",
                    person["street"] or "",
                    person["postcode"],
                    person["city"],
                    person["country"],
                    "yes" if person["accepts_marketing"] else "no",
                    "2026-10-01T10:00:00Z",
                ]
            )
    return drawn


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        drawn = write_rows(root / "customers.csv", args.records)
        store = Store(f"sqlite:///{root / 'bench.db'}")
        store.migrate()
        connector = FileDropConnector.from_config({"path": str(root), "page_size": 2000}, connection="bench")
        started = time.perf_counter()
        with connector:
            report = ingest_stream(store, connector, "customers")
        ingest_seconds = time.perf_counter() - started
        mapper = Mapper(load_mapping(shipped_mapping("file_drop")), connection="bench", channel="web")
        started = time.perf_counter()
        mapped = canonicalize(store, {"bench": mapper}, "customer_record")
        map_seconds = time.perf_counter() - started
        store.close()
    figures = {
        "records": args.records,
        "ingest_records_per_s": round(report.records_read / ingest_seconds),
        "map_records_per_s": round(mapped.mapped / map_seconds),
        "end_to_end_records_per_s": round(args.records / (ingest_seconds + map_seconds)),
        "peak_rss_mb": round(peak_rss_mb()),
        **{f"distinct_{name}": size for name, size in drawn.sizes().items()},
    }
    print("pipeline (file drop -> raw -> canonical customer records, SQLite)")
    for name, value in figures.items():
        print(f"  {name:<26} {value}")
    return figures


if __name__ == "__main__":
    main()
