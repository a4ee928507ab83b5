"""Channel mix: channels per unified customer from active interactions and orders, and the 2+ channel share."""

from __future__ import annotations

from kpi_world import Canonical, day

from canalis.kpis import KpiSettings, channel_mix
from canalis.store import Store


def _world(store: Store) -> None:
    with store.begin() as conn:
        world = Canonical(conn)
        for customer in ("c1", "c2", "c3", "c4", "c6"):
            world.customer(customer, f"shop:customers:{customer}")
        world.customer("c5", "pos:customers:c5")
        # c1: web and store
        world.interaction("c1", "web", "order", day(1))
        world.interaction("c1", "store", "pos_sale", day(2))
        world.interaction("c1", "web", "order", day(3))
        # c2: campaigns delivered or bounced only (not an action of theirs), and a web order
        world.interaction("c2", "marketing", "campaign_event", day(1), status="delivered")
        world.interaction("c2", "marketing", "campaign_event", day(2), status="softBounces")
        world.interaction("c2", "marketing", "email_block", day(2), status="whatever")
        world.interaction("c2", "web", "order", day(3))
        # c3: a call recorded in the CRM is a phone contact; a CRM case stays on the CRM channel
        world.interaction("c3", "crm", "call", day(1))
        world.interaction("c3", "crm", "case", day(2))
        # c4: only the ERP's mirror of an order, which is no channel of theirs
        world.interaction("c4", "erp", "order", day(1))
        world.order("shop:customers:c4", "erp", "10.00")
        # c5: no interaction, an order at the store
        world.order("pos:customers:c5", "store", "12.00")
        # c6: nothing at all; and an interaction nobody was matched to
        world.interaction(None, "web", "order", day(1))


def test_channel_mix_counts_customers_by_channels_used(kpi_store: Store, settings: KpiSettings) -> None:
    _world(kpi_store)
    with kpi_store.engine.connect() as conn:
        report = channel_mix(conn, settings)

    # by hand: c1 {web, store}, c2 {web}, c3 {phone, crm}, c4 {}, c5 {store}, c6 {}
    assert report.customers == 6
    assert report.active_customers == 4
    assert report.multichannel_customers == 2
    assert report.multichannel_share == 0.5
    assert report.distribution == {0: 2, 1: 2, 2: 2}
    assert report.by_channel == {"web": 2, "store": 2, "phone": 1, "crm": 1}
    assert report.multichannel_by_channel == {"web": 1, "store": 1, "phone": 1, "crm": 1}
    assert [row["customers"] for row in report.rows()] == [2, 2, 2]
    assert [row["share_of_customers"] for row in report.rows()] == [round(2 / 6, 4)] * 3


def test_settings_change_what_counts(store: Store) -> None:
    _world(store)
    settings = KpiSettings(back_office_channels=[], channel_of_kind={}, passive_statuses={})
    with store.engine.connect() as conn:
        report = channel_mix(conn, settings)
    # c2 now {marketing, web}, c3 {crm}, c4 {erp}
    assert report.distribution == {0: 1, 1: 3, 2: 2}
    assert report.by_channel["marketing"] == 1
    assert "phone" not in report.by_channel


def test_no_data(store: Store, settings: KpiSettings) -> None:
    with store.engine.connect() as conn:
        report = channel_mix(conn, settings)
    assert (report.customers, report.active_customers, report.multichannel_share) == (0, 0, None)
    assert report.distribution == {}
    assert report.rows() == []


def test_customers_without_interactions_count_as_zero_channels(store: Store, settings: KpiSettings) -> None:
    with store.begin() as conn:
        world = Canonical(conn)
        world.customer("a", "shop:customers:a")
        world.customer("b", "shop:customers:b")
    with store.engine.connect() as conn:
        report = channel_mix(conn, settings)
    assert report.distribution == {0: 2}
    assert report.multichannel_share is None
