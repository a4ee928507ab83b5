"""Catalogue rules: channel prices, stock and promotions compared with what the system of record says they should be.

The desired state comes from `canalis.publishing` (system of record through each channel's policy). Every connection
that holds prices, stock or promotions is checked, not only those Canalis publishes to: a CRM price list that drifted
is an inconsistency even when Canalis does not write it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.consistency.findings import Finding
from canalis.consistency.settings import ConsistencySettings
from canalis.publishing import (
    ChannelPolicy,
    PublishConfig,
    desired_prices,
    desired_promotions,
    desired_stock,
    observed_prices,
    observed_promotions,
    observed_stock,
)
from canalis.store import tables

PRODUCT, PROMOTION = "product", "promotion"
ENTITY_TABLES = {"prices": tables.prices, "stock_levels": tables.stock_levels, "promotions": tables.promotions}
LIVE = ("active", "scheduled")


def checked_config(conn: Connection, settings: ConsistencySettings, entity: str) -> PublishConfig | None:
    """The publish configuration widened to every connection holding the entity, each with the entity published."""
    config = settings.publish
    if not isinstance(config, PublishConfig) or config.system_of_record(entity) is None:
        return None
    owner = config.system_of_record(entity)
    table = ENTITY_TABLES[entity]
    holders = {source for (source,) in conn.execute(sa.select(table.c.source).distinct()) if source != owner}
    channels: dict[str, ChannelPolicy] = {}
    for name in sorted(holders | set(config.channels)):
        policy = config.channels.get(name) or ChannelPolicy(publish=[])
        if name == owner:
            continue
        if entity not in policy.publish:
            policy = policy.model_copy(update={"publish": [*policy.publish, entity]})
        channels[name] = policy
    return config.model_copy(update={"channels": channels})


def _tolerance(settings: ConsistencySettings, config: PublishConfig) -> Decimal:
    return settings.price_tolerance if settings.price_tolerance is not None else config.price_tolerance


def price_mismatches(conn: Connection, settings: ConsistencySettings, now: datetime) -> Iterator[Finding]:
    """A channel's price differs from the price its system-of-record price list gives, beyond the tolerance."""
    config = checked_config(conn, settings, "prices")
    if config is None:
        return
    owner = config.system_of_record("prices") or ""
    tolerance = _tolerance(settings, config)
    shown = observed_prices(conn, config)
    for desired in desired_prices(conn, config, now):
        observed = shown.get((desired.channel, desired.sku))
        if observed is None:
            continue
        allowed = tolerance + abs(desired.amount) * settings.price_tolerance_share
        if observed.currency == desired.currency and abs(observed.amount - desired.amount) <= allowed:
            continue
        yield Finding(
            "price_mismatch",
            PRODUCT,
            desired.sku,
            [owner, desired.channel],
            {
                "price_list": desired.price_list,
                "desired": str(desired.amount),
                "shown": str(observed.amount),
                "currency": desired.currency,
                "shown_currency": observed.currency,
                "difference": str(observed.amount - desired.amount),
            },
            settings.severity_of("price_mismatch", "error"),
        )


def number_text(value: Decimal | int) -> str:
    """A quantity or discount value as text, without the zeros of the column scale (9, not 9.0000 from PostgreSQL)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def stock_oversell_risks(conn: Connection, settings: ConsistencySettings, now: datetime) -> Iterator[Finding]:
    """A channel offers more than the system of record has: on hand less reserved less the channel's buffer."""
    config = checked_config(conn, settings, "stock_levels")
    if config is None:
        return
    owner = config.system_of_record("stock_levels") or ""
    shown = observed_stock(conn, config)
    for desired in desired_stock(conn, config):
        observed = shown.get((desired.channel, desired.sku, desired.location))
        if observed is None or observed.available <= desired.available:
            continue
        yield Finding(
            "stock_oversell_risk",
            PRODUCT,
            desired.sku,
            [owner, desired.channel],
            {
                "location": desired.location,
                "sellable": number_text(desired.available),
                "shown": number_text(observed.available),
                "excess": number_text(observed.available - desired.available),
            },
            settings.severity_of("stock_oversell_risk", "error"),
        )


def _promotions(conn: Connection, settings: ConsistencySettings, now: datetime):
    config = checked_config(conn, settings, "promotions")
    if config is None:
        return None, [], {}
    return config, desired_promotions(conn, config, now), observed_promotions(conn, config, now)


def promotions_missing(conn: Connection, settings: ConsistencySettings, now: datetime) -> Iterator[Finding]:
    """A promotion active in the system of record is absent from a channel it is meant for."""
    config, desired, shown = _promotions(conn, settings, now)
    if config is None:
        return
    owner = config.system_of_record("promotions") or ""
    for promo in desired:
        if promo.status == "active" and (promo.channel, promo.code) not in shown:
            yield Finding(
                "promo_missing",
                PROMOTION,
                promo.code,
                [owner, promo.channel],
                {"name": promo.name, "starts_at": _iso(promo.starts_at), "ends_at": _iso(promo.ends_at)},
                settings.severity_of("promo_missing", "warn"),
            )


def promotions_expired_but_active(conn: Connection, settings: ConsistencySettings, now: datetime) -> Iterator[Finding]:
    """A channel still runs a promotion the system of record ended or disabled (past a grace period after its end)."""
    config, desired, shown = _promotions(conn, settings, now)
    if config is None:
        return
    owner = config.system_of_record("promotions") or ""
    grace = timedelta(hours=settings.promo_grace_hours)
    for promo in desired:
        observed = shown.get((promo.channel, promo.code))
        if observed is None or observed.status != "active":
            continue
        ended = promo.status == "expired" and promo.ends_at is not None and promo.ends_at + grace <= now
        if promo.status == "disabled" or ended:
            yield Finding(
                "promo_expired_but_active",
                PROMOTION,
                promo.code,
                [owner, promo.channel],
                {
                    "status": promo.status,
                    "ends_at": _iso(promo.ends_at),
                    "channel_ends_at": _iso(observed.ends_at),
                },
                settings.severity_of("promo_expired_but_active", "error"),
            )


def promotion_value_mismatches(conn: Connection, settings: ConsistencySettings, now: datetime) -> Iterator[Finding]:
    """A channel gives a different discount (type or value) than the system of record for a live promotion."""
    config, desired, shown = _promotions(conn, settings, now)
    if config is None:
        return
    owner = config.system_of_record("promotions") or ""
    for promo in desired:
        observed = shown.get((promo.channel, promo.code))
        if observed is None or promo.status not in LIVE:
            continue
        same_type = observed.discount_type == promo.discount_type
        if same_type and abs(observed.discount_value - promo.discount_value) <= settings.promo_value_tolerance:
            continue
        yield Finding(
            "promo_value_mismatch",
            PROMOTION,
            promo.code,
            [owner, promo.channel],
            {
                "discount_type": promo.discount_type,
                "desired": number_text(promo.discount_value),
                "shown_type": observed.discount_type,
                "shown": number_text(observed.discount_value),
            },
            settings.severity_of("promo_value_mismatch", "error"),
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
