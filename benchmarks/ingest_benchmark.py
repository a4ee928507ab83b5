"""Ingest benchmark: HubSpot contacts from the sandbox all the way into the canonical store, against dlt.

    python -m benchmarks.ingest_benchmark --records 200000

Seeds the sandbox's HubSpot emulator with N contacts (benchmarks/contacts.py: thousands of distinct names,
streets and cities, several phone formats, email case, accents and missing values), serves it from a separate
process, then, each in its own process so peak memory is its own:

* Canalis: the HubSpot connector reads `contacts` in pages of 100 into the raw landing table, then the canonical
  step maps and normalises every record (emails, E.164 phones, countries, dates) into `customer_records`,
  `contact_points` and `consents` on SQLite, mapping in worker processes (CANALIS_MAPPING_WORKERS) while the main
  process reads and writes;
* dlt's REST API source (a benchmark-only dependency, `pip install "dlt[sqlalchemy]"`) reads the same endpoint
  with the same page size into SQLite, without mapping or normalising anything;
* a bare loop: `requests` and `sqlite3`, one row of JSON per record, no state, no mapping. It is as fast as
  loading goes on this machine and this sandbox: a tool that also maps and normalises cannot beat it.

Prints records/s and peak RSS for each (for Canalis, the main process and the largest mapping worker), the
ratio, and Canalis's peak memory at a quarter of N to show whether memory grows with the number of records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.contacts import contact, pools

PAGE_SIZE = 100


def _contact(n: int, rng: random.Random, base: datetime) -> tuple[str, str, dict[str, Any]]:
    person = contact(n, rng, pools())
    moment = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    object_id = str(100 + n)
    properties = {
        "email": person["email"],
        "firstname": person["first_name"],
        "lastname": person["last_name"],
        "phone": person["phone"],
        "address": person["street"],
        "zip": person["postcode"],
        "city": person["city"],
        "country": person["country"],
        "date_of_birth": person["birth_date"],
        "hs_email_optout": "false" if person["accepts_marketing"] else "true",
        "createdate": moment,
        "lastmodifieddate": moment,
        "hs_lastmodifieddate": moment,
        "hs_object_id": object_id,
    }
    payload = {"id": object_id, "properties": properties, "createdAt": moment, "updatedAt": moment, "archived": False}
    return object_id, moment, payload


def seed(data_dir: Path, records: int) -> None:
    """Write N HubSpot contacts into a sandbox object store."""
    from canalis.sandbox.objectstore import ObjectStore
    from canalis.sandbox.world.generate import store_path

    rng = random.Random(42)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    store = ObjectStore(store_path(data_dir))
    try:
        store.put_many("hubspot", "contacts", (_contact(n, rng, base) for n in range(records)))
    finally:
        store.close()


def serve(data_dir: Path, port: int) -> None:
    """Serve the HubSpot emulator over the seeded store until killed."""
    from canalis.sandbox.emulators.hubspot import EMULATOR
    from canalis.sandbox.server import SandboxServer

    server = SandboxServer(data_dir, port=port, emulators=[EMULATOR]).start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def run_canalis(base_url: str, work: Path) -> dict[str, Any]:
    """HubSpot contacts -> raw landing -> canonical records, on SQLite."""
    from canalis.canonical.canonicalize import canonicalize_entities
    from canalis.canonical.workers import configured_workers
    from canalis.connectors.hubspot import HubSpotConnector
    from canalis.connectors.registry import shipped_mapping
    from canalis.ingest.stream import ingest_stream
    from canalis.mappings.declarative import Mapper, load_mapping
    from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN
    from canalis.store import Store

    store = Store(f"sqlite:///{work / 'canalis.db'}")
    store.migrate()
    os.environ["CANALIS_HUBSPOT_ACCESS_TOKEN"] = ACCESS_TOKEN
    connector = HubSpotConnector.from_config(
        {"base_url": base_url, "page_size": PAGE_SIZE, "requests_per_second": 0},
        connection="hubspot",
    )
    tree = TreeMemory().start()
    started = time.perf_counter()
    with connector:
        report = ingest_stream(store, connector, "contacts")
    read_seconds = time.perf_counter() - started
    mapper = Mapper(load_mapping(shipped_mapping("hubspot")), connection="hubspot", channel="crm")
    reports = canonicalize_entities(store, {"hubspot": mapper}, ["customer_record", "consent"])
    mapped = sum(report.mapped for report in reports.values())
    total = time.perf_counter() - started
    return {
        "records": report.records_read,
        "read_seconds": round(read_seconds, 2),
        "read_records_per_s": round(report.records_read / read_seconds),
        "map_records_per_s": round(report.records_read / (total - read_seconds)),
        "seconds": round(total, 2),
        "records_per_s": round(report.records_read / total),
        "canonical_rows": mapped,
        "quarantined": report.quarantined,
        "mapping_workers": configured_workers(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "tree_peak_rss_mb": round(tree.stop() / 2**20),
    }


class TreeMemory:
    """Samples the resident memory of this process and all its descendants (the mapping workers) together."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> TreeMemory:
        self._thread.start()
        return self

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak


def run_dlt(base_url: str, work: Path) -> dict[str, Any]:
    """dlt's REST API source on the same endpoint, into SQLite."""
    from benchmarks.hubspot_sync_benchmark import run_dlt as run_dlt_into

    result = run_dlt_into(base_url, work, "sqlite")
    return {**result, "records_per_s": round(result["records"] / result["seconds"]) if result["seconds"] else 0}


def run_bare(base_url: str, work: Path) -> dict[str, Any]:
    """The least any loader does: page through the endpoint and insert each record's JSON into SQLite."""
    import sqlite3

    import requests

    from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN

    database = sqlite3.connect(work / "bare.db")
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=NORMAL")
    database.execute("CREATE TABLE contacts (id TEXT PRIMARY KEY, payload TEXT NOT NULL)")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ACCESS_TOKEN}"
    started = time.perf_counter()
    records, after = 0, None
    while True:
        params: dict[str, Any] = {"limit": PAGE_SIZE, **({"after": after} if after else {})}
        response = session.get(f"{base_url}/crm/v3/objects/contacts", params=params, timeout=30)
        response.raise_for_status()
        page = response.json()
        rows = [(item["id"], json.dumps(item)) for item in page["results"]]
        with database:
            database.executemany("INSERT OR REPLACE INTO contacts VALUES (?, ?)", rows)
        records += len(rows)
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    seconds = time.perf_counter() - started
    database.close()
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds) if seconds else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _child(phase: str, base_url: str, work: Path) -> dict[str, Any]:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ingest_benchmark",
            "--phase",
            phase,
            "--base-url",
            base_url,
            "--work",
            str(work),
        ],
        capture_output=True,
        text=True,
    )
    if output.returncode != 0:
        raise RuntimeError(f"{phase} run failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _measure(records: int, folder: Path, with_dlt: bool) -> dict[str, Any]:
    data_dir = folder / f"sandbox-{records}"
    data_dir.mkdir()
    seed(data_dir, records)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.ingest_benchmark",
            "--phase",
            "serve",
            "--work",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        base_url = f"http://127.0.0.1:{port}/hubspot"
        results = {"canalis": _child("canalis", base_url, _workdir(folder, f"canalis-{records}"))}
        if with_dlt:
            results["dlt"] = _child("dlt", base_url, _workdir(folder, f"dlt-{records}"))
            results["bare"] = _child("bare", base_url, _workdir(folder, f"bare-{records}"))
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def _workdir(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--no-dlt", action="store_true", help="measure Canalis only")
    parser.add_argument("--phase", choices=["serve", "canalis", "dlt", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "serve":
        serve(args.work, args.port)
        return {}
    if args.phase in ("canalis", "dlt", "bare"):
        result = {"canalis": run_canalis, "dlt": run_dlt, "bare": run_bare}[args.phase](args.base_url, args.work)
        print(json.dumps(result))
        return result

    try:
        import dlt  # noqa: F401

        with_dlt = not args.no_dlt
    except ImportError:
        print("dlt is not installed (pip install 'dlt[sqlalchemy]'): measuring Canalis only")
        with_dlt = False
    with tempfile.TemporaryDirectory() as folder:
        small = _measure(max(args.records // 4, 1000), Path(folder), with_dlt=False)
        full = _measure(args.records, Path(folder), with_dlt=with_dlt)
    canalis = full["canalis"]
    print(f"ingest: {args.records} HubSpot contacts from the sandbox, pages of {PAGE_SIZE}, into SQLite")
    print(
        f"  canalis  {canalis['records_per_s']:>8} records/s  ({canalis['records']} records, {canalis['seconds']} s,"
        f" {canalis['canonical_rows']} canonical rows)"
    )
    print(
        f"           read into the landing table {canalis['read_records_per_s']} records/s ({canalis['read_seconds']}"
        f" s), then mapped and normalised {canalis['map_records_per_s']} records/s"
        f" ({canalis['mapping_workers']} mapping workers)"
    )
    print(
        f"           peak memory {canalis['peak_rss_mb']} MB in the main process,"
        f" {canalis['tree_peak_rss_mb']} MB with the mapping workers"
    )
    print(
        f"  canalis at {small['canalis']['records']} records: peak {small['canalis']['peak_rss_mb']} MB,"
        f" {small['canalis']['tree_peak_rss_mb']} MB with workers (vs {canalis['peak_rss_mb']} MB and"
        f" {canalis['tree_peak_rss_mb']} MB at {canalis['records']})"
    )
    if "dlt" in full:
        other = full["dlt"]
        ratio = canalis["records_per_s"] / other["records_per_s"] if other["records_per_s"] else float("inf")
        print(
            f"  dlt      {other['records_per_s']:>8} records/s  ({other['records']} records, {other['seconds']} s,"
            f" peak {other['peak_rss_mb']} MB, raw rows only)"
        )
        print(f"  ratio    {ratio:.1f}x")
        full["ratio"] = round(ratio, 2)
        bare = full["bare"]
        print(
            f"  bare     {bare['records_per_s']:>8} records/s  (requests + sqlite3, raw JSON rows only, no mapping:"
            f" the most this machine gives; canalis is {canalis['records_per_s'] / bare['records_per_s']:.2f}x of it,"
            f" dlt {other['records_per_s'] / bare['records_per_s']:.2f}x)"
        )
    return full


if __name__ == "__main__":
    main()
