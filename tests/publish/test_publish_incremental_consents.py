"""Incremental consent plans: only changed customers are worked out again, and the plan equals a full one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.publishing import ChannelPolicy, PublishConfig
from canalis.publishing.consent_scope import build_consent_scope, consent_pairs, drop_scope
from canalis.publishing.plan import Plan, build_plan, last_written
from canalis.publishing.plans import content_hash, propose_plan
from canalis.publishing.suppression import consent_pauses
from canalis.store import Store, tables
from canalis.store.schema import metadata
from canalis.timeline import attach_interactions
from tests.store.identities import hold_record

T0 = datetime(2026, 1, 15, 9, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
CONFIG = PublishConfig(
    systems_of_record={},
    channels={"shop": ChannelPolicy(publish=["consents"]), "mail": ChannelPolicy(publish=["consents"])},
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store with the consent pauses table, on SQLite and on PostgreSQL."""
    url = (
        f"sqlite:///{tmp_path / 'canalis.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    store = Store(url)
    store.migrate()
    metadata.create_all(store.engine, tables=[consent_pauses])
    yield store
    store.engine.dispose()


def _customer(conn: sa.Connection, record_key: str, customer_id: str, loaded_at: datetime = T0) -> None:
    source, obj, source_id = record_key.split(":")
    c = tables.customers
    if conn.execute(sa.select(c.c.customer_id).where(c.c.customer_id == customer_id)).first() is None:
        conn.execute(sa.insert(c).values(customer_id=customer_id, created_at=loaded_at, updated_at=loaded_at))
    conn.execute(
        sa.insert(tables.customer_records).values(
            record_key=record_key,
            source=source,
            object=obj,
            source_id=source_id,
            email=f"{customer_id.lower()}@example.org",
            loaded_at=loaded_at,
            content_hash="x",
        )
    )
    hold_record(conn, record_key, customer_id, loaded_at, match_rule="email")


def _consent(conn: sa.Connection, record_key: str, status: str) -> None:
    conn.execute(
        sa.insert(tables.consents).values(
            consent_key=f"{record_key}:marketing:email",
            record_key=record_key,
            source=record_key.split(":")[0],
            purpose="marketing",
            channel="email",
            status=status,
            recorded_at=T0,
            updated_at=T0,
        )
    )


def _set_consent(db: Store, record_key: str, status: str, at: datetime) -> None:
    c = tables.consents
    with db.begin() as conn:
        key = f"{record_key}:marketing:email"
        conn.execute(sa.update(c).where(c.c.consent_key == key).values(status=status, updated_at=at))


def _read(conn: sa.Connection, at: datetime) -> None:
    """Both channels were read at `at` (their cursors saved)."""
    s = tables.sync_state
    conn.execute(sa.delete(s).where(s.c.connector.in_(["shop", "mail"])))
    for channel in ("shop", "mail"):
        conn.execute(sa.insert(s).values(connector=channel, stream="customers", version=1, cursor={}, updated_at=at))


@pytest.fixture
def world(db: Store) -> Store:
    """Three customers in two channels: P1 opted out in the mail system only, P2 subscribed everywhere, P3 opted
    out in the shop only."""
    with db.begin() as conn:
        for number, customer in ((1, "P1"), (2, "P2"), (3, "P3")):
            _customer(conn, f"shop:customers:{number}", customer)
            _customer(conn, f"mail:contacts:{number}", customer)
        _consent(conn, "shop:customers:1", "granted")
        _consent(conn, "mail:contacts:1", "denied")
        _consent(conn, "shop:customers:2", "granted")
        _consent(conn, "mail:contacts:2", "granted")
        _consent(conn, "shop:customers:3", "denied")
        _consent(conn, "mail:contacts:3", "granted")
        _read(conn, T0)
    return db


def _propose(db: Store, at: datetime, *, incremental: bool = True, config: PublishConfig = CONFIG) -> Plan:
    with db.begin() as conn:
        plan, _ = propose_plan(conn, config, created_by="test", now=at, incremental=incremental)
    return plan


def _full(db: Store, at: datetime, config: PublishConfig = CONFIG) -> Plan:
    with db.begin() as conn:
        return build_plan(conn, config, at, ("consents",))


def _planned(plan: Plan) -> list[tuple[str, str, str | None]]:
    return sorted((change.channel, change.key, change.new) for change in plan.changes)


def test_an_incremental_plan_equals_a_full_plan_after_consents_change(world: Store) -> None:
    first = _propose(world, T0)
    assert _planned(first) == [
        ("mail", "mail:contacts:3:marketing:email", "denied"),
        ("shop", "shop:customers:1:marketing:email", "denied"),
    ]
    _set_consent(world, "mail:contacts:1", "granted", T1)  # P1 subscribes again: its opt-out change goes away
    _set_consent(world, "shop:customers:2", "denied", T1)  # P2 opts out in the shop: a new change to the mail system
    incremental = _propose(world, T1)
    full = _full(world, T1)
    assert _planned(incremental) == [
        ("mail", "mail:contacts:2:marketing:email", "denied"),
        ("mail", "mail:contacts:3:marketing:email", "denied"),
    ]
    assert content_hash(incremental) == content_hash(full)
    assert incremental.records == full.records


def test_an_incremental_plan_works_out_only_the_changed_customers(world: Store) -> None:
    _propose(world, T0)
    _set_consent(world, "shop:customers:2", "denied", T1)
    with world.begin() as conn:
        scope = build_consent_scope(conn, CONFIG, consent_pairs(conn), last_written(conn).read_at)
        drop_scope(conn)
    assert scope is not None
    assert scope.customers == {"P2"}
    assert sorted(change.key for change, _ in scope.kept) == [
        "mail:contacts:3:marketing:email",
        "shop:customers:1:marketing:email",
    ]


def test_nothing_changed_gives_the_same_plan_and_keeps_the_stored_one(world: Store) -> None:
    first = _propose(world, T0)
    again = _propose(world, T1)
    assert content_hash(again) == content_hash(first)
    with world.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(sa.table("publish_plans"))).scalar()
    assert stored == 1


def test_a_customer_merged_into_another_is_planned_from_its_new_evidence(world: Store) -> None:
    _propose(world, T0)
    s = tables.source_identities
    with world.begin() as conn:  # P3's shop record (opted out) now belongs to P2
        conn.execute(sa.update(s).where(s.c.record_key == "shop:customers:3").values(customer_id="P2", updated_at=T1))
        conn.execute(sa.update(s).where(s.c.customer_id == "P3").values(customer_id="P2", updated_at=T1))
    incremental = _propose(world, T1)
    assert content_hash(incremental) == content_hash(_full(world, T1))
    assert ("mail", "mail:contacts:2:marketing:email", "denied") in _planned(incremental)


def test_a_new_purpose_or_new_settings_make_the_plan_full(world: Store) -> None:
    _propose(world, T0)
    with world.begin() as conn:
        conn.execute(
            sa.insert(tables.consents).values(
                consent_key="shop:customers:1:marketing:sms",
                record_key="shop:customers:1",
                source="shop",
                purpose="marketing",
                channel="sms",
                status="denied",
                recorded_at=T1,
                updated_at=T1,
            )
        )
        scope = build_consent_scope(conn, CONFIG, consent_pairs(conn), last_written(conn).read_at)
    assert scope is None
    opt_ins = CONFIG.model_copy(update={"propagate_opt_ins": True})
    with world.begin() as conn:
        assert build_consent_scope(conn, opt_ins, consent_pairs(conn), last_written(conn).read_at) is None
    assert content_hash(_propose(world, T2, config=opt_ins)) == content_hash(_full(world, T2, opt_ins))


def test_a_write_read_back_unchanged_is_planned_again(world: Store) -> None:
    """A consent Canalis wrote is left out until its channel is read again; then, if it did not stick, it is back."""
    _propose(world, T0)
    with world.begin() as conn:
        conn.execute(
            sa.insert(tables.write_audit).values(
                channel="shop",
                entity_type="consents",
                entity_key="shop:customers:1:marketing:email",
                field="status",
                old_value="granted",
                new_value="denied",
                status="applied",
                created_at=T1,
            )
        )
    pending = _propose(world, T1)
    assert "shop:customers:1:marketing:email" not in {change.key for change in pending.changes}
    with world.begin() as conn:
        _read(conn, T2)  # both channels read again: the shop still shows granted
    again = _propose(world, T2)
    assert content_hash(again) == content_hash(_full(world, T2))
    assert "shop:customers:1:marketing:email" in {change.key for change in again.changes}


def test_an_erased_customer_leaves_the_plan_although_nothing_is_stamped(world: Store) -> None:
    _propose(world, T0)
    with world.begin() as conn:  # P1 erased: its rows are deleted, which leaves no change stamp
        for table in (tables.consents, tables.source_identities, tables.customer_records):
            conn.execute(sa.delete(table).where(table.c.record_key.in_(["shop:customers:1", "mail:contacts:1"])))
    incremental = _propose(world, T1)
    assert content_hash(incremental) == content_hash(_full(world, T1))
    assert all("customers:1" not in change.key for change in incremental.changes)


def test_a_complaint_that_leaves_its_customer_by_email_alone_lifts_the_pause(world: Store) -> None:
    """P3's open complaint is attached by its email only; once P4 holds that email too, P3 is no longer paused."""
    cp, i = tables.contact_points, tables.interactions
    with world.begin() as conn:
        conn.execute(
            sa.insert(cp).values(
                contact_point_key="shop:customers:3|email|p3@example.org", record_key="shop:customers:3",
                kind="email", value="p3@example.org", raw_value="p3@example.org", is_valid=True, updated_at=T0,
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(i).values(
                interaction_key="crm:cases:1", source="crm", object="cases", source_id="1", channel="crm",
                kind="case", occurred_at=T0, status="open", is_complaint=True, customer_email="p3@example.org",
                loaded_at=T0, content_hash="x",
            )
        )  # fmt: skip
    attach_interactions(world, full=True)
    first = _propose(world, T0)
    assert ("mail", "mail:contacts:3:marketing:email", "denied") in _planned(first)  # paused: open complaint
    with world.begin() as conn:
        _customer(conn, "shop:customers:4", "P4", loaded_at=T1)
        conn.execute(
            sa.insert(cp).values(
                contact_point_key="shop:customers:4|email|p3@example.org", record_key="shop:customers:4",
                kind="email", value="p3@example.org", raw_value="p3@example.org", is_valid=True, updated_at=T1,
            )
        )  # fmt: skip
    attach_interactions(world, full=False)
    incremental = _propose(world, T1)
    assert content_hash(incremental) == content_hash(_full(world, T1))
    reasons = {change.key: change.reason for change in incremental.changes}
    assert reasons.get("mail:contacts:3:marketing:email") != "paused: open complaint"
