"""The canonical pass alone, on varied HubSpot contacts: raw records -> customer records, contact points, consents.

    python -m benchmarks.canonical_benchmark --records 100000 [--workers 0] [--digest] [--profile out.prof]

Lands N HubSpot contacts (benchmarks/contacts.py: thousands of distinct names, streets and cities from nine
locales, eight phone formats, email case, accents and missing values; 18 properties, some null) straight into
the raw landing table of a SQLite store, then times one full canonical pass of `customer_record` and `consent`.

With `--workers 0` (the default) the pass maps in this process, so its CPU time is the whole pass's: the figure
to compare on a loaded machine. `--digest` prints one SHA-256 over every canonical row written (timestamps of
the run left out), to check that a change keeps the results identical.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.contacts import contact, pools
from canalis.canonical.canonicalize import canonicalize_entities
from canalis.connectors.registry import shipped_mapping
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.store import Store, tables, upsert, utcnow
from canalis.store.types import JSONText, dumps

# columns that hold the time of the run, not a result of mapping
RUN_TIMES = {"loaded_at", "updated_at"}
DIGESTED = ("customer_records", "contact_points", "consents")


def hubspot_contact(n: int, rng: random.Random, drawn: Any, base: datetime) -> dict[str, Any]:
    """One HubSpot CRM v3 contact as the connector lands it: 18 properties, text values, some null."""
    person = contact(n, rng, drawn)
    moment = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    object_id = str(100 + n)
    mobile = person["phone"] if rng.random() < 0.3 else None
    properties = {
        "email": person["email"],
        "firstname": person["first_name"],
        "lastname": person["last_name"],
        "phone": None if mobile else person["phone"],
        "mobilephone": mobile,
        "address": person["street"],
        "zip": person["postcode"],
        "city": person["city"],
        "state": None,
        "country": person["country"],
        "company": None,
        "jobtitle": None,
        "date_of_birth": person["birth_date"],
        "hs_email_optout": "false" if person["accepts_marketing"] else "true",
        "createdate": moment,
        "lastmodifieddate": moment,
        "hs_lastmodifieddate": moment,
        "hs_object_id": object_id,
    }
    return {
        "id": object_id,
        "properties": properties,
        "createdAt": moment,
        "updatedAt": moment,
        "archived": False,
        "_marketing_email_optout": properties["hs_email_optout"],
    }


def land(store: Store, records: int, seed: int = 42) -> None:
    """Write N contacts into raw_records as one load batch, as the HubSpot connector would."""
    rng, drawn, base, now = random.Random(seed), pools(), datetime(2025, 1, 1, tzinfo=UTC), utcnow()
    with store.begin() as conn:
        batch = store.new_batch(conn, "hubspot", "contacts", None)
        rows = []
        for n in range(records):
            record = hubspot_contact(n, rng, drawn, base)
            text = dumps(record)
            rows.append(
                {
                    "source": "hubspot",
                    "stream": "contacts",
                    "record_id": record["id"],
                    "batch_id": batch,
                    "cursor_value": record["updatedAt"],
                    "payload": JSONText(text),
                    "content_hash": hashlib.sha256(text.encode()).hexdigest(),
                    "first_seen_at": now,
                    "last_seen_at": now,
                }
            )
            if len(rows) == 5000:
                upsert(conn, tables.raw_records, rows)
                rows = []
        if rows:
            upsert(conn, tables.raw_records, rows)
    store.finish_batch(batch)


def digest(store: Store) -> str:
    """SHA-256 over every row of the canonical tables, in key order, run timestamps left out."""
    hasher = hashlib.sha256()
    with store.engine.connect() as conn:
        for name in DIGESTED:
            table = tables.metadata.tables[name]
            columns = [column for column in table.columns if column.name not in RUN_TIMES and column.name != "id"]
            order = [column for column in columns if column.primary_key] or columns
            for row in conn.execute(select(*columns).order_by(*order)):
                hasher.update(repr(tuple(row)).encode())
    return hasher.hexdigest()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=0, help="mapping worker processes (0: in this process)")
    parser.add_argument("--digest", action="store_true", help="print a hash of the canonical rows")
    parser.add_argument("--profile", help="write a cProfile of the pass to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        land(store, args.records)
        mapper = Mapper(load_mapping(shipped_mapping("hubspot")), connection="hubspot", channel="crm")
        profiler = cProfile.Profile() if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        reports = canonicalize_entities(
            store, {"hubspot": mapper}, ["customer_record", "consent"], full=True, workers=args.workers
        )
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        figures: dict[str, Any] = {
            "records": args.records,
            "workers": args.workers,
            "cpu_seconds": round(cpu, 2),
            "wall_seconds": round(wall, 2),
            "records_per_cpu_s": round(args.records / cpu),
            "records_per_wall_s": round(args.records / wall),
            "customer_records": reports["customer_record"].mapped,
            "quarantined": reports["customer_record"].quarantined,
        }
        if args.digest:
            figures["digest"] = digest(store)
        store.close()
    print("canonical pass (HubSpot contacts, raw -> customer records + consents, SQLite)")
    for name, value in figures.items():
        print(f"  {name:<20} {value}")
    return figures


if __name__ == "__main__":
    main()
