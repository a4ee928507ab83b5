"""A small sandbox world with injected inconsistencies, synced into a store, for the publishing tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from canalis.config.connections import CanalisConfig
from canalis.config.wiring import build_connector
from canalis.publishing import PublishConfig, load_publish_config
from canalis.publishing.suppression import consent_pauses
from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.serve import set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec
from canalis.sandbox.world.generate import generate_world
from canalis.sdk.base import Connector
from canalis.store import Store
from canalis.store.schema import metadata

ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
# The world's clock is its default, this morning's: the vendor emulators judge promotion status by the real clock.
SPEC = WorldSpec(seed=11, customers=80)


@dataclass
class SandboxWorld:
    """A served world, its connections and a store to sync it into."""

    data_dir: Path
    config: CanalisConfig
    publish: PublishConfig
    store: Store
    server: SandboxServer

    def connectors(self, names: list[str] | None = None) -> dict[str, Connector]:
        """Fresh connectors for the publishing channels."""
        wanted = names or sorted(self.publish.channels)
        return {name: build_connector(name, self.config.connections[name]) for name in wanted}


@pytest.fixture
def sandbox_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxWorld]:
    """The demo's vendor connections on a fresh 80-customer world served in-process."""
    data_dir = tmp_path / "world"
    generate_world(SPEC, data_dir)
    set_shopify_plan(data_dir, "plus")
    server = SandboxServer(data_dir, imap=True).start()
    try:
        for name, value in sandbox_environment(server.base_url, server.credentials()).items():
            monkeypatch.setenv(name, value)
        connections = {k: v for k, v in DEMO["connections"].items() if v["connector"] != "file_drop"}
        config = CanalisConfig.model_validate({"connections": connections})
        store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
        store.migrate()
        metadata.create_all(store.engine, tables=[consent_pauses])
        assert os.environ["CANALIS_SANDBOX_URL"] == server.base_url
        yield SandboxWorld(data_dir, config, load_publish_config(config), store, server)
    finally:
        server.stop()


@pytest.fixture
def shop(store: Store) -> Store:
    """A store where the system of record and a shop disagree on two of three prices (see tests/publish/shop.py)."""
    from tests.publish.shop import stock_shop

    return stock_shop(store)


@pytest.fixture(params=["sqlite", "postgres"])
def shop_on_each_database(request, tmp_path: Path) -> Iterator[Store]:
    """The `shop` store on SQLite, then on the local PostgreSQL (skipped with the reason when it is absent)."""
    from tests.publish.shop import stock_shop

    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    try:
        yield stock_shop(store)
    finally:
        store.close()
