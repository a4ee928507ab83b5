"""KPI settings, the Dagster KPI assets and their charts, and the KPIs on a sandbox sync."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, materialize
from kpi_world import Canonical, day

from canalis.assets.kpis import KPI_GROUP, build_kpi_assets, kpi_key
from canalis.assets.resources import StoreResource
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import CanalisConfig
from canalis.kpis import KpiSettings, channel_mix, kpi_settings, lifetime_value, ropo, satisfaction, service_kpis
from canalis.sdk.errors import ConfigError
from canalis.store import Store

ROOT = Path(__file__).resolve().parents[2]
KPI_NAMES = {
    "channel_mix",
    "repeat_contact_rate",
    "first_contact_resolution",
    "satisfaction",
    "customer_lifetime_value",
    "ropo_share",
}


def test_settings_defaults_and_errors_name_the_field() -> None:
    settings = kpi_settings({"ropo_window_days": 30, "online_channels": ["Web", " App "]})
    assert (settings.repeat_window_days, settings.ropo_window_days) == (7, 30)
    assert settings.online_channels == ["web", "app"]
    with pytest.raises(ConfigError) as bad_window:
        kpi_settings({"ropo_window_days": 0})
    assert bad_window.value.setting == "kpis.ropo_window_days"
    with pytest.raises(ConfigError) as unknown:
        kpi_settings({"windows": 3})
    assert unknown.value.setting == "kpis.windows"
    with pytest.raises(ConfigError, match="both online and offline"):
        kpi_settings({"online_channels": ["web", "store"]})
    with pytest.raises(ConfigError, match="order_reference_pattern"):
        kpi_settings({"order_reference_pattern": "no group"})
    with pytest.raises(ConfigError) as scale:
        kpi_settings({"score_scales": {"survey": "stars"}})
    assert scale.value.setting.startswith("kpis.score_scales")


def _small_world(store: Store) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("A", "shop:customers:A")
        w.customer("B", "shop:customers:B")
        w.interaction("A", "web", "order", day(0))
        w.interaction("A", "store", "pos_sale", day(3))
        w.interaction("B", "email", "email", day(1), status="closed", subject="Retour", satisfaction_score=4)
        w.order("shop:customers:A", "web", "12.50")


def _materialize(store: Store, instance: DagsterInstance | None = None) -> dict[str, dict]:
    assets = build_kpi_assets(CanalisConfig(kpis={"ropo_window_days": 10}), CanalisTranslator())
    result = materialize(assets, resources={"store": StoreResource(database_url=store.url)}, instance=instance)
    assert result.success
    return {
        event.event_specific_data.materialization.asset_key.path[-1]: {
            key: getattr(value, "value", value)
            for key, value in event.event_specific_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def test_kpi_assets_materialize_with_values_tables_and_charts(store: Store, isolated_home: Path) -> None:
    pytest.importorskip("matplotlib")
    _small_world(store)
    assets = build_kpi_assets(CanalisConfig(), CanalisTranslator())
    specs = {spec.key: spec for definition in assets for spec in definition.specs}
    assert set(specs) == {kpi_key(name) for name in KPI_NAMES}
    assert {spec.group_name for spec in specs.values()} == {KPI_GROUP}
    assert AssetKey("customer_timeline") in {dep.asset_key for dep in specs[kpi_key("ropo_share")].deps}

    metadata = _materialize(store)
    assert set(metadata) == KPI_NAMES
    assert metadata["channel_mix"]["multichannel_share"] == 0.5  # A on web and store, B on email only
    assert metadata["ropo_share"]["ropo_share"] == 1.0
    assert metadata["ropo_share"]["window_days"] == 10
    assert metadata["customer_lifetime_value"]["revenue_EUR"] == 12.5
    assert metadata["satisfaction"]["csat"] == 1.0
    assert "| channels |" in metadata["channel_mix"]["distribution"]
    chart = Path(metadata["channel_mix"]["chart"])
    assert chart.parent == isolated_home / "kpis" and chart.read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64," in metadata["channel_mix"]["chart_preview"]


def test_kpis_are_shown_again_while_their_inputs_are_unchanged_and_worked_out_when_they_change(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("canalis.assets.kpis.png_bars", lambda *args, **kwargs: None)
    _small_world(store)
    with DagsterInstance.ephemeral() as instance:
        first = _materialize(store, instance)
        again = _materialize(store, instance)
        assert {name: figures["unchanged_since_last_run"] for name, figures in again.items()} == dict.fromkeys(
            KPI_NAMES, True
        )
        for name in KPI_NAMES:
            assert {key: value for key, value in again[name].items() if key != "unchanged_since_last_run"} == {
                key: value for key, value in first[name].items() if key != "unchanged_since_last_run"
            }
        with store.begin() as conn:  # B buys in the store: lifetime value moves
            Canonical(conn).order("shop:customers:B", "store", "30.00")
        changed = _materialize(store, instance)
    assert changed["channel_mix"]["unchanged_since_last_run"] is False
    assert changed["customer_lifetime_value"]["revenue_EUR"] == 42.5
    assert changed["channel_mix"]["inputs_fingerprint"] != first["channel_mix"]["inputs_fingerprint"]


def test_kpi_assets_without_matplotlib_fall_back_to_text_bars(
    store: Store, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    _small_world(store)
    metadata = _materialize(store)
    assert "chart" not in metadata["channel_mix"]
    assert "█" in metadata["channel_mix"]["chart_preview"]
    assert not (isolated_home / "kpis").exists()


def test_kpi_assets_on_an_empty_store(store: Store) -> None:
    metadata = _materialize(store)
    assert set(metadata) == KPI_NAMES
    assert metadata["channel_mix"]["multichannel_share"] is None
    assert metadata["customer_lifetime_value"]["currencies"] == "none"


@pytest.mark.slow
def test_kpis_on_a_sandbox_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from canalis.cli.sandbox import sandbox_for_run
    from canalis.config.connections import load_config
    from canalis.sync import sync_all

    home = tmp_path / "sandbox-home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "canalis.yaml", home / "canalis.yaml")
    monkeypatch.setenv("CANALIS_HOME", str(home))
    monkeypatch.setenv("CANALIS_SANDBOX_CUSTOMERS", "80")
    monkeypatch.delenv("CANALIS_SANDBOX_URL", raising=False)
    store = Store(f"sqlite:///{home / 'canalis.db'}")
    store.migrate()
    with sandbox_for_run():
        sync_all(store, load_config(), full=True)
    settings = KpiSettings()
    with store.engine.connect() as conn:
        mix = channel_mix(conn, settings)
        service = service_kpis(conn, settings)
        scores = satisfaction(conn, settings)
        value = lifetime_value(conn, settings)
        journeys = ropo(conn, settings)

    assert mix.customers > 50 and 0 < mix.active_customers <= mix.customers
    assert 0 < mix.multichannel_share < 1  # the sandbox has both kinds of customers
    assert sum(mix.distribution.values()) == mix.customers
    assert service.contacts > 0 and 0 <= service.repeat_rate <= 1
    assert service.resolved_threads > 0 and 0 < service.fcr_rate <= 1
    assert service.first_contact_resolved <= service.resolved_threads <= service.threads
    assert scores.total("csat_5").responses > 0 and 0 <= scores.total("csat_5").csat <= 1
    assert value.currencies and all(value.total(currency).revenue > 0 for currency in value.currencies)
    assert value.orders_back_office_or_cancelled > 0  # the ERP mirrors the web orders: left out
    assert journeys.purchases > 0 and 0 <= journeys.ropo_share <= 1
    config = yaml.safe_load((home / "canalis.yaml").read_text(encoding="utf-8"))
    assert "kpis" not in config  # the demo runs on the defaults
