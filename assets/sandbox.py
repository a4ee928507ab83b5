"""Starting the local sandbox for a run when the connections point at it and no sandbox URL is given."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from assets.connections import load_config
from connectors.sandbox.environment import SANDBOX_URL_ENV, sandbox_environment, uses_sandbox
from mappings.store.database import canalis_home

SANDBOX_CUSTOMERS_ENV = "CANALIS_SANDBOX_CUSTOMERS"
DEFAULT_CUSTOMERS = 300
DEFAULT_SEED = 42


@contextmanager
def sandbox_for_run(*, out: TextIO | None = None) -> Iterator[str | None]:
    """Serve the sandbox in this process for the length of a run, when the connections file needs it.

    Nothing happens when CANALIS_SANDBOX_URL is already set (a sandbox started elsewhere) or when no connection
    refers to it. The world is generated under the Canalis home the first time and kept for later runs.
    """
    config = load_config()
    needed = any(uses_sandbox(connection.settings) for connection in config.enabled_connections().values())
    if not needed or os.environ.get(SANDBOX_URL_ENV):
        yield os.environ.get(SANDBOX_URL_ENV)
        return
    from connectors.sandbox.serve import ensure_world, set_shopify_plan
    from connectors.sandbox.server import SandboxServer
    from connectors.sandbox.world import WorldSpec

    data_dir = canalis_home() / "sandbox"
    customers = int(os.environ.get(SANDBOX_CUSTOMERS_ENV, DEFAULT_CUSTOMERS))
    ensure_world(WorldSpec(seed=DEFAULT_SEED, customers=customers), data_dir)
    set_shopify_plan(data_dir, "plus")  # the demo shop has the larger query budget, so the demo does not wait
    server = SandboxServer(data_dir, imap=True).start()
    environment = sandbox_environment(server.base_url, server.credentials())
    saved = {name: os.environ.get(name) for name in environment}
    try:
        os.environ.update(environment)
        if out is not None:
            print(f"sandbox: {customers} customers served on {server.base_url} for this run", file=out)
            if server.imap_server is not None:
                print(f"sandbox: support mailbox on imap://{server.host}:{server.imap_server.port}", file=out)
        yield server.base_url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
