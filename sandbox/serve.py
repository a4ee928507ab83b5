"""`canalis sandbox serve`: generate (or reuse) the world, then serve every emulator on one loopback port."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TextIO

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.errors import CanalisError

DEFAULT_DATA_DIR = Path("dagster_home") / "sandbox"

# Shopify's GraphQL cost budget per plan: bucket size and points restored per second
SHOPIFY_PLANS = {
    "standard": {"maximumAvailable": 2000, "restoreRate": 100},
    "advanced": {"maximumAvailable": 4000, "restoreRate": 200},
    "plus": {"maximumAvailable": 20000, "restoreRate": 1000},
}


def set_shopify_plan(data_dir: Path, plan: str) -> None:
    """Give the sandbox shop the query-cost budget of a Shopify plan."""
    store = ObjectStore(store_path(data_dir))
    try:
        store.kv_put("shopify:throttle", SHOPIFY_PLANS[plan])
    finally:
        store.close()


def ensure_world(spec: WorldSpec, data_dir: Path, *, reset: bool = False, pinned: bool = True) -> bool:
    """Generate the world unless the data dir already holds one made from the same spec; True when generated.

    With `pinned=False` the world kept there may have been made at another time (its clock is then the time it
    was made, and the ground truth it serves says what still holds at the moment it is asked).
    """
    path = store_path(data_dir)
    if path.exists() and not reset:
        store = ObjectStore(path)
        try:
            stored = store.kv_get("world:spec")
        finally:
            store.close()
        wanted = {**asdict(spec), "now": spec.now.isoformat()}
        if stored is not None and not pinned:
            stored, wanted = {**stored, "now": None}, {**wanted, "now": None}
        if stored == wanted:
            return False
    generate_world(spec, data_dir)
    return True


def describe(base_url: str, credentials: dict[str, dict[str, str]], out: TextIO) -> None:
    """Print each emulator's base URL and credentials."""
    print(f"Canalis sandbox on {base_url}", file=out)
    for prefix, values in sorted(credentials.items()):
        print(f"  {prefix:<11} {base_url}/{prefix}", file=out)
        for name, value in values.items():
            print(f"              {name}: {value}", file=out)
    print(f"  ground truth {base_url}/_sandbox/ground-truth", file=out)


def credentials_of(app) -> dict[str, dict[str, str]]:
    """The sandbox credentials of every emulator (not secrets: they only open the local sandbox)."""
    return {prefix: emulator.credentials() for prefix, emulator in app.emulators.items()}


def serve(
    *,
    host: str,
    port: int,
    seed: int,
    customers: int,
    faults: str | None,
    data_dir: Path,
    reset: bool,
    out: TextIO,
    shopify_plan: str = "standard",
    imap_port: int = 8143,
    now: datetime | None = None,
    expose: bool = False,
) -> None:
    """Serve in the foreground until interrupted. A host other than a loopback address needs `expose`: the
    sandbox answers with its credentials and the world's ground truth to anyone who reaches it."""
    from canalis.sandbox.imap_server import is_loopback, start_imap_server
    from canalis.sandbox.server.app import SandboxApp
    from canalis.sandbox.server.faults import FaultPlan
    from canalis.sandbox.server.runner import KeepAliveServer

    check_exposure(host, expose=expose, out=out)

    spec = (
        WorldSpec(seed=seed, customers=customers) if now is None else WorldSpec(seed=seed, customers=customers, now=now)
    )
    generated = ensure_world(spec, data_dir, reset=reset, pinned=now is not None)
    print(
        f"world: {customers} customers, seed {seed} ({'generated' if generated else 'kept from ' + str(data_dir)})",
        file=out,
    )
    set_shopify_plan(data_dir, shopify_plan)
    store = ObjectStore(store_path(data_dir))
    app = SandboxApp(store, faults=FaultPlan.from_spec(faults, seed=seed))
    server = KeepAliveServer(host, port, app)
    app.base_url = f"http://{host}:{server.server_port}"
    imap = start_imap_server(data_dir, host if is_loopback(host) else "127.0.0.1", imap_port)  # plaintext: loopback
    describe(app.base_url, credentials_of(app), out)
    print(f"  imap        imap://{imap.host}:{imap.port} (plaintext; INBOX is the support Maildir)", file=out)
    for name, value in imap.environment().items():
        print(f"              export {name}={value}", file=out)
    out.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        imap.stop()
        server.server_close()
        store.close()


class ExposureError(CanalisError):
    """The sandbox was asked to listen beyond this machine without saying so."""


def check_exposure(host: str, *, expose: bool, out: TextIO | None) -> None:
    """Refuse a non-loopback host unless `expose` is given, and warn on `out` when it is."""
    from canalis.sandbox.imap_server import is_loopback

    if is_loopback(host):
        return
    if not expose:
        raise ExposureError(
            f"--host {host} is not a loopback address: the sandbox serves its credentials and the world's ground "
            "truth to anyone who can reach it; add --expose to serve it there anyway"
        )
    if out is None:
        return
    print(
        f"WARNING: serving the sandbox on {host}: its credentials and the world's ground truth are readable by "
        "anyone who can reach this address",
        file=out,
    )


def summary_json(data_dir: Path) -> str:
    """The stored world spec as JSON (for scripts)."""
    store = ObjectStore(store_path(data_dir))
    try:
        return json.dumps(store.kv_get("world:spec"), indent=2)
    finally:
        store.close()
