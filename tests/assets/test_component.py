"""The Canalis component: listed by dg, scaffolded into a working defs.yaml, loaded and materialized, translated."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetSpec, DagsterInstance
from dagster.components.testing import create_defs_folder_sandbox

from canalis.assets.component import CanalisComponent

ROOT = Path(__file__).resolve().parents[2]


def test_dg_lists_the_canalis_component(tmp_path: Path) -> None:
    dg = Path(sys.executable).with_name("dg")
    if not dg.exists():
        pytest.fail("the dg command line is part of the test extra (canalis[components]); reinstall with make setup")
    listed = subprocess.run([str(dg), "list", "components"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "canalis.assets.component.CanalisComponent" in listed.stdout


def test_a_scaffolded_connection_loads_and_materializes(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{isolated_home / 'canalis.db'}")
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(
            component_cls=CanalisComponent,
            defs_path="web",
            scaffold_params={"connector": "file_drop", "connection": "web"},
        )
        written = yaml.safe_load((defs_path / "defs.yaml").read_text())
        assert written["attributes"]["connections"]["web"]["mapping"] == "mapping.yaml"
        assert (defs_path / "mapping.yaml").read_text().startswith("# Canalis mapping")  # the mapping, to edit
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (component, defs):
            assert isinstance(component, CanalisComponent)
            keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
            assert {"raw/web/customers", "canonical/customer_records", "unified_customers"} <= keys
            job = defs.resolve_job_def("full_sync")
            with DagsterInstance.ephemeral() as instance:
                result = job.execute_in_process(instance=instance)
            assert result.success
            done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
            assert {"raw/web/customers", "canonical/customer_records", "unified_customers"} <= done


@pytest.mark.slow
def test_a_scaffolded_vendor_connection_materializes_on_the_sandbox(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from canalis.sandbox.environment import sandbox_environment
    from canalis.sandbox.server import SandboxServer
    from canalis.sandbox.world import WorldSpec, generate_world

    generate_world(WorldSpec(seed=9, customers=30), tmp_path / "world")
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{isolated_home / 'canalis.db'}")
    with SandboxServer(tmp_path / "world") as server, create_defs_folder_sandbox() as sandbox:
        for name, value in sandbox_environment(server.base_url, server.credentials()).items():
            monkeypatch.setenv(name, value)
        defs_path = sandbox.scaffold_component(
            component_cls=CanalisComponent, defs_path="crm", scaffold_params={"connector": "hubspot"}
        )
        with (
            sandbox.load_component_and_build_defs(defs_path=defs_path) as (_, defs),
            DagsterInstance.ephemeral() as instance,
        ):
            result = defs.resolve_job_def("full_sync").execute_in_process(instance=instance)
    assert result.success
    done = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"raw/hubspot/contacts", "canonical/customer_records", "unified_customers"} <= done
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key.path[0] == "raw"}
    assert checks["read_succeeded"]


def test_a_component_can_name_a_connections_file_and_post_process(tmp_path: Path) -> None:
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "canalis"
        folder.mkdir()
        (folder / "canalis.yaml").write_text(
            "connections:\n  web: {connector: file_drop, channel: web, settings: {path: 'sample:web_shop'}}\n"
        )
        (folder / "defs.yaml").write_text(
            yaml.safe_dump(
                {
                    "type": "canalis.assets.component.CanalisComponent",
                    "attributes": {"connections_file": "canalis.yaml"},
                    "post_processing": {"assets": [{"target": "*", "attributes": {"owners": ["team:retail-data"]}}]},
                }
            )
        )
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            node = defs.resolve_asset_graph().get(AssetKey(["raw", "web", "customers"]))
            assert node.owners == ["team:retail-data"]


def test_get_asset_spec_has_the_last_word_on_each_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    def regroup(self, spec: AssetSpec) -> AssetSpec:  # what a subclass overriding get_asset_spec does
        return spec.replace_attributes(group_name="crm") if spec.key.path[0] == "raw" else spec

    monkeypatch.setattr(CanalisComponent, "get_asset_spec", regroup)
    drop = {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}
    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "canalis"
        folder.mkdir()
        document = {"type": "canalis.assets.component.CanalisComponent", "attributes": {"connections": {"web": drop}}}
        (folder / "defs.yaml").write_text(yaml.safe_dump(document))
        with sandbox.load_component_and_build_defs(defs_path=folder) as (_, defs):
            graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey(["raw", "web", "customers"])).group_name == "crm"
    assert graph.get(AssetKey(["canonical", "customer_records"])).group_name == "canonical"


def test_the_demo_connections_file_still_works_beside_the_component() -> None:
    shutil.which("canalis")  # the file-based code location is unchanged: workspace.yaml still loads it
    assert "canalis.assets.definitions" in (ROOT / "workspace.yaml").read_text()
