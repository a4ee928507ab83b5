"""One broken connection isolates itself: the code location loads, and every other source runs through planning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, materialize

from canalis.assets.build import build_definitions
from canalis.cli.summary import render_summary, summarize_run
from canalis.config.connections import CanalisConfig
from canalis.store import Store

SAMPLE = {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}
POS = {
    "connector": "file_drop",
    "channel": "store",
    "mapping": "pos",
    "settings": {
        "path": "sample:store_pos",
        "delimiter": ";",
        "files": {"customers": "clients*", "orders": "ventes*"},
        "primary_keys": {"customers": "code_client", "orders": "ticket"},
    },
    "streams": ["customers", "orders"],
}
BROKEN = {
    "unknown connector": {"connector": "hubsport", "channel": "crm"},
    "bad setting": {**SAMPLE, "settings": {"path": "sample:web_shop", "delimitr": ";"}},
    "missing secret": {"connector": "hubspot", "channel": "crm", "settings": {"base_url": "http://127.0.0.1:9"}},
    "missing mapping": {**SAMPLE, "mapping": "mappings/nowhere.yaml"},
}


def _config(tmp_path: Path, broken: dict) -> CanalisConfig:
    document = {"connections": {"web_shop": SAMPLE, "store_pos": POS, "broken": broken}}
    path = tmp_path / "canalis.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return CanalisConfig.model_validate({**document, "path": path})


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_broken_connection_shows_why_and_the_others_run(tmp_path: Path, monkeypatch, how: str) -> None:
    monkeypatch.delenv("CANALIS_HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    defs = build_definitions(_config(tmp_path, BROKEN[how]))  # loads: no exception
    graph = defs.resolve_asset_graph()
    broken_keys = [key for key in graph.get_all_asset_keys() if key.path[:2] == ["raw", "broken"]]
    assert broken_keys
    description = graph.get(broken_keys[0]).description
    assert "cannot be built" in description and "connections.broken" in description
    assert not any(
        key.path[1] == "broken" for key in graph.get(AssetKey(["canonical", "customer_records"])).parent_keys
    )

    job = defs.resolve_job_def("full_sync")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"raw/web_shop/customers", "raw/store_pos/orders", "canonical/customer_records", "unified_customers"} <= done
    assert {"price_plan", "inconsistencies"} <= done
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed and e.asset_key in broken_keys]
    assert failed_checks and "connections.broken" in failed_checks[0].description
    summary = summarize_run(result, Store(f"sqlite:///{tmp_path / 'canalis.db'}"))
    text = render_summary(summary, "full_sync")
    assert "failed: raw__broken" not in text or "cannot be built" in text
    assert any("cannot be built" in step for step in summary.failed_steps)


def test_a_source_failing_at_run_time_does_not_stop_the_others(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    gone = tmp_path / "gone"
    gone.mkdir()
    document = {
        "connections": {"web_shop": SAMPLE, "store_pos": {**POS, "settings": {**POS["settings"], "path": str(gone)}}}
    }
    path = tmp_path / "canalis.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    defs = build_definitions(CanalisConfig.model_validate({**document, "path": path}))
    gone.rmdir()  # the folder disappears after the code location loaded: the read fails at run time
    result = materialize(list(defs.assets) + list(defs.asset_checks), resources=defs.resources, raise_on_error=False)
    assert result.success
    done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"canonical/customer_records", "unified_customers", "price_plan"} <= done
    failed = {
        (e.asset_key.to_user_string(), e.check_name): e.description
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.check_name == "read_succeeded"
    }
    assert set(failed) == {("raw/store_pos/customers", "read_succeeded"), ("raw/store_pos/orders", "read_succeeded")}
    assert all("path" in reason for reason in failed.values())
    summary = summarize_run(result, Store(f"sqlite:///{tmp_path / 'canalis.db'}"))
    assert summary.records_read["web_shop"] > 0 and "store_pos" in summary.failed_sources
    assert "store_pos" in render_summary(summary, "full_sync")


def test_a_connections_file_that_cannot_be_read_still_loads_the_code_location(tmp_path: Path, monkeypatch) -> None:
    import importlib

    path = tmp_path / "canalis.yaml"
    path.write_text("connections:\n  web: {connector: file_drop, channel: web}\nkpis: {windowz: 3}\n", encoding="utf-8")
    monkeypatch.setenv("CANALIS_CONFIG", str(path))
    import canalis.assets.definitions as module

    module = importlib.reload(module)
    keys = {key.to_user_string() for key in module.defs.resolve_all_asset_keys()}
    assert keys == {"canalis/connections_file"}
    description = module.defs.resolve_asset_graph().get(AssetKey(["canalis", "connections_file"])).description
    assert "kpis.windowz" in description


@pytest.fixture(scope="module")
def small_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """The demo's vendors on a small world, served for the module; the environment runs need."""
    from canalis.sandbox.environment import sandbox_environment
    from canalis.sandbox.serve import set_shopify_plan
    from canalis.sandbox.server import SandboxServer
    from canalis.sandbox.world import WorldSpec, generate_world

    data_dir = tmp_path_factory.mktemp("world")
    generate_world(WorldSpec(seed=5, customers=40), data_dir)
    set_shopify_plan(data_dir, "plus")
    with SandboxServer(data_dir, imap=True) as server:
        yield sandbox_environment(server.base_url, server.credentials())


@pytest.mark.slow
def test_the_demo_with_a_broken_connection_runs_its_eight_sources_through_planning(
    tmp_path: Path, monkeypatch, small_sandbox: dict[str, str]
) -> None:
    for name, value in small_sandbox.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    demo = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster_home" / "canalis.yaml").read_text())
    demo["connections"]["crm_hubspot"]["settings"]["base_urll"] = "http://127.0.0.1:9"  # a misspelt setting
    path = tmp_path / "canalis.yaml"
    path.write_text(yaml.safe_dump(demo), encoding="utf-8")
    defs = build_definitions(CanalisConfig.model_validate({**demo, "path": path}))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("full_sync").execute_in_process(instance=instance, raise_on_error=False)
    summary = summarize_run(result, Store(f"sqlite:///{tmp_path / 'canalis.db'}"))
    healthy = set(demo["connections"]) - {"crm_hubspot"}
    assert {source for source, count in summary.records_read.items() if count > 0} == healthy
    done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"unified_customers", "customer_timeline", "inconsistencies", "price_plan", "suppression_plan"} <= done
    assert summary.plan_id  # planning went through on the eight others
    assert "crm_hubspot" in summary.failed_sources and "base_urll" in summary.failed_sources["crm_hubspot"]
