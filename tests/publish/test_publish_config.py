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
    assert config.mode == "plan" and config.require_approval and not config.approved()


def test_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"publish\.channels\.web_shopify\.stock_buffer"):
        load_publish_config(_demo({"channels": {"web_shopify": {"stock_buffer": -1}}}))
    with pytest.raises(ConfigError, match=r"publish\.systems_of_record\.prices"):
        load_publish_config(_demo({"systems_of_record": {"prices": "nowhere"}}))


def test_publish_apply_writes_nothing_without_approval(tmp_path: Path) -> None:
    config = CanalisConfig.model_validate({"connections": {}, "publish": {"mode": "apply"}})
    assets, checks = build_publish_assets(config, CanalisTranslator())
    store = StoreResource(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    result = materialize(assets, resources={"store": store}, selection=["publish_apply", "price_plan"])
    assert result.success
    apply_event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path == ["publish_apply"])
    assert apply_event.materialization.metadata["status"].value == "skipped: approval required"
    assert len(checks) == 1
