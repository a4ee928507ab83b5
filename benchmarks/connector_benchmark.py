"""Connector benchmark: records/s of every stream of every sandbox connection in the demo's connections file.

    python -m benchmarks.connector_benchmark --customers 5000

Generates a sandbox world of N customers, serves it (HTTP emulators and the IMAP mailbox) from a separate
process, and reads each stream of each connection in `dagster_home/canalis.yaml` that points at the sandbox
from the start, counting records. Only the connector's read is timed (HTTP, paging, decoding, validation),
not landing or mapping; `ingest_benchmark` measures the whole path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS_FILE = ROOT / "dagster_home" / "canalis.yaml"


def serve(data_dir: Path) -> None:
    """Serve the generated world until killed; prints the base URL and credentials as one JSON line."""
    from canalis.sandbox.serve import set_shopify_plan
    from canalis.sandbox.server import SandboxServer

    set_shopify_plan(data_dir, "plus")
    server = SandboxServer(data_dir, imap=True).start()
    print(json.dumps({"base_url": server.base_url, "credentials": server.credentials()}), flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def measure(base_url: str, credentials: dict[str, Any]) -> list[dict[str, Any]]:
    """Read every stream of every sandbox connection; records and records/s per stream."""
    from canalis.config.connections import load_config
    from canalis.config.wiring import build_connector
    from canalis.connectors.registry import discover
    from canalis.sandbox.environment import sandbox_environment, uses_sandbox
    from canalis.sdk.state import StreamState

    os.environ.update(sandbox_environment(base_url, credentials))
    registry = discover()
    results = []
    for name, connection in load_config(CONNECTIONS_FILE).enabled_connections().items():
        if not uses_sandbox(connection.settings):
            continue
        with build_connector(name, connection, registry) as connector:
            streams = connection.streams or type(connector).stream_names(connection.settings)
            for stream in streams:
                if not connector.stream(stream).readable:
                    continue
                started = time.perf_counter()
                records = sum(len(page.records) for page in connector.read(stream, StreamState.from_stored(None)))
                seconds = time.perf_counter() - started
                rate = round(records / seconds) if seconds else 0
                results.append(
                    {"connection": name, "connector": connection.connector, "stream": stream, "records": records,
                     "seconds": round(seconds, 2), "records_per_s": rate}
                )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--phase", choices=["serve"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "serve":
        serve(args.work)
        return []

    from canalis.sandbox.serve import ensure_world
    from canalis.sandbox.world import WorldSpec

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "sandbox"
        ensure_world(WorldSpec(seed=42, customers=args.customers), data_dir)
        command = [sys.executable, "-m", "benchmarks.connector_benchmark", "--phase", "serve", "--work", str(data_dir)]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert server.stdout is not None
            started = json.loads(server.stdout.readline())
            results = measure(started["base_url"], started["credentials"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"connectors: every sandbox stream of {CONNECTIONS_FILE.name}, world of {args.customers} customers")
    print(f"  {'connection':<18} {'stream':<22} {'records':>8} {'seconds':>8} {'records/s':>10}")
    for row in results:
        print(
            f"  {row['connection']:<18} {row['stream']:<22} {row['records']:>8} {row['seconds']:>8}"
            f" {row['records_per_s']:>10}"
        )
    return results


if __name__ == "__main__":
    main()
