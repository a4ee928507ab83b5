"""The publish job: sync jobs write nothing, blocking gates stop a plan, an approval carries the reviewed hash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import AssetKey, ConfigurableResource, Definitions

from canalis.assets.build import build_definitions
from canalis.assets.publishing import build_publish_assets
from canalis.assets.resources import StoreResource
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import CanalisConfig
from canalis.consistency.tables import inconsistencies
from canalis.publishing.gates import circuit_breaker, inconsistency_gate, quarantine_gate
from canalis.publishing.plans import load_plan
from canalis.store import QuarantinedRecord, Store
from tests.publish.shop import NOW, Vendor, config, propose

VENDOR = Vendor()


class VendorResource(ConfigurableResource):
    """Stands for the shop's connection resource: `build()` gives the test vendor."""

    def build(self) -> Vendor:
        return VENDOR


def _canalis_config(publish: dict[str, Any]) -> CanalisConfig:
    drop = {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}
    return CanalisConfig.model_validate(
        {
            "connections": {"erp": drop, "shop": drop},
            "publish": {
                "mode": "apply",
                "systems_of_record": {"prices": "erp", "stock_levels": "erp", "promotions": "erp"},
                "channels": {"shop": {"publish": ["prices"]}},
                **publish,
            },
        }
    )


def _run_publish(store: Store, publish: dict[str, Any], run_config: dict | None = None):
    assets, checks = build_publish_assets(
        _canalis_config(publish), CanalisTranslator(), clock=lambda: datetime.now(UTC)
    )
    defs = Definitions(
        assets=assets,
        asset_checks=checks,
        resources={"store": StoreResource(database_url=str(store.engine.url)), "connection_shop": VendorResource()},
    )
    job = defs.resolve_implicit_global_asset_job_def()
    selection = [AssetKey("approved_plan"), AssetKey("publish_apply")]
    return job.execute_in_process(asset_selection=selection, run_config=run_config or {}, raise_on_error=False)


def _materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


@pytest.fixture(autouse=True)
def fresh_vendor():
    VENDOR.prices.clear()
    VENDOR.calls.clear()


def test_sync_jobs_write_nothing_and_publish_is_its_own_job() -> None:
    defs = build_definitions(_canalis_config({}))
    for name in ("full_sync", "incremental_sync"):
        keys = defs.resolve_job_def(name).asset_layer.executable_asset_keys
        assert not {key.to_user_string() for key in keys} & {"approved_plan", "publish_apply"}
        assert "price_plan" in {key.to_user_string() for key in keys}
    publish = defs.resolve_job_def("publish").asset_layer.executable_asset_keys
    assert {key.to_user_string() for key in publish} == {"approved_plan", "publish_apply"}
    assert defs.resolve_job_def("publish").tags["canalis/run_kind"] == "publish"


def test_the_circuit_breaker_blocks_the_apply(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False), datetime.now(UTC))
    blocked = _run_publish(shop, {"require_approval": False, "gates": {"min_records": 0}})
    assert "approved_plan" in _materialized(blocked) and "publish_apply" not in _materialized(blocked)
    failed = [e for e in blocked.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["circuit_breaker"]
    assert "shop prices 2/3" in failed[0].description
    assert VENDOR.calls == []
    with shop.engine.connect() as conn:
        assert load_plan(conn, stored.plan_id).status == "approved"  # still waiting, not half-applied

    passed = _run_publish(
        shop, {"require_approval": False, "gates": {"min_records": 0}, "channels": {"shop": {"max_change_share": 0.9}}}
    )
    assert "publish_apply" in _materialized(passed)
    assert sorted(VENDOR.prices) == ["A-1", "C-3"]


def test_an_approval_from_the_run_carries_the_reviewed_hash(shop: Store) -> None:
    _, stored = propose(shop, config(), datetime.now(UTC))
    assert stored.status == "proposed"
    nothing = _run_publish(shop, {})
    assert nothing.success and VENDOR.calls == []  # no approved plan: nothing to apply

    choice = {"plan_id": stored.plan_id, "plan_hash": "0" * 12, "approve": True}
    wrong = _run_publish(shop, {}, {"ops": {"approved_plan": {"config": choice}}})
    assert not wrong.success and VENDOR.calls == []
    with shop.engine.connect() as conn:
        assert load_plan(conn, stored.plan_id).status == "proposed"

    choice["plan_hash"] = stored.short_hash
    right = _run_publish(shop, {}, {"ops": {"approved_plan": {"config": choice}}})
    assert right.success
    with shop.engine.connect() as conn:
        plan = load_plan(conn, stored.plan_id)
    assert plan.status == "applied" and plan.decided_by.startswith("run:")
    assert sorted(VENDOR.prices) == ["A-1", "C-3"]


def test_the_gates_measure_quarantine_and_open_errors(shop: Store) -> None:
    _, stored = propose(shop, config(), NOW)
    publish = config(gates={"max_quarantine_share": 0.2, "max_open_errors": 1, "max_open": {"consent_conflict": 5}})
    with shop.begin() as conn:
        assert quarantine_gate(conn, stored, publish).passed
        shop.quarantine(conn, [QuarantinedRecord("shop", "variants", "read", "bad row", f"v{n}") for n in range(3)])
        gate = quarantine_gate(conn, stored, publish)
    assert not gate.passed and gate.figures["quarantined"] == 3 and gate.figures["records"] == 3
    assert shop.dismiss_quarantine(source="shop", stream="variants")  # a person closed them: no longer counted
    with shop.begin() as conn:
        assert quarantine_gate(conn, stored, publish).figures["quarantined"] == 0
    with shop.begin() as conn:
        assert inconsistency_gate(conn, publish).passed
        for n, code in enumerate(["price_mismatch", "price_mismatch", "consent_conflict", "consent_conflict"]):
            conn.execute(
                sa.insert(inconsistencies).values(
                    inconsistency_id=f"i{n}", code=code, severity="error", entity_type="product", entity_key=f"k{n}",
                    channels=["erp", "shop"], status="open", first_seen_at=NOW, opened_at=NOW, last_seen_at=NOW,
                    occurrences=1, reopened=0,
                )
            )  # fmt: skip
        gate = inconsistency_gate(conn, publish)
    assert not gate.passed and gate.summary == "too many open errors: price_mismatch 2 > 1"


def test_the_breaker_skips_small_channels_and_reads_each_channels_limit(shop: Store) -> None:
    _, stored = propose(shop, config(), NOW)
    with shop.engine.connect() as conn:
        assert circuit_breaker(conn, stored, config()).passed  # 3 prices: under min_records
        tripped = circuit_breaker(conn, stored, config(gates={"min_records": 0}))
    assert not tripped.passed and tripped.rows[0]["share"] == round(2 / 3, 4)
