"""No single record or value wedges a run: each bad one is quarantined with its reason, the run completes and
the other records land; a run after it completes too."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from dagster import DagsterInstance

from canalis.assets.build import build_definitions
from canalis.config.connections import CanalisConfig
from canalis.store import Store, tables

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "connectors" / "file_drop" / "sample" / "web_shop"
# every step of a full sync that must complete, whatever the data
STEPS = {
    "canonical/customer_records",
    "canonical/orders",
    "unified_customers",
    "kpis/customer_lifetime_value",
    "inconsistencies",
    "price_plan",
}


def _drop(tmp_path: Path) -> Path:
    """A copy of the sample web-shop export to spoil."""
    folder = tmp_path / "drop"
    shutil.copytree(SAMPLE, folder)
    return folder


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _full_sync(tmp_path: Path, folder: Path, mapping: Path | None = None) -> tuple[Any, Store]:
    """Run the full sync on one file-drop connection; the run's result and its store."""
    connection: dict[str, Any] = {"connector": "file_drop", "channel": "web", "settings": {"path": str(folder)}}
    if mapping is not None:
        connection["mapping"] = str(mapping)
    document = {"connections": {"web_shop": connection}}
    path = tmp_path / "canalis.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'canalis.db'}"
    defs = build_definitions(CanalisConfig.model_validate({**document, "path": path}))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("full_sync").execute_in_process(instance=instance, raise_on_error=False)
    return result, Store(url)


def _completed(result: Any) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def _open_entries(store: Store) -> list[sa.Row]:
    q = tables.quarantine
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(q.c.source, q.c.stream, q.c.stage, q.c.record_id, q.c.field, q.c.error).where(
                q.c.resolved_at.is_(None)
            )
        ).all()


def _keys(store: Store, table: sa.Table, column: str) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(table.c[column])).scalars())


def _assert_completes(tmp_path: Path, folder: Path, monkeypatch, mapping: Path | None = None) -> Store:
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    for _ in range(2):  # the run after the bad value completes too
        result, store = _full_sync(tmp_path, folder, mapping)
        failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
        assert not failed, failed
        assert _completed(result) >= STEPS
    return store


def test_zero_customer_records_run_every_step_to_an_empty_result(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    customers = folder / "customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    store = _assert_completes(tmp_path, folder, monkeypatch)
    assert store.count(tables.customer_records) == 0
    assert store.count(tables.orders) > 0
