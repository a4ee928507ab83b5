"""Starting the local sandbox for a run when the connections point at it and no sandbox URL is given."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from canalis.config.connections import config_path, read_document
from canalis.sandbox.environment import CREDENTIAL_VARIABLES, PLACEHOLDER_VALUES, SANDBOX_URL_ENV, uses_sandbox
from canalis.store.database import canalis_home

SANDBOX_CUSTOMERS_ENV = "CANALIS_SANDBOX_CUSTOMERS"
DEFAULT_CUSTOMERS = 300
DEFAULT_SEED = 42


@contextmanager
def sandbox_for_run(*, out: TextIO | None = None) -> Iterator[str | None]:
    """Serve the sandbox in this process for the length of a run, when the connections file needs it.

    Nothing happens when CANALIS_SANDBOX_URL is already set (a sandbox started elsewhere) or when no connection
    refers to it. The world is generated under the Canalis home the first time and kept for later runs.
    """
    if not connections_use_sandbox() or os.environ.get(SANDBOX_URL_ENV):
        yield os.environ.get(SANDBOX_URL_ENV)
        return
    from canalis.sandbox.environment import sandbox_environment
    from canalis.sandbox.serve import ensure_world, set_shopify_plan
    from canalis.sandbox.server import SandboxServer
    from canalis.sandbox.world import WorldSpec

    data_dir = canalis_home() / "sandbox"
    customers = int(os.environ.get(SANDBOX_CUSTOMERS_ENV, DEFAULT_CUSTOMERS))
    ensure_world(WorldSpec(seed=DEFAULT_SEED, customers=customers), data_dir, pinned=False)
    set_shopify_plan(data_dir, "plus")  # the demo shop has the larger query budget, so the demo does not wait
    server = SandboxServer(data_dir, imap=True).start()
    environment = sandbox_environment(server.base_url, server.credentials())
    try:
        with _environment(environment):
            if out is not None:
                print(f"sandbox: {customers} customers served on {server.base_url} for this run", file=out)
                if server.imap_server is not None:
                    print(f"sandbox: support mailbox on imap://{server.host}:{server.imap_server.port}", file=out)
            yield server.base_url
    finally:
        server.stop()


@contextmanager
def sandbox_placeholders(path: Path | None = None) -> Iterator[None]:
    """Stand-ins for what `sandbox_for_run` would set, so a check sees the settings a run would see.

    Only variables not already set are filled; nothing is started.
    """
    if not connections_use_sandbox(path) or os.environ.get(SANDBOX_URL_ENV):
        yield
        return
    placeholders = {SANDBOX_URL_ENV: "http://127.0.0.1:8765"}
    for variables in CREDENTIAL_VARIABLES.values():
        placeholders.update({variable: PLACEHOLDER_VALUES.get(variable, "sandbox") for variable in variables})
    placeholders.update({"CANALIS_SANDBOX_IMAP_HOST": "127.0.0.1", "CANALIS_SANDBOX_IMAP_PORT": "8143"})
    with _environment({name: value for name, value in placeholders.items() if name not in os.environ}):
        yield


def connections_use_sandbox(path: Path | None = None) -> bool:
    """Whether an enabled connection's settings refer to the sandbox (${CANALIS_SANDBOX_URL}...)."""
    try:
        document = read_document(path or config_path())
    except Exception:  # a broken file is the check's to report
        return False
    connections = document.get("connections") or {}
    if not isinstance(connections, dict):
        return False
    return any(
        isinstance(connection, dict) and connection.get("enabled", True) and uses_sandbox(connection.get("settings"))
        for connection in connections.values()
    )


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Environment variables set for the length of a block, then restored."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
