"""Publishing on the sandbox: plan, apply, re-sync, nothing left; interrupted runs resume; vendor errors quarantined."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from canalis.config.wiring import build_mappers
from canalis.publishing import PublishConfig
from canalis.publishing.apply import PlanMoved, apply_stored_plan
from canalis.publishing.plans import StoredChange, StoredPlan, load_plan, plan_changes, propose_plan
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world.generate import store_path
from canalis.sdk.base import Connector
from canalis.sdk.streams import WriteResult
from canalis.store import tables
from canalis.sync import sync_all
from tests.publish.conftest import SPEC

pytestmark = pytest.mark.slow
CONNECTION_OF = {
    "web_shopify": "shopify",
    "store_square": "square",
    "crm_salesforce": "salesforce",
    "crm_hubspot": "hubspot",
    "marketing_brevo": "brevo",
}


def _publish(world) -> PublishConfig:
    """The demo's publish policy, applying what it plans (the tests stand for the approver)."""
    return world.publish.model_copy(update={"mode": "apply", "require_approval": False})


def _propose(world, now=None) -> StoredPlan | None:
    with world.store.begin() as conn:
        return propose_plan(conn, _publish(world), created_by="tests", now=now or SPEC.now)[1]


def _apply(world, plan_id: str, connectors: dict[str, Connector] | None = None, run_id: str = "run-1"):
    connectors = connectors if connectors is not None else world.connectors()
    mappers = build_mappers(world.config)
    return apply_stored_plan(world.store, _publish(world), plan_id, connectors, mappers, run_id=run_id, now=SPEC.now)


def _changes(world, plan_id: str) -> list[StoredChange]:
    with world.store.engine.connect() as conn:
        return plan_changes(conn, plan_id)


def _audit(world) -> list[dict[str, Any]]:
    with world.store.begin() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(tables.write_audit).order_by("audit_id"))]


class Wrapped:
    """A connector seen through a wrapper that counts write calls and can die around one of them."""

    def __init__(self, inner: Connector, *, die_before: int | None = None, die_after: int | None = None) -> None:
        self.inner, self.die_before, self.die_after = inner, die_before, die_after
        self.written: list[str] = []
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        records = list(records)
        if self.die_before is not None and self.calls >= self.die_before:
            raise KeyboardInterrupt("the run was killed before this call")
        self.calls += 1
        self.written.extend(record["key"] for record in records)
        results = list(self.inner.write(stream, records))
        if self.die_after is not None and self.calls > self.die_after:
            raise KeyboardInterrupt("the run was killed after the vendor applied this call")
        return iter(results)


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
    stored = _propose(world)
    changes = _changes(world, stored.plan_id)
    planned = {(CONNECTION_OF[c.channel], c.entity, c.record_key.split("@")[0]) for c in changes}
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
    assert any(change.entity == "consents" for change in changes)

    report = _apply(world, stored.plan_id)
    assert report.status == "applied" and report.count("failed") == 0, report.errors
    outcomes = [row for row in _audit(world) if row["status"] != "sending"]
    intents = [row for row in _audit(world) if row["status"] == "sending"]
    assert len(outcomes) == len(intents) == len(changes) == report.audit_rows
    assert {(row["channel"], row["entity_type"], row["entity_key"], row["field"]) for row in outcomes} == {
        change.key for change in changes
    }
    assert report.verified, [change.key for change in report.not_stuck]
    assert all(change.verified for change in _changes(world, stored.plan_id))
    assert report.write_calls >= report.minimum_calls > 0

    sync_all(world.store, world.config, full=True)
    assert _propose(world, SPEC.now + timedelta(minutes=5)) is None  # nothing left to change


def test_a_price_edited_in_the_channel_after_the_plan_refuses_it(sandbox_world) -> None:
    world = sandbox_world
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    change = next(c for c in _changes(world, stored.plan_id) if c.channel == "web_shopify" and c.entity == "prices")
    connectors = world.connectors()
    edited = Decimal(change.old_value) + Decimal("7.77")
    shopify = connectors["web_shopify"]
    results = list(shopify.write("prices", [{"key": change.record_key, "sku": change.record_key, "amount": edited}]))
    assert results[0].status == "applied"  # a person edits the price through the vendor's own API

    with pytest.raises(PlanMoved, match=f"web_shopify prices {change.record_key} amount") as refused:
        _apply(world, stored.plan_id, connectors)
    assert str(edited.normalize()) in str(refused.value)
    assert not [row for row in _audit(world) if row["status"] != "sending"]  # nothing was written
    with world.store.engine.connect() as conn:
        assert load_plan(conn, stored.plan_id).status == "expired"

    sync_all(world.store, world.config)
    again = _propose(world, SPEC.now + timedelta(minutes=5))
    replanned = next(c for c in _changes(world, again.plan_id) if c.key == change.key)
    assert Decimal(replanned.old_value) == edited and replanned.new_value == change.new_value


@pytest.mark.parametrize("crash", ["before a call", "after the vendor applied a call"])
def test_an_apply_killed_and_run_again_writes_nothing_twice(sandbox_world, crash: str) -> None:
    world = sandbox_world
    _without_square_promotions(world)
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    shopify_promotions = {c.record_key for c in _changes(world, stored.plan_id) if c.channel == "web_shopify"}
    assert len(shopify_promotions) >= 2
    connectors = world.connectors()
    options = {"die_before": 1} if crash == "before a call" else {"die_after": 1}
    first = connectors["web_shopify"] = Wrapped(connectors["web_shopify"], **options)
    with pytest.raises(KeyboardInterrupt):
        _apply(world, stored.plan_id, connectors)
    assert "sending" in {c.status for c in _changes(world, stored.plan_id)}

    connectors = world.connectors()
    second = connectors["web_shopify"] = Wrapped(connectors["web_shopify"])
    report = _apply(world, stored.plan_id, connectors, run_id="run-2")
    assert report.status == "applied" and report.count("failed") == 0, report.errors
    sent = first.written + second.written
    assert len(sent) == len(set(sent)), f"written twice: {sorted(k for k in set(sent) if sent.count(k) > 1)}"
    applied = [
        (row["channel"], row["entity_type"], row["entity_key"], row["field"])
        for row in _audit(world)
        if row["status"] == "applied"
    ]
    assert sorted(applied) == sorted(c.key for c in _changes(world, stored.plan_id) if c.status == "applied")
    assert len(applied) == len(set(applied))  # each change once as applied

    sync_all(world.store, world.config, full=True)
    assert _propose(world, SPEC.now + timedelta(minutes=5)) is None


def test_a_permanent_vendor_error_is_quarantined_with_the_vendor_message(sandbox_world) -> None:
    world = sandbox_world
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    change = next(c for c in _changes(world, stored.plan_id) if c.channel == "web_shopify" and c.entity == "prices")
    records = tables.metadata.tables["publish_plan_records"]
    with world.store.begin() as conn:  # the record as the vendor will refuse it
        row = conn.execute(
            sa.select(records.c.record).where(
                records.c.plan_id == stored.plan_id, records.c.record_key == change.record_key
            )
        ).scalar_one()
        conn.execute(
            sa.update(records)
            .where(records.c.plan_id == stored.plan_id, records.c.record_key == change.record_key)
            .values(record={**row, "sku": "NO-SUCH-SKU"})
        )
    report = _apply(world, stored.plan_id)
    assert report.count("failed") >= 1 and report.quarantined >= 1
    with world.store.begin() as conn:
        quarantined = conn.execute(
            sa.select(tables.quarantine).where(
                tables.quarantine.c.stage == "write", tables.quarantine.c.source == "web_shopify"
            )
        ).one()
        audit = conn.execute(sa.select(tables.write_audit).where(tables.write_audit.c.status == "failed")).one()
    assert quarantined.record_id == change.record_key and "NO-SUCH-SKU" in quarantined.error
    assert audit.error == quarantined.error
    assert report.status == "applied"  # a refused record does not keep the plan open: it is quarantined


def test_square_promotion_date_updates_report_applied(sandbox_world) -> None:
    world = sandbox_world
    sync_all(world.store, world.config, full=True)
    stored = _propose(world)
    square = [c for c in _changes(world, stored.plan_id) if c.channel == "store_square" and c.field == "ends_at"]
    assert square
    report = _apply(world, stored.plan_id)
    assert report.count("failed") == 0, report.errors
