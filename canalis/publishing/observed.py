"""What each channel shows now, read from its canonical rows, in the same shapes as the desired state."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.publishing.desired import (
    DesiredPrice,
    DesiredPromotion,
    DesiredStock,
    available_quantity,
    promotion_status,
    whole_day_end,
)
from canalis.publishing.policy import PublishConfig
from canalis.store import tables

PriceKey = tuple[str, str]
StockKey = tuple[str, str, str]
PromotionKey = tuple[str, str]


def observed_prices(conn: Connection, config: PublishConfig) -> dict[PriceKey, DesiredPrice]:
    """Each channel's current price per SKU, keyed by (channel, sku)."""
    p = tables.prices
    channels = list(config.channels)
    query = sa.select(p).where(p.c.source.in_(channels)).order_by(p.c.source, p.c.sku, p.c.price_list.desc())
    found: dict[PriceKey, DesiredPrice] = {}
    for row in conn.execute(query):
        found[(row.source, row.sku)] = DesiredPrice(
            channel=row.source,
            sku=row.sku,
            price_list=row.price_list,
            amount=row.amount,
            compare_at_amount=row.compare_at_amount,
            currency=row.currency,
        )
    return found


def observed_stock(conn: Connection, config: PublishConfig) -> dict[StockKey, DesiredStock]:
    """Each channel's current available quantity, keyed by (channel, sku, location)."""
    s = tables.stock_levels
    query = sa.select(s).where(s.c.source.in_(list(config.channels))).order_by(s.c.source, s.c.sku, s.c.location)
    found: dict[StockKey, DesiredStock] = {}
    for row in conn.execute(query):
        available = row.available if row.available is not None else available_quantity(row.on_hand, row.reserved)
        found[(row.source, row.sku, row.location)] = DesiredStock(row.source, row.sku, row.location, available)
    return found


def observed_promotions(
    conn: Connection, config: PublishConfig, now: datetime | None = None
) -> dict[PromotionKey, DesiredPromotion]:
    """Each channel's current promotions, keyed by (channel, code); the status is what the channel enforces at `now`.

    A channel that reports a promotion disabled or expired is believed; otherwise the status follows its dates, since
    some channels (Square) do not report a status at all.
    """
    now = now or datetime.now(UTC)
    p = tables.promotions
    query = sa.select(p).where(p.c.source.in_(list(config.channels))).order_by(p.c.source, p.c.code)
    found: dict[PromotionKey, DesiredPromotion] = {}
    for row in conn.execute(query):
        status = row.status if row.status in ("disabled", "expired") else None
        fixed = row.discount_type == "fixed_amount"
        found[(row.source, row.code)] = DesiredPromotion(
            channel=row.source,
            code=row.code,
            name=row.name,
            discount_type=row.discount_type,
            discount_value=row.discount_value,
            currency=row.currency if fixed else None,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=status or promotion_status(row.starts_at, whole_day_end(row.ends_at), now),
        )
    return found
