"""Declarative automation, freshness, owners, tags and column schemas come from the connections file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DefaultSensorStatus

from canalis.assets.automation import cron_period
from canalis.assets.build import build_definitions
from canalis.config.connections import CanalisConfig, parse_config
from canalis.sdk.errors import ConfigError

DROP = {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}


def _defs(**document):
    config = CanalisConfig.model_validate(
        {
            "connections": {
                "web": DROP,
                "shop": {**DROP, "schedule": "30 6 * * *", "owners": ["shop-team@example.com"], "tags": {"tier": "1"}},
            },
            "owners": ["team:data-platform"],
            **document,
        }
    )
    return build_definitions(config)


def test_each_connection_reads_on_its_schedule_and_the_rest_follows() -> None:
    graph = _defs().resolve_asset_graph()
    web = graph.get(AssetKey(["raw", "web", "customers"]))
    shop = graph.get(AssetKey(["raw", "shop", "customers"]))
    assert web.automation_condition.get_label() == "on_cron(0 * * * *, UTC)"
    assert shop.automation_condition.get_label() == "on_cron(30 6 * * *, UTC)"
    assert shop.freshness_policy.fail_window.to_timedelta() == timedelta(days=2, minutes=30)
    assert web.owners == ["team:data-platform"] and shop.owners == ["shop-team@example.com"]
    assert shop.tags["tier"] == "1"
    for key in (["canonical", "customer_records"], ["unified_customers"], ["price_plan"], ["inconsistencies"]):
        node = graph.get(AssetKey(key))
        assert node.automation_condition.get_label() == "eager" and node.owners == ["team:data-platform"]
    for key in ("approved_plan", "publish_apply"):  # only an approved plan, in the publish job, writes
        assert graph.get(AssetKey(key)).automation_condition is None


def test_the_automation_sensor_is_off_until_turned_on_and_leaves_publishing_out() -> None:
    defs = _defs()
    sensor = defs.resolve_sensor_def("canalis_automation")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    targeted = sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert AssetKey(["raw", "web", "customers"]) in targeted and AssetKey("publish_apply") not in targeted


def test_tables_carry_their_column_schema() -> None:
    graph = _defs().resolve_asset_graph()
    schema = graph.get(AssetKey(["canonical", "customer_records"])).metadata["dagster/column_schema"]
    columns = {column.name: column for column in schema.columns}
    assert columns["record_key"].constraints.unique and not columns["record_key"].constraints.nullable
    assert columns["email"].description == "normalised email"


def test_the_file_drop_sensor_syncs_only_what_the_files_feed() -> None:
    defs = _defs()
    assert defs.resolve_sensor_def("file_drop_sensor").job_name == "file_drop_sync"
    keys = {key.to_user_string() for key in defs.resolve_job_def("file_drop_sync").asset_layer.executable_asset_keys}
    assert "raw/web/customers" in keys and "unified_customers" in keys and "publish_apply" not in keys


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"schedule": "every hour"}, "schedule"),
        ({"owners": ["data platform"]}, "owners"),
        ({"connections": {"web": {**DROP, "schedule": "* *"}}}, "connections.web.schedule"),
    ],
)
def test_schedules_and_owners_are_checked(tmp_path: Path, document: dict, where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        parse_config({"connections": {"web": DROP}, **document})


def test_a_schedule_period_is_its_longest_gap() -> None:
    assert cron_period("0 * * * *") == timedelta(hours=1)
    assert cron_period("0 9 * * 1-5") == timedelta(days=3)
