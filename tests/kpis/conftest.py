"""A migrated store on SQLite, and on PostgreSQL and MariaDB when their servers are there."""

from __future__ import annotations

from pathlib import Path

import pytest

from canalis.kpis import KpiSettings
from canalis.store import Store


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def kpi_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty migrated store on each database the KPIs' SQL must run on."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'kpis.db'}")
    else:
        store = Store(request.getfixturevalue(f"{request.param}_url"))
    store.migrate()
    return store


@pytest.fixture
def settings() -> KpiSettings:
    return KpiSettings()
