"""The KPI inputs fingerprint: the same while nothing the KPIs read changes, different after any change."""

from __future__ import annotations

from kpi_world import Canonical, day
from sqlalchemy import delete

from canalis.kpis import KpiSettings
from canalis.kpis.inputs import inputs_fingerprint
from canalis.store import Store, tables


def _fingerprint(store: Store, settings: KpiSettings | None = None) -> str:
    with store.engine.connect() as conn:
        return inputs_fingerprint(conn, settings or KpiSettings())


def test_the_fingerprint_follows_every_input_and_the_settings(kpi_store: Store) -> None:
    with kpi_store.begin() as conn:
        world = Canonical(conn)
        world.customer("c1", "shop:customers:c1")
        world.interaction("c1", "web", "order", day(1))
    first = _fingerprint(kpi_store)
    assert _fingerprint(kpi_store) == first
    assert _fingerprint(kpi_store, KpiSettings(ropo_window_days=30)) != first
    with kpi_store.begin() as conn:
        Canonical(conn).order("shop:customers:c1", "web", "10.00")
    with_order = _fingerprint(kpi_store)
    assert with_order != first
    with kpi_store.begin() as conn:  # a deletion leaves no stamp but changes the row count
        conn.execute(delete(tables.interactions))
    assert _fingerprint(kpi_store) not in (first, with_order)
