"""The demo's full sync runs through Dagster on the sample exports; its summary matches the sample's ground truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterInstance

from canalis.assets.build import build_definitions
from canalis.cli.summary import render_summary, summarize_run
from canalis.config.connections import load_config
from canalis.store import Store, tables

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "connectors" / "file_drop" / "sample"
EXPECTED = json.loads((SAMPLE / "expected.json").read_text(encoding="utf-8"))


def _rows(path: Path, delimiter: str = ",") -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for row in csv.reader(handle, delimiter=delimiter) if row) - 1


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


DEMO_CONFIG = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Canalis home with the demo's file-drop connections only (the sample exports)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    connections = {
        name: connection
        for name, connection in DEMO_CONFIG["connections"].items()
        if connection["connector"] == "file_drop"
    }
    (home / "canalis.yaml").write_text(yaml.safe_dump({"connections": connections}), encoding="utf-8")
    monkeypatch.setenv("CANALIS_HOME", str(home))
    return home


def _run(job: str, instance: DagsterInstance):
    defs = build_definitions(load_config())
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


@pytest.mark.slow
def test_full_sync_summary_matches_the_sample(demo_home: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        result = _run("full_sync", instance)
        assert result.success
        summary = summarize_run(result, Store())

    web, pos = SAMPLE / "web_shop", SAMPLE / "store_pos"
    web_records = (
        _rows(web / "customers.csv")
        + _rows(web / "orders.csv")
        + _rows(web / "order_lines.csv")
        + _lines(web / "interactions.jsonl")
    )
    pos_records = _rows(pos / "clients.csv", ";") + _rows(pos / "ventes.csv", ";")
    broken_at_read = sum(1 for key in EXPECTED["quarantined"] if key.count(":") == 2)
    read = summary.records_read["web_shop_export"] + summary.records_read["store_pos_export"]
    assert read == web_records + pos_records - broken_at_read
    assert summary.quarantined_open == len(EXPECTED["quarantined"])
    assert summary.unified_customers == EXPECTED["people"]
    assert summary.interactions_attached == summary.interactions
    # the sample's own inconsistencies (consents that disagree, an open complaint still targeted) are reported
    inconsistency_checks = {
        name.split(":")[1] for name, passed, _ in summary.checks if not passed and name.startswith("inconsistencies:")
    }
    assert inconsistency_checks == set(EXPECTED["inconsistencies"])
    with Store().engine.connect() as conn:
        email_of = dict(conn.execute(sa.select(tables.customers.c.customer_id, tables.customers.c.email)).all())
    from canalis.consistency import list_inconsistencies

    found: dict[str, set[str]] = {}
    for row in list_inconsistencies(Store(), open_only=True):
        found.setdefault(row["code"], set()).add(email_of.get(row["entity_key"]))
    assert found == {code: set(emails) for code, emails in EXPECTED["inconsistencies"].items()}
    other = [
        (name, passed, severity) for name, passed, severity in summary.checks if not name.startswith("inconsistencies:")
    ]
    assert all(passed or severity == "WARN" for _, passed, severity in other)
    warned = {name.split(":")[0] for name, passed, _ in other if not passed}
    dirty_streams = {key.split(":")[0] for key in EXPECTED["quarantined"]}
    # every canonical table fed by a dirty stream warns (the sample's broken rows are 6-12% of their streams)
    fed_by = {
        "canonical/customer_records": {"web_shop.customers", "store_pos.customers"},
        "canonical/consents": {"web_shop.customers", "store_pos.customers"},
        "canonical/orders": {"web_shop.orders", "store_pos.orders"},
        "canonical/order_lines": {"web_shop.order_lines"},
        "canonical/interactions": {"web_shop.orders", "store_pos.orders", "web_shop.interactions"},
    }
    assert warned == {table for table, streams in fed_by.items() if streams & dirty_streams}

    with Store().engine.connect() as conn:
        q = tables.quarantine
        held = {
            f"{row.source.removesuffix('_export')}.{row.stream}:{row.record_id}"
            for row in conn.execute(sa.select(q.c.source, q.c.stream, q.c.record_id))
        }
    assert held == set(EXPECTED["quarantined"])

    links = [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.event_specific_data.materialization.asset_key.path == ["identity_links"]
    ]
    assert links and links[0].metadata["accepted_links"].value > 0
    raw = [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.event_specific_data.materialization.asset_key.path[0] == "raw"
    ]
    # the sample's streams are short: each is stored by the step that reads it, and says so
    assert raw and {m.metadata["stored_by"].value for m in raw} == {"reading process"}

    text = render_summary(summary, "full_sync")
    assert "unified customers:" in text and "web_shop_export" in text


@pytest.mark.slow
def test_incremental_sync_after_full_reads_nothing_new(demo_home: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        assert _run("full_sync", instance).success
        store = Store()
        before = store.count(tables.customers)
        result = _run("incremental_sync", instance)
        assert result.success
        summary = summarize_run(result, store)
    assert sum(summary.records_read.values()) == 0
    assert store.count(tables.customers) == before


@pytest.mark.slow
def test_the_demo_runs_every_connection_on_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.sandbox.objectstore import ObjectStore
    from canalis.sandbox.world import iter_identity_records
    from canalis.sandbox.world.generate import store_path

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "canalis.yaml").write_text(yaml.safe_dump(DEMO_CONFIG), encoding="utf-8")
    monkeypatch.setenv("CANALIS_HOME", str(home))
    monkeypatch.setenv("CANALIS_SANDBOX_CUSTOMERS", "80")
    monkeypatch.delenv("CANALIS_SANDBOX_URL", raising=False)
    with sandbox_for_run(), DagsterInstance.ephemeral() as instance:
        result = _run("full_sync", instance)
        summary = summarize_run(result, Store())
    assert result.success, summary.failed_steps
    assert set(summary.records_read) == set(DEMO_CONFIG["connections"])
    assert all(count > 0 for count in summary.records_read.values()), summary.records_read

    world = ObjectStore(store_path(home / "sandbox"))
    try:
        systems = ("salesforce", "hubspot", "shopify", "square", "odoo", "brevo")  # the demo reads no mailbox
        people = {record["truth_person_id"] for record in iter_identity_records(world, systems=systems)}
    finally:
        world.close()
    # the sandbox people plus the 23 people of the sample exports, resolved within a few percent
    assert abs(summary.unified_customers - (len(people) + EXPECTED["people"])) <= 0.05 * len(people)
    assert summary.interactions_attached >= 0.9 * summary.interactions
