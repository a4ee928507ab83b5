"""The sandbox as a long-running service of the local production profile.

`python -m canalis.deploy.sandbox_service --data-dir D --environment-file F` serves the emulators and the IMAP
mailbox, writes the environment connections need to reach them (base URL and test credentials) to F, and serves
until it receives SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.serve import ensure_world, set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m canalis.deploy.sandbox_service")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--environment-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--imap-port", type=int, default=0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--faults", default=None)
    args = parser.parse_args(argv)
    ensure_world(WorldSpec(seed=args.seed, customers=args.customers), args.data_dir, pinned=False)
    set_shopify_plan(args.data_dir, "plus")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = SandboxServer(args.data_dir, port=args.port, imap=True, imap_port=args.imap_port, faults=args.faults)
    server.start()
    try:
        environment = sandbox_environment(server.base_url, server.credentials())
        partial = args.environment_file.with_suffix(".partial")
        partial.write_text(json.dumps(environment, indent=2), encoding="utf-8")
        os.chmod(partial, 0o600)
        partial.replace(args.environment_file)
        print(f"sandbox: {args.customers} customers on {server.base_url}", flush=True)
        stop.wait()
    finally:
        server.stop()
        args.environment_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
