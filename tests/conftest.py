"""Shared fixtures: an isolated Canalis home per test, a migrated store, and server databases when present."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.store import Store

POSTGRES_URL = os.environ.get("CANALIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CANALIS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_SERVICES = os.environ.get("CANALIS_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own Canalis home, no database URL from the environment, and no plugins."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CANALIS_HOME", str(home))
    monkeypatch.delenv("CANALIS_DATABASE_URL", raising=False)
    monkeypatch.delenv("CANALIS_CONFIG", raising=False)
    monkeypatch.setenv("CANALIS_DISABLE_PLUGINS", "1")
    return home


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A migrated SQLite store in a temporary folder."""
    store = Store(f"sqlite:///{tmp_path / 'canalis.db'}")
    store.migrate()
    return store


def _server_or_skip(url: str, name: str) -> sa.Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # any connection failure means the server is not there
        engine.dispose()
        message = (
            f"{name} server not reachable at {engine.url.render_as_string(hide_password=True)}: {type(error).__name__}"
        )
        if REQUIRE_SERVICES:
            pytest.fail(message + " (CANALIS_REQUIRE_SERVICES=1: CI must run this test)")
        pytest.skip(message)
    return engine


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty schema on the local PostgreSQL server, dropped after the test."""
    engine = _server_or_skip(POSTGRES_URL, "PostgreSQL")
    schema = f"canalis_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A URL to a fresh, empty database on the local MariaDB server, dropped after the test."""
    engine = _server_or_skip(MARIADB_URL, "MariaDB")
    database = f"canalis_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    try:
        yield MARIADB_URL.rsplit("/", 1)[0] + f"/{database}?charset=utf8mb4"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{database}`"))
        engine.dispose()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `xdist_group` working under `--dist loadgroup` with pytest 9.

    pytest-xdist 3.8 puts a test's group in its node id by assigning `item._nodeid`; pytest 9 keeps the node id in
    `item._id`, so the assignment changes nothing and every test of a group becomes a unit of its own: the failure
    drills then ran on several workers, each starting a profile of its own. This adds the suffix xdist means to add
    when it is missing (a fixed xdist leaves nothing to do).
    """
    if not config.getoption("loadgroup", default=False):
        return
    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(groups))
        if not groups or item.nodeid.endswith(suffix):
            continue
        if hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(item.nodeid + suffix)
        else:  # pytest 8: xdist's own assignment works
            item._nodeid = item.nodeid + suffix
