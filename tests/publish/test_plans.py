"""Stored plans on hand-made canonical rows: lifecycle, approval tied to the content, exact apply, refusals, crashes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from canalis.publishing.apply import PlanMoved, apply_stored_plan
from canalis.publishing.plans import (
    PlanError,
    approve_plan,
    content_hash,
    list_plans,
    load_plan,
    plan_changes,
    plan_records,
    reject_plan,
)
from canalis.store import Store, tables
from tests.publish.shop import NOW, Vendor, apply, config, price, propose

D = Decimal


def test_a_plan_is_stored_with_its_changes_records_and_content_hash(shop: Store) -> None:
    plan, stored = propose(shop, config())
    assert stored is not None and stored.status == "proposed" and stored.decided_by is None
    assert (
        stored.content_hash == content_hash(plan) and stored.changes == 2 and stored.counts == {"shop": {"prices": 2}}
    )
    with shop.engine.connect() as conn:
        changes = plan_changes(conn, stored.plan_id)
        records = plan_records(conn, stored.plan_id)
    assert [(c.record_key, c.old_value, c.new_value, c.status) for c in changes] == [
        ("A-1", "9", "10", "planned"),
        ("C-3", "4.5", "5", "planned"),
    ]
    assert records[("shop", "prices", "A-1")]["amount"] == D("10.00")  # typed again, not text
    _, again = propose(shop, config(), NOW + timedelta(minutes=5))
    assert again is not None and again.plan_id == stored.plan_id  # same content: the same plan, not a new one


def test_a_new_plan_supersedes_the_open_one_and_an_empty_plan_retires_it(shop: Store) -> None:
    _, first = propose(shop, config())
    price(shop, "shop", "C-3", "5.00")
    _, second = propose(shop, config(), NOW + timedelta(minutes=5))
    with shop.engine.connect() as conn:
        assert load_plan(conn, first.plan_id).status == "superseded"
        assert load_plan(conn, first.plan_id).superseded_by == second.plan_id
    price(shop, "shop", "A-1", "10.00")
    _, third = propose(shop, config(), NOW + timedelta(minutes=10))
    assert third is None
    with shop.engine.connect() as conn:
        assert [plan.status for plan in list_plans(conn)] == ["superseded", "superseded"]


def test_the_policy_approves_when_no_person_has_to(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    assert stored.status == "approved" and stored.decided_by == "policy"
    price(shop, "shop", "C-3", "5.00")  # another plan (the same content would be the same plan)
    _, planned_only = propose(shop, config(mode="plan", require_approval=False), NOW + timedelta(minutes=1))
    assert planned_only.status == "proposed"  # plan mode: nothing is ever approved, let alone applied


def test_an_approval_names_the_reviewed_plan(shop: Store) -> None:
    _, stored = propose(shop, config())
    with shop.begin() as conn, pytest.raises(PlanError, match="not the plan that was reviewed"):
        approve_plan(conn, stored.plan_id, "alice", expected_hash="0123456789ab")
    with shop.begin() as conn:
        approved = approve_plan(conn, stored.plan_id, "alice", expected_hash=stored.short_hash)
    assert approved.status == "approved" and approved.decided_by == "alice"
    with shop.begin() as conn:
        rejected = reject_plan(conn, stored.plan_id, "bob", "wrong price list")
    assert rejected.status == "rejected" and rejected.status_reason == "wrong price list"
    with shop.begin() as conn, pytest.raises(PlanError, match="only a proposed plan can be approved"):
        approve_plan(conn, stored.plan_id, "alice")
    with pytest.raises(PlanError, match="rejected"):
        apply(shop, config(), stored.plan_id, Vendor())


def test_only_an_approved_plan_in_apply_mode_is_applied(shop: Store) -> None:
    _, stored = propose(shop, config())
    with pytest.raises(PlanError, match="approve it first"):
        apply(shop, config(), stored.plan_id, Vendor())
    with shop.begin() as conn:
        approve_plan(conn, stored.plan_id, "alice")
    vendor = Vendor()
    with pytest.raises(PlanError, match=r"publish\.mode is `plan`"):
        apply(shop, config().model_copy(update={"mode": "plan"}), stored.plan_id, vendor)
    assert vendor.calls == []


def test_the_apply_writes_the_stored_plan_not_a_fresh_one(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    price(shop, "erp", "A-1", "12.00")  # the system of record moved on after the review
    price(shop, "erp", "B-2", "25.00")
    vendor = Vendor()
    report = apply(shop, config(), stored.plan_id, vendor)
    assert vendor.prices == {"A-1": D("10.00"), "C-3": D("5.00")}  # what was reviewed, nothing else
    assert report.status == "applied" and report.count("applied") == 2
    with shop.engine.connect() as conn:
        plan = load_plan(conn, stored.plan_id)
        audit = conn.execute(sa.select(tables.write_audit).order_by(tables.write_audit.c.audit_id)).all()
    assert plan.status == "applied" and plan.applied_by == "run:run-1"
    assert [(row.entity_key, row.status) for row in audit] == [
        ("A-1", "sending"),
        ("A-1", "applied"),
        ("C-3", "sending"),
        ("C-3", "applied"),
    ]
    assert apply(shop, config(), stored.plan_id, vendor).status == "applied" and len(vendor.calls) == 2


def test_a_plan_whose_channel_moved_is_refused_naming_what_moved(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    price(shop, "shop", "C-3", "4.75")  # someone edited the shop's price after the plan was made
    vendor = Vendor()
    with pytest.raises(PlanMoved, match=r"shop prices C-3 amount: the plan saw 4\.5, the channel now shows 4\.75"):
        apply(shop, config(), stored.plan_id, vendor)
    assert vendor.calls == []
    with shop.engine.connect() as conn:
        assert load_plan(conn, stored.plan_id).status == "expired"
    _, replanned = propose(shop, config(), NOW + timedelta(minutes=5))
    with shop.engine.connect() as conn:
        change = next(c for c in plan_changes(conn, replanned.plan_id) if c.record_key == "C-3")
    assert change.old_value == "4.75"


def test_a_change_the_channel_already_shows_is_not_sent(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    price(shop, "shop", "C-3", "5.00")  # fixed by hand in the channel meanwhile
    vendor = Vendor()
    report = apply(shop, config(), stored.plan_id, vendor)
    assert vendor.calls == [["A-1"]] and report.already_there == 1


@pytest.mark.parametrize("crash", ["before the call", "after the vendor applied it"])
def test_an_apply_killed_and_run_again_writes_nothing_twice(shop_on_each_database: Store, crash: str) -> None:
    shop = shop_on_each_database
    _, stored = propose(shop, config(require_approval=False))
    first = Vendor(stop_after=1) if crash == "before the call" else Vendor(lose_reply_after=1)
    with pytest.raises(KeyboardInterrupt):
        apply(shop, config(), stored.plan_id, first)
    with shop.engine.connect() as conn:
        statuses = {c.record_key: c.status for c in plan_changes(conn, stored.plan_id)}
    assert statuses == {"A-1": "applied", "C-3": "sending"}  # announced before the call, outcome unknown
    for sku, amount in first.prices.items():  # the next read of the channel sees what it holds
        price(shop, "shop", sku, str(amount))
    second = Vendor()
    report = apply(shop, config(), stored.plan_id, second)
    assert second.calls == ([["C-3"]] if crash == "before the call" else [])
    assert report.status == "applied"
    with shop.engine.connect() as conn:
        audit = conn.execute(sa.select(tables.write_audit.c.entity_key, tables.write_audit.c.status)).all()
    applied = [key for key, status in audit if status == "applied"]
    assert sorted(applied) == ["A-1", "C-3"]  # each change once as applied


def test_an_old_plan_expires_instead_of_being_applied(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    vendor = Vendor()
    later = NOW + timedelta(hours=25)
    with pytest.raises(PlanError, match="plan_max_age_hours"):
        apply_stored_plan(shop, config(), stored.plan_id, {"shop": vendor}, {}, run_id="r", now=later)
    with shop.engine.connect() as conn:
        assert load_plan(conn, stored.plan_id).status == "expired"
    assert vendor.calls == []


def test_an_apply_names_the_plan_by_its_reviewed_hash(shop: Store) -> None:
    _, stored = propose(shop, config(require_approval=False))
    with pytest.raises(PlanError, match="not the plan that was reviewed"):
        apply(shop, config(), stored.plan_id, Vendor(), expected_hash="ffffffffffff")
    assert apply(shop, config(), stored.plan_id, Vendor(), expected_hash=stored.short_hash).status == "applied"
