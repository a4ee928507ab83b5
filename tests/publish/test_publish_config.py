"""The publish section: defaults from the demo connections, errors naming the field, and the approval gate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import materialize

from canalis.assets.publishing import build_publish_assets
from canalis.assets.resources import StoreResource
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import CanalisConfig, parse_config
from canalis.publishing import load_publish_config
from canalis.sdk.errors import ConfigError

DEMO = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster_home" / "canalis.yaml").read_text("utf-8"))


def _demo(publish: dict | None = None) -> CanalisConfig:
    return parse_config({**DEMO, "publish": publish or {}})


def test_defaults_on_the_demo_connections() -> None:
    config = load_publish_config(_demo())
    assert set(config.systems_of_record.values()) == {"erp_odoo"}
    assert config.channels["web_shopify"].publish == ["prices", "stock_levels", "promotions", "consents"]
    assert config.channels["marketing_brevo"].publish == ["consents"]
    assert config.channels["crm_salesforce"].publish == ["prices", "consents"]
    assert "erp_odoo" not in config.channels and "web_shop_export" not in config.channels
    assert config.mode == "plan" and config.require_approval and not config.auto_approve


def test_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"publish\.channels\.web_shopify\.stock_buffer"):
        load_publish_config(_demo({"channels": {"web_shopify": {"stock_buffer": -1}}}))
    with pytest.raises(ConfigError, match=r"publish\.systems_of_record\.prices"):
        load_publish_config(_demo({"systems_of_record": {"prices": "nowhere"}}))


def test_an_empty_store_plans_nothing_and_the_publish_job_applies_nothing(tmp_path: Path) -> None:
    config = CanalisConfig.model_validate({"connections": {}, "publish": {"mode": "apply"}})
    assets, checks = build_publish_assets(config, CanalisTranslator())
    store = StoreResource(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    result = materialize([*assets, *checks], resources={"store": store})
    assert result.success
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert metadata["price_plan"]["plan_status"].value == "nothing to change"
    assert metadata["publish_apply"]["plan_status"].value == "nothing to apply"
    assert {check.check_name for check in result.get_asset_check_evaluations()} == {
        "quarantine_gate",
        "inconsistency_gate",
        "circuit_breaker",
        "writes_stuck",
    }
