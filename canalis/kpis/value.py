"""Customer lifetime value: order amounts per unified customer, per currency, by number of channels used."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, exists, func, or_, select

from canalis.kpis.settings import KpiSettings
from canalis.kpis.sql import channel_counts, counted_orders, money_units_sum, units_to_money
from canalis.store import tables

CENT = Decimal("0.01")


@dataclass
class ValueBucket:
    """Customers, orders and revenue of one currency (and one number of channels)."""

    customers: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)

    def add(self, other: ValueBucket) -> None:
        self.customers += other.customers
        self.orders += other.orders
        self.revenue += other.revenue

    @property
    def per_customer(self) -> Decimal | None:
        """Average lifetime value of a customer."""
        return (self.revenue / self.customers).quantize(CENT) if self.customers else None

    @property
    def per_order(self) -> Decimal | None:
        """Average order value."""
        return (self.revenue / self.orders).quantize(CENT) if self.orders else None


@dataclass
class LifetimeValueReport:
    """Revenue per currency, overall and by number of channels; never adds two currencies."""

    by_channels: dict[str, dict[int, ValueBucket]] = field(default_factory=dict)
    orders_counted: int = 0
    orders_back_office_or_cancelled: int = 0
    orders_without_customer: int = 0
    orders_without_amount: int = 0

    @property
    def currencies(self) -> list[str]:
        return sorted(self.by_channels)

    def total(self, currency: str) -> ValueBucket:
        overall = ValueBucket()
        for bucket in self.by_channels.get(currency, {}).values():
            overall.add(bucket)
        return overall

    def rows(self) -> list[dict]:
        """Per currency and number of channels: customers, orders, revenue, value per customer and per order."""
        rows = []
        for currency in self.currencies:
            buckets = sorted(self.by_channels[currency].items())
            for label, bucket in [*((str(n), b) for n, b in buckets), ("all", self.total(currency))]:
                rows.append(
                    {
                        "currency": currency,
                        "channels": label,
                        "customers": bucket.customers,
                        "orders": bucket.orders,
                        "revenue": bucket.revenue.quantize(CENT),
                        "value_per_customer": bucket.per_customer,
                        "value_per_order": bucket.per_order,
                    }
                )
        return rows


def lifetime_value(conn: Connection, settings: KpiSettings) -> LifetimeValueReport:
    """Sum the counted orders of each unified customer per currency, then group by channels used (SQL)."""
    o, s = tables.orders, tables.source_identities
    report = LifetimeValueReport()
    has_money = (o.c.total_amount.is_not(None), o.c.currency.is_not(None))
    per_customer = (
        select(
            s.c.customer_id,
            func.upper(o.c.currency).label("currency"),
            func.count().label("orders"),
            money_units_sum(o.c.total_amount).label("units"),
        )
        .select_from(o.join(s, s.c.record_key == o.c.customer_record_key))
        .where(counted_orders(settings), *has_money)
        .group_by(s.c.customer_id, func.upper(o.c.currency))
        .subquery("customer_value")
    )
    counts = channel_counts(settings)
    channels = func.coalesce(counts.c.channels, 0).label("channels")
    for currency, n, customers, orders, units in conn.execute(
        select(
            per_customer.c.currency,
            channels,
            func.count(),
            func.sum(per_customer.c.orders),
            func.sum(per_customer.c.units),
        )
        .select_from(per_customer.outerjoin(counts, counts.c.customer_id == per_customer.c.customer_id))
        .group_by(per_customer.c.currency, channels)
    ):
        bucket = ValueBucket(customers=int(customers), orders=int(orders), revenue=units_to_money(units))
        report.by_channels.setdefault(currency, {})[int(n)] = bucket
        report.orders_counted += bucket.orders

    # EXISTS / NOT EXISTS: PostgreSQL runs `NOT IN (subquery)` as a nested scan once the keys outgrow work_mem
    identified = exists().where(s.c.record_key == o.c.customer_record_key)
    unidentified = or_(o.c.customer_record_key.is_(None), ~identified)
    report.orders_back_office_or_cancelled = _count(conn, ~counted_orders(settings))
    report.orders_without_customer = _count(conn, counted_orders(settings), unidentified)
    report.orders_without_amount = _count(
        conn, counted_orders(settings), identified, ~(o.c.total_amount.is_not(None) & o.c.currency.is_not(None))
    )
    return report


def _count(conn: Connection, *conditions) -> int:
    return conn.execute(select(func.count()).select_from(tables.orders).where(*conditions)).scalar_one()
