"""CSAT/NPS by segment, lifetime value per currency, and ROPO journeys, on rows worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from kpi_world import Canonical, day

from canalis.kpis import KpiSettings, lifetime_value, ropo, satisfaction
from canalis.kpis.satisfaction import CSAT, NPS
from canalis.store import Store


def _scores(store: Store) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("S1", "crm:contacts:S1")
        w.customer("M1", "crm:contacts:M1")
        w.interaction("M1", "store", "pos_sale", day(0))  # M1 also buys in store: multichannel
        for customer, score in (("S1", 5), ("S1", 4), ("S1", 2), ("M1", 3), ("M1", 4), (None, 5), ("S1", 0)):
            w.interaction(customer, "email", "survey", day(1), source="survey_a", satisfaction_score=score)
        for customer, score in (("S1", 10), ("S1", 9), ("M1", 7), ("M1", 3), ("M1", 6)):
            w.interaction(customer, "email", "survey", day(2), source="nps_tool", satisfaction_score=score)
        w.interaction("S1", "email", "survey", day(3), source="nps_tool")  # no score


def test_csat_and_nps_by_segment(kpi_store: Store) -> None:
    _scores(kpi_store)
    settings = KpiSettings(score_scales={"survey_a": "csat_5"})
    with kpi_store.engine.connect() as conn:
        report = satisfaction(conn, settings)

    assert report.scales == {"survey_a": CSAT, "nps_tool": NPS}
    assert report.out_of_range == 1  # the 0 on the 1-5 survey
    # CSAT, satisfied = 4 or 5: single 2 of 3, multi 1 of 2, unidentified 1 of 1
    assert report.csat["single_channel"].csat == round(2 / 3, 4)
    assert report.csat["multichannel"].csat == 0.5
    assert report.total(CSAT).csat == round(4 / 6, 4)
    assert report.total(CSAT).average == round(23 / 6, 3)
    # NPS: single 2 promoters of 2; multi 0 promoters, 2 detractors (3 and 6) of 3; all (2 - 2) of 5
    assert report.nps["single_channel"].nps == 100.0
    assert report.nps["multichannel"].nps == round(100 * -2 / 3, 1)
    assert report.total(NPS).nps == 0.0
    assert report.total(NPS).responses == 5


def test_scales_are_inferred_and_no_scores_give_none(store: Store, settings: KpiSettings) -> None:
    with store.engine.connect() as conn:
        empty = satisfaction(conn, settings)
    assert empty.scales == {} and empty.total(CSAT).csat is None and empty.total(NPS).nps is None
    _scores(store)
    with store.engine.connect() as conn:
        report = satisfaction(conn, settings)
    assert report.scales == {"survey_a": CSAT, "nps_tool": NPS}  # highest 5 on one, 10 on the other


def _orders(store: Store) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("K1", "shop:customers:1", "pos:customers:1")
        w.customer("K2", "shop:customers:2")
        w.customer("K3", "gb:customers:3")
        w.customer("K4", "shop:customers:4")
        w.order("shop:customers:1", "web", "10.10")
        w.order("shop:customers:1", "web", "20.20")
        w.order("pos:customers:1", "store", "5.05")
        w.order("shop:customers:1", "erp", "10.10")  # the ERP's mirror of a web order
        w.order("shop:customers:1", "web", "99.00", status="Cancelled")
        w.order("shop:customers:2", "web", "100.00")
        w.order("shop:customers:2", "web", "50.00", currency="USD")
        w.order("shop:customers:2", "web", None)
        w.order("gb:customers:3", "web", "30.00", currency="GBP")
        w.order("shop:customers:999", "web", "7.00")  # a record no customer holds
        w.order(None, "store", "8.00")


def test_lifetime_value_per_currency_and_channels(kpi_store: Store, settings: KpiSettings) -> None:
    _orders(kpi_store)
    with kpi_store.engine.connect() as conn:
        report = lifetime_value(conn, settings)

    assert report.currencies == ["EUR", "GBP", "USD"]
    eur = report.by_channels["EUR"]
    assert set(eur) == {1, 2}  # K2 web only; K1 web and store
    assert (eur[2].customers, eur[2].orders, eur[2].revenue) == (1, 3, Decimal("35.35"))
    assert eur[2].per_order == Decimal("11.78")  # 35.35 / 3
    assert (eur[1].customers, eur[1].orders, eur[1].revenue) == (1, 1, Decimal("100.00"))
    total = report.total("EUR")
    assert (total.customers, total.orders, total.revenue) == (2, 4, Decimal("135.35"))
    assert total.per_customer == Decimal("67.68")  # 67.675, half to even
    assert report.total("USD").revenue == Decimal("50.00")
    assert report.total("GBP").revenue == Decimal("30.00")
    assert report.orders_counted == 6
    assert report.orders_back_office_or_cancelled == 2
    assert report.orders_without_customer == 2
    assert report.orders_without_amount == 1
    currencies_in_rows = {row["currency"] for row in report.rows() if row["channels"] == "all"}
    assert currencies_in_rows == {"EUR", "GBP", "USD"}


def test_lifetime_value_is_exact_and_empty_is_empty(store: Store, settings: KpiSettings) -> None:
    with store.engine.connect() as conn:
        assert lifetime_value(conn, settings).rows() == []
    with store.begin() as conn:
        w = Canonical(conn)
        w.customer("K", "shop:customers:1")
        for _ in range(10):
            w.order("shop:customers:1", "web", "0.1")
        w.order("shop:customers:1", "web", "1234567890.1234")
    with store.engine.connect() as conn:
        report = lifetime_value(conn, settings)
    assert report.total("EUR").revenue == Decimal("1234567891.1234")


def _journeys(store: Store) -> None:
    with store.begin() as conn:
        w = Canonical(conn)
        for customer in ("R1", "R2", "R3", "R4"):
            w.customer(customer, f"crm:contacts:{customer}")
        w.interaction("R1", "web", "order", day(10))
        w.interaction("R1", "store", "pos_sale", day(20), key="P1")  # web order 10 days before: ROPO
        w.interaction("R1", "marketing", "campaign_event", day(25), status="clicks")
        w.interaction("R1", "marketing", "campaign_event", day(35), status="delivered")
        w.interaction("R1", "store", "pos_sale", day(40), key="P2")  # click 15 days before, delivery only: no
        w.interaction("R2", "email", "email", day(0))
        w.interaction("R2", "store", "pos_sale", day(14), key="P3")  # email exactly 14 days before: ROPO
        w.interaction("R2", "web", "order", day(15))
        w.interaction("R3", "store", "pos_sale", day(5), status="voided")
        w.interaction("R3", "crm", "call", day(-1))
        w.interaction("R3", "erp", "order", day(-2))
        w.interaction("R3", "store", "pos_sale", day(0), key="P5")  # a call and an ERP order before: no
        w.interaction("R4", "web", "order", day(0))
        w.interaction(None, "store", "pos_sale", day(3))


def test_ropo_share(kpi_store: Store, settings: KpiSettings) -> None:
    _journeys(kpi_store)
    with kpi_store.engine.connect() as conn:
        report = ropo(conn, settings)
    assert (report.purchases, report.ropo_purchases, report.unidentified_purchases) == (4, 2, 1)
    assert report.ropo_share == 0.5
    assert report.research_channels == {"web": 1, "email": 1}
    assert report.rows() == [{"offline_channel": "store", "purchases": 4, "ropo_purchases": 2, "ropo_share": 0.5}]


def test_ropo_window_setting_and_no_data(store: Store) -> None:
    with store.engine.connect() as conn:
        assert ropo(conn, KpiSettings()).ropo_share is None
    _journeys(store)
    with store.engine.connect() as conn:
        wider = ropo(conn, KpiSettings(ropo_window_days=16))
        narrower = ropo(conn, KpiSettings(ropo_window_days=13))
    assert wider.ropo_purchases == 3  # R1's click 15 days before P2 now counts
    assert wider.research_channels == {"web": 1, "email": 1, "marketing": 1}
    assert narrower.ropo_purchases == 1  # R2's email 14 days before P3 no longer does
