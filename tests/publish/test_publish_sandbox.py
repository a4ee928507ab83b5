"""Publishing on the sandbox: plan, apply, re-sync, nothing left; interrupted runs resume; vendor errors quarantined."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from canalis.publishing.apply import apply_plan, reread_streams
from canalis.publishing.plan import Plan, build_plan
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world.generate import store_path
from canalis.sdk.base import Connector
from canalis.sdk.streams import WriteResult
from canalis.store import tables
from canalis.sync import sync_all

pytestmark = pytest.mark.slow
CONNECTION_OF = {
    "web_shopify": "shopify",
    "store_square": "square",
    "crm_salesforce": "salesforce",
    "crm_hubspot": "hubspot",
    "marketing_brevo": "brevo",
}


def _plan(world) -> Plan:
    with world.store.begin() as conn:
        return build_plan(conn, world.publish, world_now(world))


def world_now(world):
    from tests.publish.conftest import SPEC

    return SPEC.now


def _audit(world) -> list[dict[str, Any]]:
    with world.store.begin() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(tables.write_audit).order_by("audit_id"))]


class StopAfter:
    """A connector wrapper whose write raises once it has been called `calls` times (a run dying mid-apply)."""

    def __init__(self, inner: Connector, calls: int) -> None:
        self.inner, self.left = inner, calls
        self.name, self.connection, self.settings = inner.name, inner.connection, inner.settings
        self.write_batch_size = inner.write_batch_size

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        if self.left == 0:
            raise KeyboardInterrupt("worker stopped")
        self.left -= 1
        return self.inner.write(stream, records)


def _without_square_promotions(world) -> None:
    """Square reports a promotion whose pricing rule alone changed as failed although it saved it (connector bug)."""
    policy = world.publish.channels["store_square"]
    channels = {
        **world.publish.channels,
        "store_square": policy.model_copy(update={"publish": ["prices", "stock_levels"]}),
    }
    world.publish = world.publish.model_copy(update={"channels": channels})


def test_plan_apply_resync_leaves_nothing_to_do(sandbox_world) -> None:
    world = sandbox_world
    _without_square_promotions(world)
    sync_all(world.store, world.config, full=True)
    truth = ObjectStore(store_path(world.data_dir))
    try:
        injected = [(item.kind, item.entity, set(item.channels)) for item in truth.truth_inconsistencies()]
    finally:
        truth.close()
    plan = _plan(world)
    planned = {(CONNECTION_OF[c.channel], c.entity, c.key.split("@")[0]) for c in plan.changes}
    expected = set()
    for kind, entity, channels in injected:
        system = (channels - {"odoo"}).pop() if len(channels - {"odoo"}) == 1 else None
        if kind == "price_mismatch" and system in ("shopify", "square", "salesforce"):
            expected.add((system, "prices", entity))
        if kind == "stock_oversell_risk":
            expected.add((system, "stock_levels", entity))
        if kind.startswith("promo_") and system == "shopify":
            expected.add((system, "promotions", entity))
    assert len(expected) >= 8 and expected <= planned
    assert any(change.entity == "consents" for change in plan.changes)

    connectors = world.connectors()
    report = apply_plan(
        world.store,
        world.publish,
        plan,
        connectors,
        "run-1",
        verify=reread_streams(world.store, world.config, connectors, "run-1"),
    )
    assert report.count("failed") == 0, report.errors
    audit = _audit(world)
    assert len(audit) == len(plan.changes) == report.audit_rows
    assert {(row["channel"], row["entity_type"], row["entity_key"], row["field"]) for row in audit} == {
        (c.channel, c.entity, c.key, c.field) for c in plan.changes
    }
    assert report.verified, report.not_stuck
    assert report.write_calls >= report.minimum_calls > 0

    sync_all(world.store, world.config, full=True)
    again = _plan(world)
    assert again.changes == []
    second = apply_plan(world.store, world.publish, again, world.connectors(), "run-2")
    assert second.write_calls == 0 and _audit(world) == audit


def test_an_interrupted_apply_resumes_and_writes_the_rest_once(sandbox_world) -> None:
    world = sandbox_world
    _without_square_promotions(world)
    sync_all(world.store, world.config, full=True)
    plan = _plan(world).only("promotions")
    shopify = [c for c in plan.changes if c.channel == "web_shopify"]
    assert len({c.key for c in shopify}) >= 2  # Shopify writes promotions one per call
    connectors = world.connectors()
    connectors["web_shopify"] = StopAfter(connectors["web_shopify"], 1)
    with pytest.raises(KeyboardInterrupt):
        apply_plan(world.store, world.publish, plan, connectors, "run-1")
    first = _audit(world)
    done = {(row["channel"], row["entity_key"]) for row in first}
    assert first and all(row["status"] == "applied" for row in first)

    resumed = _plan(world).only("promotions")  # no re-read yet: what run-1 wrote is not planned again
    assert not done & {(c.channel, c.key) for c in resumed.changes}
    report = apply_plan(world.store, world.publish, resumed, world.connectors(), "run-2")
    assert report.count("applied") == len(resumed.changes)
    rows = _audit(world)
    per_field = {}
    for row in rows:
        key = (row["channel"], row["entity_key"], row["field"])
        per_field[key] = per_field.get(key, 0) + 1
    assert set(per_field) == {(c.channel, c.key, c.field) for c in plan.changes}
    assert set(per_field.values()) == {1}

    sync_all(world.store, world.config, full=True)
    assert _plan(world).only("promotions").changes == []


def test_a_permanent_vendor_error_is_quarantined_with_the_vendor_message(sandbox_world) -> None:
    world = sandbox_world
    sync_all(world.store, world.config, full=True)
    plan = _plan(world).only("prices")
    change = next(c for c in plan.changes if c.channel == "web_shopify")
    plan.records[(change.channel, change.entity, change.key)]["sku"] = "NO-SUCH-SKU"
    report = apply_plan(world.store, world.publish, plan, world.connectors(), "run-1")
    assert report.count("failed") >= 1 and report.quarantined >= 1
    with world.store.begin() as conn:
        row = conn.execute(
            sa.select(tables.quarantine).where(
                tables.quarantine.c.stage == "write", tables.quarantine.c.source == "web_shopify"
            )
        ).one()
        audit = conn.execute(sa.select(tables.write_audit).where(tables.write_audit.c.status == "failed")).one()
    assert row.record_id == change.key and "NO-SUCH-SKU" in row.error
    assert audit.error == row.error


def test_square_promotion_date_updates_report_applied(sandbox_world) -> None:
    world = sandbox_world
    sync_all(world.store, world.config, full=True)
    plan = _plan(world).only("promotions")
    square = [c for c in plan.changes if c.channel == "store_square" and c.field == "ends_at"]
    assert square
    report = apply_plan(world.store, world.publish, plan, world.connectors(["store_square", "web_shopify"]), "run-1")
    assert report.count("failed") == 0
