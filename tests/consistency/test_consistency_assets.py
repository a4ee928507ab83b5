"""The Dagster side: the `inconsistencies` asset and one check per rule, materialised on a small store."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import AssetCheckSeverity, AssetKey, Definitions, materialize

from canalis.assets.consistency import INCONSISTENCIES, build_consistency_assets
from canalis.assets.resources import StoreResource
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import CanalisConfig
from canalis.consistency import CATALOGUE, list_inconsistencies

ROOT = Path(__file__).resolve().parents[2]


def _config(**consistency) -> CanalisConfig:
    demo = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
    vendors = {name: c for name, c in demo["connections"].items() if c["connector"] != "file_drop"}
    return CanalisConfig(connections=vendors, consistency=consistency)


def test_one_asset_and_one_check_per_rule() -> None:
    assets, checks = build_consistency_assets(_config(), CanalisTranslator())
    (asset,) = assets
    assert asset.key == INCONSISTENCIES
    assert asset.group_names_by_key[INCONSISTENCIES] == "consistency"
    deps = {key for keys in asset.asset_deps.values() for key in keys}
    assert AssetKey("unified_customers") in deps and AssetKey(["canonical", "prices"]) in deps
    names = sorted(key.name for check in checks for key in check.check_keys)
    assert names == sorted(rule.code for rule in CATALOGUE)
    Definitions(assets=assets, asset_checks=checks)  # a valid code location


def test_disabled_rules_get_no_check() -> None:
    _, checks = build_consistency_assets(_config(disabled_rules=["price_mismatch"]), CanalisTranslator())
    assert "price_mismatch" not in {key.name for check in checks for key in check.check_keys}


def test_materialising_records_findings_and_checks_report_them(cstore, canon) -> None:
    canon.customer("cu_1", "web_shopify", "a")
    canon.customer("cu_1", "web_shopify", "b")
    assets, checks = build_consistency_assets(_config(), CanalisTranslator())
    resources = {"store": StoreResource(database_url=str(cstore.engine.url))}
    result = materialize([*assets, *checks], resources=resources, selection=[INCONSISTENCIES])
    assert result.success
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == INCONSISTENCIES]
    metadata = event.materialization.metadata
    assert metadata["found"].value == 1 and metadata["opened"].value == 1 and metadata["closed"].value == 0
    assert "duplicate_in_channel" in metadata["worst_cases"].value
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {rule.code for rule in CATALOGUE}
    duplicate = evaluations["duplicate_in_channel"]
    assert not duplicate.passed and duplicate.severity == AssetCheckSeverity.WARN
    assert duplicate.metadata["open"].value == 1
    assert evaluations["consent_conflict"].passed
    assert [row["code"] for row in list_inconsistencies(cstore, open_only=True)] == ["duplicate_in_channel"]
