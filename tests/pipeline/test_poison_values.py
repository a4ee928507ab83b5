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


def _full_sync(tmp_path: Path, folder: Path, mapping: Path | None = None, **others: dict) -> tuple[Any, Store]:
    """Run the full sync on a file-drop connection (and `others`); the run's result and its store."""
    connection: dict[str, Any] = {"connector": "file_drop", "channel": "web", "settings": {"path": str(folder)}}
    if mapping is not None:
        connection["mapping"] = str(mapping)
    document = {"connections": {"web_shop": connection, **others}}
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


def _assert_completes(tmp_path: Path, folder: Path, monkeypatch, mapping: Path | None = None, **others: dict) -> Store:
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    for _ in range(2):  # the run after the bad value completes too
        result, store = _full_sync(tmp_path, folder, mapping, **others)
        failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
        # a connection that cannot be built fails its own step, saying why; nothing else fails
        assert failed == [f"broken_{name}" for name in sorted(others)], failed
        assert _completed(result) >= STEPS
    return store


def _entry(store: Store, stream: str, record: str) -> sa.Row:
    """The one open quarantine entry of a record (whose id holds `record`)."""
    (entry,) = [row for row in _open_entries(store) if row.stream == stream and record in (row.record_id or "")]
    return entry


def test_zero_customer_records_run_every_step_to_an_empty_result(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    customers = folder / "customers.csv"
    customers.write_text(customers.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    store = _assert_completes(tmp_path, folder, monkeypatch)
    assert store.count(tables.customer_records) == 0
    assert store.count(tables.orders) > 0


def test_an_order_total_of_1e400_is_quarantined_and_lifetime_value_still_computes(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    _append(folder / "orders.csv", "WO9999,W1000,2026-09-03T10:00:00Z,paid,1e400,EUR")
    store = _assert_completes(tmp_path, folder, monkeypatch)
    entry = _entry(store, "orders", "WO9999")
    assert entry.stage == "map" and "out of range" in entry.error
    orders = _keys(store, tables.orders, "order_key")
    assert "web_shop:orders:WO9999" not in orders and "web_shop:orders:WO5000" in orders


def test_negative_totals_and_quantities_are_quarantined(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    _append(folder / "orders.csv", "WO9998,W1000,2026-09-03T10:00:00Z,paid,-25.00,EUR")
    _append(folder / "order_lines.csv", "WO5000,9,SKU-TSHIRT-BLK,-2,19.90")
    store = _assert_completes(tmp_path, folder, monkeypatch)
    assert "negative" in _entry(store, "orders", "WO9998").error
    line = _entry(store, "order_lines", "WO5000")
    assert line.field == "quantity" and "negative" in line.error
    assert "web_shop:orders:WO9998" not in _keys(store, tables.orders, "order_key")
    assert not any(key.endswith(":9") for key in _keys(store, tables.order_lines, "order_line_key"))
    assert store.count(tables.order_lines) > 0


def test_a_birth_date_in_2999_is_quarantined(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    _append(
        folder / "customers.csv",
        "W1999,Zoe,Futur,zoe.futur@example.fr,,2999-01-01,,,,France,yes,2026-10-01T10:00:00Z",
    )
    store = _assert_completes(tmp_path, folder, monkeypatch)
    entry = _entry(store, "customers", "W1999")
    assert (
        entry.field == "birth_date" and "the birth date is in the future" in entry.error and "2999" not in entry.error
    )
    customers = _keys(store, tables.customer_records, "record_key")
    assert "web_shop:customers:W1999" not in customers and "web_shop:customers:W1000" in customers


def test_nan_and_infinity_in_json_are_refused_with_a_reason(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    line = '{"id": "%s", "customer_email": "hugo.martin@example.fr", "occurred_at": "2026-10-09T08:30:00Z", '
    line += '"kind": "email", "subject": "Note", "status": "closed", "complaint": false, "satisfaction": %s}'
    _append(folder / "interactions.jsonl", line % ("WE900", "NaN"))
    _append(folder / "interactions.jsonl", line % ("WE901", "-Infinity"))
    _append(folder / "interactions.jsonl", line % ("WE902", "1e400"))
    store = _assert_completes(tmp_path, folder, monkeypatch)
    for record, shown in (("WE900", "nan"), ("WE901", "-inf"), ("WE902", "inf")):
        entry = _entry(store, "interactions", record)
        assert entry.stage == "read" and entry.field == "satisfaction"
        assert f"{shown} is not a finite number" in entry.error
    raw = tables.raw_records
    with store.engine.connect() as conn:
        landed = set(conn.execute(sa.select(raw.c.record_id).where(raw.c.stream == "interactions")).scalars())
    assert not landed & {"WE900", "WE901", "WE902"} and "WE701" in landed


def _spoilt_mapping(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "connectors" / "file_drop" / "mapping.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "spoilt.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_bad_transform_argument_fails_its_connection_by_name_and_the_others_run(tmp_path: Path, monkeypatch) -> None:
    mapping = _spoilt_mapping(
        tmp_path,
        "total_amount: {from: total, transforms: [decimal]}",
        "total_amount: {from: total, transforms: [{decimal: {places: two}}]}",
    )
    spoilt = {
        "connector": "file_drop",
        "channel": "store",
        "mapping": str(mapping),
        "settings": {"path": str(_drop(tmp_path / "other"))},
    }
    folder = _drop(tmp_path)
    store = _assert_completes(tmp_path, folder, monkeypatch, spoilt_shop=spoilt)
    assert store.count(tables.orders) > 0

    from canalis.config.check import connection_problems
    from canalis.connectors.registry import discover

    config = CanalisConfig.model_validate({"connections": {"spoilt_shop": spoilt}, "path": tmp_path / "c.yaml"})
    (problem,) = connection_problems("spoilt_shop", config.connections["spoilt_shop"], discover(), tmp_path)
    text = str(problem)
    assert text.startswith("connections.spoilt_shop.mapping: mapping file spoilt.yaml: streams.orders.targets.0")
    assert "total_amount" in text and "transform 'decimal' argument 'places'" in text


def test_a_from_typo_under_strict_quarantines_the_records_clearly_and_identity_runs(
    tmp_path: Path, monkeypatch
) -> None:
    mapping = _spoilt_mapping(tmp_path, "email: {from: email,", "email: {from: emial,")
    store = _assert_completes(tmp_path, _drop(tmp_path), monkeypatch, mapping)
    assert store.count(tables.customer_records) == 0
    entry = _entry(store, "customers", "W1000")
    assert "unknown source field 'email'" in entry.error and "the mapping reads 'emial'" in entry.error
    assert store.count(tables.orders) > 0


def test_a_drop_with_no_records_at_all_runs_every_step(tmp_path: Path, monkeypatch) -> None:
    folder = _drop(tmp_path)
    for path in folder.iterdir():
        header = path.read_text(encoding="utf-8").splitlines()[0] + "\n" if path.suffix == ".csv" else ""
        path.write_text(header, encoding="utf-8")
    store = _assert_completes(tmp_path, folder, monkeypatch)
    assert store.count(tables.customer_records) == store.count(tables.orders) == 0
    assert store.count(tables.raw_records) == 0
