"""The cross-channel timeline: interactions attached to customers by their record or their email, on SQLite and
PostgreSQL, and the timeline's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from canalis.store import Store, tables
from canalis.timeline import attach_interactions
from tests.store.identities import hold_record

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 'timeline.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = Store(url)
    store.migrate()
    yield store
    store.engine.dispose()


def _customer(store: Store, customer_id: str, record_key: str, email: str | None) -> None:
    with store.begin() as conn:
        hold_record(conn, record_key, customer_id, START)
        if email:
            conn.execute(
                tables.contact_points.insert().values(
                    contact_point_key=f"{record_key}|email|{email}", record_key=record_key, kind="email",
                    value=email, raw_value=email, is_valid=True, updated_at=START,
                )
            )  # fmt: skip


def _interaction(store: Store, key: str, channel: str, minutes: int, record_key=None, email=None) -> None:
    with store.begin() as conn:
        conn.execute(
            tables.interactions.insert().values(
                interaction_key=key, source=channel, object="events", source_id=key, customer_record_key=record_key,
                customer_email=email, channel=channel, kind="order", occurred_at=START + timedelta(minutes=minutes),
                is_complaint=False, loaded_at=START, content_hash=key,
            )
        )  # fmt: skip


def _attached(store: Store) -> dict[str, str | None]:
    i = tables.interactions
    with store.engine.connect() as conn:
        return dict(conn.execute(select(i.c.interaction_key, i.c.customer_id)).all())


@pytest.fixture
def world(store: Store) -> Store:
    _customer(store, "cu_1", "crm:customers:1", "lea@example.fr")
    _customer(store, "cu_2", "web:customers:2", "famille@example.fr")
    _customer(store, "cu_3", "pos:customers:3", "famille@example.fr")
    _interaction(store, "i1", "crm", 1, record_key="crm:customers:1")
    _interaction(store, "i2", "web", 2, email="lea@example.fr")  # the one customer holding that email
    _interaction(store, "i3", "web", 3, email="famille@example.fr")  # two customers hold it: left alone
    _interaction(store, "i4", "store", 4)  # nothing to go by
    _interaction(store, "i5", "crm", 5, record_key="crm:customers:1")
    _interaction(store, "i6", "store", 6, record_key="crm:customers:404", email="lea@example.fr")  # unknown record
    return store


def test_interactions_find_their_customer_by_record_then_by_email(world: Store) -> None:
    report = attach_interactions(world)

    assert _attached(world) == {"i1": "cu_1", "i2": "cu_1", "i3": None, "i4": None, "i5": "cu_1", "i6": "cu_1"}
    assert (report.interactions, report.attached, report.unattached, report.ambiguous) == (6, 4, 2, 1)
    assert report.customers_with_interactions == 1 and report.multichannel_customers == 1
    assert report.channel_switches == 3  # crm -> web -> crm -> store
    assert report.by_channel == {"crm": 2, "web": 1, "store": 1}
    assert [row["channel"] for row in report.example] == ["crm", "web", "crm", "store"]


def test_a_customer_change_moves_the_interactions_and_nothing_else(world: Store) -> None:
    attach_interactions(world)
    s = tables.source_identities
    with world.begin() as conn:
        conn.execute(update(s).where(s.c.record_key == "pos:customers:3").values(customer_id="cu_2"))
        conn.execute(update(s).where(s.c.record_key == "crm:customers:1").values(customer_id="cu_9"))

    report = attach_interactions(world)

    assert _attached(world) == {"i1": "cu_9", "i2": "cu_9", "i3": "cu_2", "i4": None, "i5": "cu_9", "i6": "cu_9"}
    assert (report.attached, report.unattached, report.ambiguous) == (5, 1, 0)
    assert report.customers_with_interactions == 2 and report.channel_switches == 3


LATER = START + timedelta(hours=1)


def _full_pass_agrees(store: Store, incremental) -> None:
    """A full pass over the same data moves no interaction and gives the same report as the incremental one."""
    attached = _attached(store)
    full = attach_interactions(store, full=True)
    assert _attached(store) == attached
    assert full == incremental


def test_an_incremental_pass_equals_a_full_pass_after_identities_change(world: Store) -> None:
    attach_interactions(world, full=True)
    s = tables.source_identities
    with world.begin() as conn:
        conn.execute(update(s).where(s.c.record_key == "pos:customers:3").values(customer_id="cu_2", updated_at=LATER))
        conn.execute(update(s).where(s.c.record_key == "crm:customers:1").values(customer_id="cu_9", updated_at=LATER))

    report = attach_interactions(world, full=False)

    assert _attached(world) == {"i1": "cu_9", "i2": "cu_9", "i3": "cu_2", "i4": None, "i5": "cu_9", "i6": "cu_9"}
    _full_pass_agrees(world, report)


def test_an_incremental_pass_attaches_new_interactions_and_reads_dropped_emails(world: Store) -> None:
    attach_interactions(world, full=True)
    with world.begin() as conn:  # the shop record no longer holds the family email: the web order is cu_3's alone
        conn.execute(tables.contact_points.delete().where(tables.contact_points.c.record_key == "web:customers:2"))
        conn.execute(
            tables.interactions.insert().values(
                interaction_key="i7", source="web", object="events", source_id="i7", customer_email="lea@example.fr",
                channel="web", kind="order", occurred_at=START + timedelta(minutes=7), is_complaint=False,
                loaded_at=LATER, content_hash="i7",
            )
        )  # fmt: skip

    report = attach_interactions(world, full=False)

    assert _attached(world)["i3"] == "cu_3" and _attached(world)["i7"] == "cu_1"
    assert (report.interactions, report.ambiguous) == (7, 0)
    _full_pass_agrees(world, report)


def test_an_incremental_pass_with_nothing_changed_moves_nothing_and_keeps_the_report(world: Store) -> None:
    first = attach_interactions(world, full=True)
    i = tables.interactions
    with world.begin() as conn:  # written behind the timeline's back, with no change stamp: out of the pass's sight
        conn.execute(update(i).where(i.c.interaction_key == "i1").values(customer_id="cu_x"))

    again = attach_interactions(world, full=False)

    assert again == first
    assert _attached(world)["i1"] == "cu_x"
    attach_interactions(world, full=True)
    assert _attached(world)["i1"] == "cu_1"


def _figures(store: Store) -> dict[str, tuple[int, int, int]]:
    f = tables.timeline_customers
    with store.engine.connect() as conn:
        rows = conn.execute(select(f.c.customer_id, f.c.interactions, f.c.channels, f.c.switches)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_the_figures_per_customer_are_kept_and_summed_by_the_report(world: Store) -> None:
    report = attach_interactions(world, full=True)

    assert _figures(world) == {"cu_1": (4, 3, 3)}  # crm -> web -> crm -> store
    assert report.channel_switches == 3 and report.customers_with_interactions == 1


def test_an_incremental_pass_works_out_the_figures_of_the_customers_it_touched_only(world: Store) -> None:
    _customer(world, "cu_4", "shop:customers:4", None)
    _interaction(world, "i8", "web", 8, record_key="shop:customers:4")
    _interaction(world, "i9", "store", 9, record_key="shop:customers:4")
    attach_interactions(world, full=True)
    assert _figures(world)["cu_4"] == (2, 2, 1)
    f = tables.timeline_customers
    with world.begin() as conn:  # a stale figure of a customer nothing touches: an incremental pass leaves it
        conn.execute(update(f).where(f.c.customer_id == "cu_4").values(switches=7))
        conn.execute(
            tables.interactions.insert().values(
                interaction_key="i10", source="crm", object="events", source_id="i10",
                customer_record_key="crm:customers:1", channel="phone", kind="call",
                occurred_at=START + timedelta(minutes=10), is_complaint=False, loaded_at=LATER, content_hash="i10",
            )
        )  # fmt: skip

    report = attach_interactions(world, full=False)

    assert _figures(world) == {"cu_1": (5, 4, 4), "cu_4": (2, 2, 7)}
    assert report.channel_switches == 11
    full = attach_interactions(world, full=True)
    assert _figures(world)["cu_4"] == (2, 2, 1) and full.channel_switches == 5


def test_figures_that_no_longer_add_up_are_worked_out_in_full(world: Store) -> None:
    _customer(world, "cu_4", "shop:customers:4", None)
    _interaction(world, "i8", "web", 8, record_key="shop:customers:4")
    _interaction(world, "i9", "store", 9, record_key="shop:customers:4")
    attach_interactions(world, full=True)
    i = tables.interactions
    with world.begin() as conn:  # an interaction deleted (erased, or gone at the source) leaves no change stamp
        conn.execute(i.delete().where(i.c.interaction_key == "i9"))
        conn.execute(update(i).where(i.c.interaction_key == "i5").values(loaded_at=LATER))

    report = attach_interactions(world, full=False)

    assert _figures(world) == {"cu_1": (4, 3, 3), "cu_4": (1, 1, 0)}
    _full_pass_agrees(world, report)
