"""Two incremental syncs launched at the same moment end with the store one run gives, and write to no channel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.serve import set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world
from canalis.store import Store, tables
from tests.conftest import POSTGRES_URL, _server_or_skip

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
CONNECTIONS = ("crm_hubspot", "web_shopify", "erp_odoo", "store_square")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A small world served for the module; the environment a run needs to reach it."""
    data_dir = tmp_path_factory.mktemp("world")
    generate_world(WorldSpec(seed=3, customers=40), data_dir)
    set_shopify_plan(data_dir, "plus")
    with SandboxServer(data_dir) as server:
        yield sandbox_environment(server.base_url, server.credentials())


def _sqlite(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    yield lambda name: f"sqlite:///{tmp_path / name}.db"


def _postgres(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    engine = _server_or_skip(POSTGRES_URL, "PostgreSQL")
    schemas: list[str] = []

    def url(name: str) -> str:
        schema = f"canalis_test_{name}_{uuid.uuid4().hex[:8]}"
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"

    try:
        yield url
    finally:
        with engine.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A way to get a fresh empty store URL per name, on SQLite or on the local PostgreSQL."""
    factory = _sqlite if request.param == "sqlite" else _postgres
    yield from factory(tmp_path)


def _home(folder: Path) -> Path:
    """A Canalis and Dagster home with the shipped instance settings (pools, run limits) and four connections."""
    folder.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", folder / "dagster.yaml")
    connections = {name: DEMO["connections"][name] for name in CONNECTIONS}
    (folder / "canalis.yaml").write_text(yaml.safe_dump({"connections": connections}), encoding="utf-8")
    return folder


def _launch(home: Path, url: str, environment: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        **environment,
        "CANALIS_HOME": str(home),
        "DAGSTER_HOME": str(home),
        "CANALIS_DATABASE_URL": url,
        "CANALIS_DISABLE_PLUGINS": "1",
    }
    command = [sys.executable, "-m", "canalis.cli.main", "run", "incremental_sync", "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return out


def _snapshot(url: str) -> dict[str, object]:
    """The store's content, without load times, run ids and generated ids."""
    with Store(url) as store, store.engine.connect() as conn:
        raw = tables.raw_records
        customers = tables.source_identities
        clusters: dict[str, set[str]] = {}
        for record_key, customer_id in conn.execute(sa.select(customers.c.record_key, customers.c.customer_id)):
            clusters.setdefault(customer_id, set()).add(record_key)
        return {
            "raw": sorted(conn.execute(sa.select(raw.c.source, raw.c.stream, raw.c.record_id, raw.c.content_hash))),
            # which streams hold a cursor, and of what kind (some cursors are the time of the read, which differ)
            "states": sorted(
                (row.connector, row.stream, (row.cursor or {}).get("cursor_kind"))
                for row in conn.execute(sa.select(tables.sync_state))
                if "." not in row.stream  # the canonical pass's own positions name batches, which differ
            ),
            "customer_records": sorted(
                conn.execute(sa.select(tables.customer_records.c.record_key, tables.customer_records.c.content_hash))
            ),
            "prices": sorted(conn.execute(sa.select(tables.prices.c.price_key, tables.prices.c.amount))),
            "unified": sorted(sorted(members) for members in clusters.values()),
            "writes": conn.execute(sa.select(sa.func.count()).select_from(tables.write_audit)).scalar_one(),
        }


def test_two_syncs_at_once_end_as_one(tmp_path: Path, sandbox: dict[str, str], database) -> None:
    alone_url = database("alone")
    _finish(_launch(_home(tmp_path / "alone"), alone_url, sandbox))
    expected = _snapshot(alone_url)
    assert expected["raw"] and expected["unified"] and expected["writes"] == 0

    together_url = database("together")
    home = _home(tmp_path / "together")
    first, second = _launch(home, together_url, sandbox), _launch(home, together_url, sandbox)
    _finish(first)
    _finish(second)
    assert _snapshot(together_url) == expected
