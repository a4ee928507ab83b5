"""A whole sync of one HubSpot connection (contacts only) against dlt's raw loads of the same endpoint, same run.

    python -m benchmarks.hubspot_sync_benchmark --records 100000

The HubSpot emulator is seeded with N contacts Canalis never saw (benchmarks/contacts.py: thousands of distinct
names, streets and cities, phones in eight formats, accents, email case, missing values) with 18 properties and
about 2% of the emails shared by two contacts, and served from a process of its own. Then, each in its own
process, one after the other on the same endpoint:

* `canalis run full_sync` in a fresh home whose connections file holds only that connection: raw landing,
  canonical pass, unified customers, inconsistencies, plans and KPIs, end to end, on SQLite;
* dlt's REST API source into SQLite (through its sqlalchemy destination) and into DuckDB, raw rows only.

Prints records/s and wall seconds of each, Canalis's seconds per step group (from the run's step events) and its
CPU time, and the CPU time the serving process used. dlt is a benchmark-only dependency: `pip install -e .[bench]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.contacts import contact, pools
from benchmarks.sync_benchmark import GROUPS, canalis_command, step_seconds

PAGE_SIZE = 100
SHARED_EMAILS = 0.02
JOBS = ("Comptable", "Ingénieure", "Vendeur", "Infirmière", "Développeur", None)
CONNECTIONS = """connections:
  crm_hubspot:
    connector: hubspot
    channel: crm
    settings:
      base_url: "{base_url}"
      requests_per_second: 0
    streams: [contacts]
"""


def hubspot_contact(n: int, rng: random.Random, base: datetime, emails: list[str]) -> tuple[str, str, dict[str, Any]]:
    """The n-th contact as HubSpot's CRM API returns it; some reuse an earlier contact's email."""
    person = contact(n, rng, pools())
    if emails and rng.random() < SHARED_EMAILS:
        person["email"] = rng.choice(emails)
    emails.append(person["email"])
    moment = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    object_id = str(100 + n)
    properties = {
        "email": person["email"],
        "firstname": person["first_name"],
        "lastname": person["last_name"],
        "phone": person["phone"],
        "mobilephone": None if rng.random() < 0.7 else person["phone"],
        "address": person["street"],
        "zip": person["postcode"],
        "city": person["city"],
        "state": None,
        "country": person["country"],
        "date_of_birth": person["birth_date"],
        "jobtitle": rng.choice(JOBS),
        "lifecyclestage": rng.choice(("lead", "customer", "subscriber")),
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

    rng, emails = random.Random(42), []
    base = datetime(2025, 1, 1, tzinfo=UTC)
    store = ObjectStore(store_path(data_dir))
    try:
        store.put_many("hubspot", "contacts", (hubspot_contact(n, rng, base, emails) for n in range(records)))
    finally:
        store.close()


def run_canalis(base_url: str, home: Path) -> dict[str, Any]:
    """`canalis run full_sync` in a fresh home with only this connection; wall, CPU and step seconds."""
    from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN

    home.mkdir(parents=True, exist_ok=True)
    (home / "canalis.yaml").write_text(CONNECTIONS.format(base_url=base_url))
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CANALIS_HOME": str(home),
        "CANALIS_HUBSPOT_ACCESS_TOKEN": ACCESS_TOKEN,
        "CANALIS_SANDBOX_URL": base_url,  # the run serves no sandbox of its own
    }
    environment.pop("CANALIS_DATABASE_URL", None)
    started = time.perf_counter()
    with (home / "run.log").open("w") as log:
        process = subprocess.Popen([canalis_command(), "run", "full_sync"], env=environment, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"canalis run full_sync failed: see {home / 'run.log'}")
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "steps": step_seconds(environment),
    }


def run_dlt(base_url: str, work: Path, destination: str) -> dict[str, Any]:
    """dlt's REST API source on the same endpoint and page size, into SQLite or DuckDB (raw rows only)."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN

    source = rest_api_source(
        {
            "client": {"base_url": base_url, "auth": {"type": "bearer", "token": ACCESS_TOKEN}},
            "resources": [
                {
                    "name": "contacts",
                    "endpoint": {
                        "path": "crm/v3/objects/contacts",
                        "params": {"limit": PAGE_SIZE},
                        "data_selector": "results",
                        "paginator": {"type": "cursor", "cursor_path": "paging.next.after", "cursor_param": "after"},
                    },
                }
            ],
        }
    )
    target = (
        dlt.destinations.sqlalchemy(f"sqlite:///{work / 'dlt.db'}")
        if destination == "sqlite"
        else dlt.destinations.duckdb(str(work / "dlt.duckdb"))
    )
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{destination}", pipelines_dir=str(work / "dlt"), destination=target, dataset_name="main"
    )
    started = time.perf_counter()
    pipeline.run(source, loader_file_format="parquet" if destination == "duckdb" else None)
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("contacts", 0)
    return {
        "records": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time(), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _child(phase: str, base_url: str, work: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.hubspot_sync_benchmark", "--phase", phase]
    output = subprocess.run([*command, "--base-url", base_url, "--work", str(work)], capture_output=True, text=True)
    if output.returncode != 0:
        raise RuntimeError(f"{phase} run failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure(records: int, folder: Path, with_dlt: bool) -> dict[str, Any]:
    """Seed, serve, and run Canalis then each dlt destination on the same endpoint."""
    from benchmarks.ingest_benchmark import _free_port

    data_dir = folder / "sandbox"
    data_dir.mkdir()
    seed(data_dir, records)
    port = _free_port()
    serve = [sys.executable, "-m", "benchmarks.ingest_benchmark", "--phase", "serve", "--work", str(data_dir)]
    server = subprocess.Popen([*serve, "--port", str(port)], stdout=subprocess.PIPE, text=True)
    results: dict[str, Any] = {}
    try:
        assert server.stdout is not None
        server.stdout.readline()
        base_url = f"http://127.0.0.1:{port}/hubspot"
        results["canalis"] = run_canalis(base_url, folder / "canalis")
        print(f"  canalis full_sync: {results['canalis']['seconds']} s", flush=True)
        for destination in ("sqlite", "duckdb") if with_dlt else ():
            work = folder / f"dlt-{destination}"
            work.mkdir()
            results[f"dlt {destination}"] = _child(f"dlt-{destination}", base_url, work)
            print(f"  dlt -> {destination}: {results[f'dlt {destination}']['seconds']} s", flush=True)
    finally:
        server.terminate()
        _, _, usage = os.wait4(server.pid, 0)
        results["server_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    return results


def render(records: int, results: dict[str, Any]) -> str:
    """Records/s of each, Canalis's step groups, and the ratio of Canalis to dlt's best."""
    canalis = results["canalis"]
    lines = [f"hubspot sync: {records:,} contacts, pages of {PAGE_SIZE}, one endpoint served from its own process"]
    rate = records / canalis["seconds"]
    lines.append(
        f"  canalis full_sync  {rate:>8,.0f} records/s end to end ({canalis['seconds']} s wall,"
        f" {canalis['cpu_seconds']} s CPU, peak {canalis['peak_rss_mb']} MB)"
    )
    lines.append("    " + ", ".join(f"{g} {canalis['steps'].get(g, 0.0):.1f} s" for g in GROUPS))
    best = 0.0
    for name in ("dlt sqlite", "dlt duckdb"):
        if name in results:
            other = results[name]
            other_rate = other["records"] / other["seconds"] if other["seconds"] else 0.0
            best = max(best, other_rate)
            lines.append(
                f"  {name:<17} {other_rate:>8,.0f} records/s raw rows only ({other['records']:,} rows,"
                f" {other['seconds']} s wall, {other['cpu_seconds']} s CPU, peak {other['peak_rss_mb']} MB)"
            )
    if best:
        lines.append(f"  canalis / dlt's best: {rate / best:.2f}x")
    lines.append(f"  the serving process used {results['server_cpu_seconds']} s of CPU")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-dlt", action="store_true", help="measure Canalis only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (homes, logs, databases)")
    parser.add_argument("--phase", choices=["dlt-sqlite", "dlt-duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        result = run_dlt(args.base_url, args.work, args.phase.removeprefix("dlt-"))
        print(json.dumps(result))
        return result
    try:
        import dlt  # noqa: F401

        with_dlt = not args.no_dlt
    except ImportError:
        print("dlt is not installed (pip install -e '.[bench]'): measuring Canalis only")
        with_dlt = False
    folder = Path(tempfile.mkdtemp(prefix="canalis-hubspot-sync-"))
    try:
        results = measure(args.records, folder, with_dlt)
    finally:
        if args.keep:
            print(f"  work folder kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(render(args.records, results))
    return results


if __name__ == "__main__":
    main()
