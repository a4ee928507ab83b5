"""Plan and consent rules on hand-made canonical rows: rounding, buffer, tolerance, ownership, pauses, opt-outs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.publishing import ChannelPolicy, PublishConfig, desired_stock
from canalis.publishing.plan import build_plan
from canalis.publishing.suppression import consent_pauses, remember_pause
from canalis.store import Store, tables
from canalis.store.schema import metadata
from tests.store.identities import hold_record

NOW = datetime(2026, 1, 15, 9, tzinfo=UTC)
D = Decimal


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store with the consent pauses table, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'canalis.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    metadata.create_all(store.engine, tables=[consent_pauses])
    yield store
    store.engine.dispose()


def _config(**policy) -> PublishConfig:
    publish = policy.pop("publish", ["prices", "stock_levels", "promotions", "consents"])
    return PublishConfig(
        systems_of_record={"prices": "erp", "stock_levels": "erp", "promotions": "erp"},
        channels={"shop": ChannelPolicy(publish=publish, **policy), "mail": ChannelPolicy(publish=["consents"])},
    )


def _insert(db: Store, table, **values) -> None:
    with db.begin() as conn:
        conn.execute(sa.insert(table).values(loaded_at=NOW, content_hash="x", **values))


def _price(db: Store, source: str, sku: str, amount: str, price_list: str = "Public") -> None:
    key = f"{source}:{sku}:{price_list}"
    _insert(
        db,
        tables.prices,
        price_key=key,
        source=source,
        sku=sku,
        price_list=price_list,
        amount=D(amount),
        currency="EUR",
    )


def _stock(db: Store, source: str, sku: str, location: str, on_hand: str, reserved: str = "0", available=None) -> None:
    _insert(
        db,
        tables.stock_levels,
        stock_key=f"{source}:{sku}:{location}",
        source=source,
        sku=sku,
        location=location,
        on_hand=D(on_hand),
        reserved=D(reserved),
        available=D(available if available is not None else on_hand),
    )


def test_prices_are_rounded_by_the_channel_policy_and_compared_within_tolerance(db: Store) -> None:
    _price(db, "erp", "A", "10.004")
    _price(db, "erp", "B", "20.00")
    _price(db, "erp", "C", "30.00")
    _price(db, "shop", "A", "10.00")  # equal once rounded
    _price(db, "shop", "B", "20.01")  # within the 0.01 tolerance
    _price(db, "shop", "C", "31.00")  # a channel edit
    with db.begin() as conn:
        plan = build_plan(conn, _config(price_list="Public"), NOW, ("prices",))
    assert [(c.key, c.old, c.new, c.reason) for c in plan.changes] == [("C", D("31.00"), D("30.00"), "channel edit")]
    with db.begin() as conn:
        strict = build_plan(
            conn, _config(price_list="Public").model_copy(update={"price_tolerance": D(0)}), NOW, ("prices",)
        )
    assert [c.key for c in strict.changes] == ["B", "C"]


def test_a_channel_edit_is_planned_back_to_that_channel_only(db: Store) -> None:
    _price(db, "erp", "A", "10.00")
    _price(db, "shop", "A", "12.00")
    _price(db, "other", "A", "10.00")
    config = PublishConfig(
        systems_of_record={"prices": "erp"},
        channels={"shop": ChannelPolicy(publish=["prices"]), "other": ChannelPolicy(publish=["prices"])},
    )
    with db.begin() as conn:
        plan = build_plan(conn, config, NOW, ("prices",))
    assert [(c.channel, c.new) for c in plan.changes] == [("shop", D("10.00"))]
    assert plan.records[("shop", "prices", "A")]["amount"] == D("10.00")


def test_stock_is_on_hand_less_reserved_less_buffer_never_negative(db: Store) -> None:
    _stock(db, "erp", "A", "WH", "10", "3")
    _stock(db, "erp", "B", "WH", "2", "1")
    _stock(db, "shop", "A", "web", "7")
    _stock(db, "shop", "B", "web", "1")
    config = _config(publish=["stock_levels"], stock_buffer=D(2), locations={"WH": "web"})
    with db.begin() as conn:
        wanted = {(s.sku, s.location): s.available for s in desired_stock(conn, config)}
        plan = build_plan(conn, config, NOW, ("stock_levels",))
    assert wanted == {("A", "web"): D(5), ("B", "web"): D(0)}
    assert [(c.key, c.old, c.new) for c in plan.changes] == [("A@web", D(7), D(5)), ("B@web", D(1), D(0))]


def test_stock_locations_are_inferred_from_agreeing_quantities(db: Store) -> None:
    for sku, (paris, lyon) in {"A": ("5", "9"), "B": ("1", "4"), "C": ("7", "0")}.items():
        _stock(db, "erp", sku, "PAR", paris)
        _stock(db, "erp", sku, "LYO", lyon)
        _stock(db, "shop", sku, "L1", lyon)
        _stock(db, "shop", sku, "L2", paris if sku != "C" else "8")
    with db.begin() as conn:
        plan = build_plan(conn, _config(publish=["stock_levels"]), NOW, ("stock_levels",))
    assert [(c.key, c.new) for c in plan.changes] == [("C@L2", D(7))]


def _customer(db: Store, record_key: str, customer_id: str, email: str = "a@example.org") -> None:
    source, obj, source_id = record_key.split(":")
    _insert(
        db, tables.customer_records, record_key=record_key, source=source, object=obj, source_id=source_id, email=email
    )
    with db.begin() as conn:
        hold_record(conn, record_key, customer_id, NOW, match_rule="email")


def _consent(db: Store, record_key: str, status: str, purpose: str = "marketing", at: datetime = NOW) -> None:
    with db.begin() as conn:
        conn.execute(
            sa.insert(tables.consents).values(
                consent_key=f"{record_key}:{purpose}:email",
                record_key=record_key,
                source=record_key.split(":")[0],
                purpose=purpose,
                channel="email",
                status=status,
                recorded_at=at,
                updated_at=NOW,
            )
        )


def _complaint(db: Store, customer_id: str, status: str) -> None:
    _insert(
        db,
        tables.interactions,
        interaction_key=f"crm:cases:{customer_id}",
        source="crm",
        object="cases",
        source_id=customer_id,
        customer_id=customer_id,
        channel="crm",
        kind="case",
        occurred_at=NOW,
        status=status,
        is_complaint=True,
    )


def _consent_plan(db: Store, config: PublishConfig | None = None):
    with db.begin() as conn:
        return build_plan(conn, config or _config(publish=["consents"]), NOW, ("consents",))


def test_an_opt_out_anywhere_propagates_to_every_consent_channel(db: Store) -> None:
    _customer(db, "shop:customers:1", "P1")
    _customer(db, "mail:contacts:9", "P1")
    _customer(db, "pos:customers:5", "P1")
    _consent(db, "shop:customers:1", "granted")
    _consent(db, "mail:contacts:9", "granted")
    _consent(db, "pos:customers:5", "denied")
    plan = _consent_plan(db)
    assert sorted((c.channel, c.old, c.new) for c in plan.changes) == [
        ("mail", "granted", "denied"),
        ("shop", "granted", "denied"),
    ]
    assert plan.records[("mail", "consents", "mail:contacts:9:marketing:email")]["source_id"] == "9"


def test_the_consent_rule_is_configurable_per_purpose(db: Store) -> None:
    _customer(db, "shop:customers:1", "P1")
    _customer(db, "mail:contacts:9", "P1")
    _consent(db, "shop:customers:1", "granted", at=NOW)
    _consent(db, "mail:contacts:9", "denied", at=NOW - timedelta(days=30))
    recent = _config(publish=["consents"]).model_copy(
        update={"consent_rule": {"marketing": "most_recent"}, "propagate_opt_ins": True}
    )
    assert [(c.channel, c.new) for c in _consent_plan(db, recent).changes] == [("mail", "granted")]
    assert [(c.channel, c.new) for c in _consent_plan(db).changes] == [("shop", "denied")]


def test_consent_given_elsewhere_does_not_opt_a_customer_in_by_default(db: Store) -> None:
    _customer(db, "shop:customers:1", "P1")
    _customer(db, "mail:contacts:9", "P1")
    _consent(db, "shop:customers:1", "granted", at=NOW)
    _consent(db, "mail:contacts:9", "denied", at=NOW - timedelta(days=30))
    recent = _config(publish=["consents"]).model_copy(update={"consent_rule": {"marketing": "most_recent"}})
    assert _consent_plan(db, recent).changes == []


def test_an_open_complaint_pauses_promotional_email_until_resolved(db: Store) -> None:
    _customer(db, "mail:contacts:9", "P1")
    _customer(db, "shop:customers:1", "P1")
    _consent(db, "mail:contacts:9", "granted")
    _consent(db, "shop:customers:1", "granted")
    _complaint(db, "P1", "working")
    plan = _consent_plan(db)
    assert sorted((c.channel, c.new, c.reason) for c in plan.changes) == [
        ("mail", "denied", "paused: open complaint"),
        ("shop", "denied", "paused: open complaint"),
    ]
    with db.begin() as conn:  # the pause is applied: channels now show denied, and Canalis remembers why
        for (channel, _, key), record in plan.records.items():
            remember_pause(conn, channel, record, NOW, "run-1")
            conn.execute(sa.update(tables.consents).where(tables.consents.c.consent_key == key).values(status="denied"))
    assert _consent_plan(db).changes == []  # the pause is not mistaken for an opt-out
    with db.begin() as conn:
        conn.execute(sa.update(tables.interactions).values(status="closed"))
    restored = _consent_plan(db)
    assert sorted((c.channel, c.new, c.reason) for c in restored.changes) == [
        ("mail", "granted", "restored: complaint resolved"),
        ("shop", "granted", "restored: complaint resolved"),
    ]


def test_a_customer_with_one_record_is_paused_and_restored_too(db: Store) -> None:
    _customer(db, "mail:contacts:9", "P1")
    _customer(db, "mail:contacts:8", "P2")  # one record, no complaint: its own consent is all there is
    _consent(db, "mail:contacts:9", "granted")
    _consent(db, "mail:contacts:8", "denied")
    _complaint(db, "P1", "working")
    plan = _consent_plan(db)
    assert [(c.key, c.new, c.reason) for c in plan.changes] == [
        ("mail:contacts:9:marketing:email", "denied", "paused: open complaint")
    ]
    with db.begin() as conn:
        for (channel, _, key), record in plan.records.items():
            remember_pause(conn, channel, record, NOW, "run-1")
            conn.execute(sa.update(tables.consents).where(tables.consents.c.consent_key == key).values(status="denied"))
        conn.execute(sa.delete(tables.interactions))  # the complaint is gone: only the pause remembers it
    assert [(c.key, c.new, c.reason) for c in _consent_plan(db).changes] == [
        ("mail:contacts:9:marketing:email", "granted", "restored: complaint resolved")
    ]
