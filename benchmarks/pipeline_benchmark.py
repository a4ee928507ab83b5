"""Ingest and mapping throughput of the store path: CSV rows -> raw landing table -> canonical customer records.

    python -m benchmarks.pipeline_benchmark --records 100000

Prints records/s for the ingest step and the mapping step, and peak memory. The rows carry realistic
variation (phone formats, email case) so normalisation does real work.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import tempfile
import time
from pathlib import Path

from canalis.canonical.canonicalize import canonicalize
from canalis.connectors.file_drop import FileDropConnector
from canalis.connectors.registry import shipped_mapping
from canalis.ingest.stream import ingest_stream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.store import Store

FIRST = ["Camille", "Hugo", "Léa", "Louis", "Chloé", "Jules", "Manon", "Gabriel", "Inès", "Arthur"]
LAST = ["Dubois", "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Leroy", "Moreau"]


def write_rows(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
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
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{last.lower()}{n}@example.fr"
            digits = f"6{n % 100_000_000:08d}"
            phone = f"0{digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:9]}" if n % 2 else f"+33{digits}"
            writer.writerow(
                [
                    f"C{n}",
                    first,
                    last,
                    email.upper() if n % 5 == 0 else email,
                    phone,
                    f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}",
                    f"{n % 200} rue de la Paix",
                    "75002",
                    "Paris",
                    "France",
                    "yes" if n % 3 else "no",
                    "2026-10-01T10:00:00Z",
                ]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_rows(root / "customers.csv", args.records)
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
    }
    print("pipeline (file drop -> raw -> canonical customer records, SQLite)")
    for name, value in figures.items():
        print(f"  {name:<26} {value}")
    return figures


if __name__ == "__main__":
    main()
