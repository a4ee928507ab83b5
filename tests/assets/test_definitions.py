"""The code location loads without network I/O and its graph follows the connections file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultScheduleStatus

from canalis.assets.build import build_definitions
from canalis.cli.sandbox import sandbox_placeholders
from canalis.config.connections import CanalisConfig, load_config
from canalis.sdk.errors import ConfigError

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "dagster_home" / "canalis.yaml"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the code location must not open network connections at import")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_demo_definitions_load_with_the_expected_graph(no_network) -> None:
    with sandbox_placeholders(DEMO_CONFIG):  # the settings a run sees: the sandbox's URL and test credentials
        defs = build_definitions(load_config(DEMO_CONFIG))
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    expected_raw = {f"raw/web_shop_export/{s}" for s in ("customers", "orders", "order_lines", "interactions")}
    expected_raw |= {"raw/store_pos_export/customers", "raw/store_pos_export/orders"}
    expected_raw |= {
        "raw/crm_hubspot/contacts",
        "raw/crm_salesforce/cases",
        "raw/web_shopify/orders",
        "raw/store_square/inventory_counts",
        "raw/erp_odoo/pricelist_items",
        "raw/marketing_brevo/email_events",
    }
    assert expected_raw <= keys
    assert {
        "canonical/customer_records",
        "canonical/consents",
        "canonical/orders",
        "canonical/order_lines",
        "canonical/interactions",
        "unified_customers",
        "identity_links",
        "identity_proposed_merges",
        "customer_timeline",
    } <= keys
    assert not any(key.startswith("raw/store_pos_export/order_lines") for key in keys)
    assert not any(key.startswith("raw/crm_hubspot/customers") for key in keys)  # write-only stream

    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey(["raw", "crm_hubspot", "contacts"])).group_name == "raw_crm_hubspot"
    customer_parents = graph.get(AssetKey(["canonical", "customer_records"])).parent_keys
    assert {
        AssetKey(["raw", "web_shop_export", "customers"]),
        AssetKey(["raw", "crm_hubspot", "contacts"]),
        AssetKey(["raw", "store_square", "customers"]),
    } <= customer_parents
    assert AssetKey(["raw", "web_shop_export", "orders"]) not in customer_parents
    assert AssetKey(["canonical", "customer_records"]) in graph.get(AssetKey("unified_customers")).parent_keys

    assert {job.name for job in defs.resolve_all_job_defs()} >= {"full_sync", "incremental_sync"}
    schedule = defs.resolve_schedule_def("incremental_sync_schedule")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    check_names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"quarantine_share", "cluster_size_alarm", "unresolved_share", "proposed_merges_reviewed"} <= check_names


def test_workspace_module_exposes_defs(no_network, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALIS_CONFIG", str(DEMO_CONFIG))
    import importlib

    import canalis.assets.definitions as module

    module = importlib.reload(module)
    assert module.defs.resolve_job_def("full_sync").name == "full_sync"


def test_bad_connections_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "canalis.yaml"
    path.write_text("connections:\n  Web Shop:\n    connector: file_drop\n    channel: web\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="connection name 'Web Shop'"):
        load_config(path)
    path.write_text("connections:\n  web:\n    connector: file_drop\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"connections\.web\.channel"):
        load_config(path)


def test_a_missing_connections_file_means_an_empty_graph(tmp_path: Path) -> None:
    defs = build_definitions(load_config(tmp_path / "absent.yaml"))
    assert list(defs.resolve_all_asset_keys()) == []


def test_streams_defined_in_settings_become_raw_assets(no_network) -> None:
    config = CanalisConfig.model_validate(
        {
            "connections": {
                "erp": {
                    "connector": "sql_erp",
                    "channel": "erp",
                    "settings": {
                        "url": {"env": "CANALIS_SQL_ERP_URL"},
                        "streams": {"clients": {"table": "clients", "primary_key": "id", "cursor": "updated_at"}},
                    },
                }
            }
        }
    )
    keys = {key.to_user_string() for key in build_definitions(config).resolve_all_asset_keys()}
    assert "raw/erp/clients" in keys
    assert "raw/erp/customers" not in keys


def test_file_drop_sensor_requests_a_run_only_when_files_change(tmp_path: Path) -> None:
    from dagster import DefaultSensorStatus, RunRequest, SkipReason, build_sensor_context

    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "customers.csv").write_text("id\n1\n", encoding="utf-8")
    config = CanalisConfig.model_validate(
        {"connections": {"shop": {"connector": "file_drop", "channel": "web", "settings": {"path": str(folder)}}}}
    )
    sensor = build_definitions(config).resolve_sensor_def("file_drop_sensor")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    first = sensor(build_sensor_context())
    assert isinstance(first, RunRequest)
    unchanged = sensor(build_sensor_context(cursor=first.run_key))
    assert isinstance(unchanged, SkipReason)
    (folder / "customers_2.csv").write_text("id\n2\n", encoding="utf-8")
    changed = sensor(build_sensor_context(cursor=first.run_key))
    assert isinstance(changed, RunRequest) and changed.run_key != first.run_key
