"""Catalogue rules on hand-made prices, stock and promotions against a system of record."""

from __future__ import annotations

from datetime import timedelta

from canalis.consistency import RULES, ConsistencySettings, run_rule
from canalis.publishing import ChannelPolicy, PublishConfig

MASTERED = {"prices": "erp", "stock_levels": "erp", "promotions": "erp"}


def _settings(**channels: ChannelPolicy) -> ConsistencySettings:
    publish = PublishConfig(systems_of_record=MASTERED, channels=channels)
    return ConsistencySettings().with_publish(publish)


def _run(store, code, now, settings):
    with store.engine.connect() as conn:
        return run_rule(conn, RULES[code], settings, now)


def test_price_mismatch_beyond_tolerance_only(cstore, canon, now) -> None:
    for sku, public, store_price in (("A-1", "10.00", "9.50"), ("B-2", "20.00", "20.00"), ("C-3", "5.00", "5.00")):
        canon.price("erp", sku, "Public EUR", public)
        canon.price("erp", sku, "Store EUR", store_price)
    canon.price("web", "A-1", "web", "10.004")  # within the tolerance
    canon.price("web", "B-2", "web", "21.00")
    canon.price("web", "C-3", "web", "5.00")
    canon.price("pos", "A-1", "store", "9.50")  # a channel on another price list, inferred
    canon.price("pos", "B-2", "store", "20.00")
    canon.price("pos", "C-3", "store", "4.00")
    settings = _settings(web=ChannelPolicy(price_list="Public EUR"))
    found = {(f.entity_key, tuple(f.channels)): f for f in _run(cstore, "price_mismatch", now, settings)}
    assert set(found) == {("B-2", ("erp", "web")), ("C-3", ("erp", "pos"))}
    assert found[("C-3", ("erp", "pos"))].details["price_list"] == "Store EUR"
    assert found[("B-2", ("erp", "web"))].details["desired"] == "20.00"


def test_a_channel_in_another_currency_is_a_mismatch(cstore, canon, now) -> None:
    canon.price("erp", "A-1", "Public EUR", "10.00")
    canon.price("web", "A-1", "web", "10.00", currency="USD")
    (finding,) = _run(cstore, "price_mismatch", now, _settings(web=ChannelPolicy(price_list="Public EUR")))
    assert finding.details["shown_currency"] == "USD"


def test_stock_oversell_uses_on_hand_less_reserved_less_buffer(cstore, canon, now) -> None:
    canon.stock("erp", "A-1", "WH", on_hand=10, reserved=2)
    canon.stock("erp", "B-2", "WH", on_hand=10, reserved=0)
    canon.stock("erp", "C-3", "WH", on_hand=3, reserved=3)
    canon.stock("web", "A-1", "site", on_hand=6)  # exactly 10 - 2 reserved - 2 buffer: fine
    canon.stock("web", "B-2", "site", on_hand=9)  # more than 10 - 2 (buffer)
    canon.stock("web", "C-3", "site", on_hand=0)  # showing less is not an oversell risk
    settings = _settings(web=ChannelPolicy(locations={"WH": "site"}, stock_buffer=2))
    (finding,) = _run(cstore, "stock_oversell_risk", now, settings)
    assert (finding.entity_key, finding.channels) == ("B-2", ["erp", "web"])
    assert finding.details == {"location": "site", "sellable": "8", "shown": "9", "excess": "1"}


def test_promotion_rules(cstore, canon, now) -> None:
    day = timedelta(days=1)
    live, old = (now - 10 * day, now + 10 * day), (now - 90 * day, now - 30 * day)
    canon.promotion("erp", "LIVE10", "10", *live)
    canon.promotion("erp", "GONE20", "20", *old)
    canon.promotion("erp", "STOP15", "15", *live, status="disabled")
    canon.promotion("erp", "ENDING5", "5", now - 10 * day, now - 2 * timedelta(hours=1))  # ended two hours ago
    canon.promotion("web", "LIVE10", "15", *live)  # wrong value
    canon.promotion("web", "GONE20", "20", old[0], None)  # no end date: still running
    canon.promotion("web", "STOP15", "15", *live)  # disabled at the source, running here
    canon.promotion("web", "ENDING5", "5", now - 10 * day, now + 22 * timedelta(hours=1))  # within the grace period
    canon.promotion("pos", "GONE20", "20", *old, status="expired")  # ended too: fine
    settings = _settings(web=ChannelPolicy(), pos=ChannelPolicy())
    missing = _run(cstore, "promo_missing", now, settings)
    assert [(f.entity_key, f.channels) for f in missing] == [("LIVE10", ["erp", "pos"])]
    expired = _run(cstore, "promo_expired_but_active", now, settings)
    assert sorted((f.entity_key, f.details["status"]) for f in expired) == [
        ("GONE20", "expired"),
        ("STOP15", "disabled"),
    ]
    (value,) = _run(cstore, "promo_value_mismatch", now, settings)
    assert (value.entity_key, value.details["desired"], value.details["shown"]) == ("LIVE10", "10", "15")


def test_promotion_meant_for_another_channel_is_not_missing(cstore, canon, now) -> None:
    day = timedelta(days=1)
    canon.promotion("erp", "WEBONLY", "10", now - day, now + day, channels=["web"])
    canon.promotion("web", "WEBONLY", "10", now - day, now + day)
    canon.promotion("pos", "OTHER", "10", now - day, now + day)
    settings = _settings(web=ChannelPolicy(), pos=ChannelPolicy(), crm=ChannelPolicy(publish=["prices"]))
    assert _run(cstore, "promo_missing", now, settings) == []


def test_without_a_system_of_record_the_catalogue_rules_find_nothing(cstore, canon, now) -> None:
    canon.price("web", "A-1", "web", "10.00")
    assert _run(cstore, "price_mismatch", now, ConsistencySettings()) == []
