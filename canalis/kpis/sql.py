"""SQL building blocks shared by the KPIs: effective channels, active interactions, exact money sums, day shifts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from canalis.kpis.settings import KpiSettings
from canalis.store import tables
from canalis.store.types import UTCDateTime

MONEY_SCALE = 10_000  # Money columns hold four decimals


class shift_days(FunctionElement):
    """A timestamp moved by a whole number of days, on every supported database."""

    type = UTCDateTime()
    inherit_cache = False  # the number of days is rendered into the SQL, so statements using it are not cached
    name = "shift_days"

    def __init__(self, timestamp: ColumnElement, days: int) -> None:
        self.days = int(days)
        super().__init__(timestamp)


@compiles(shift_days, "sqlite")
def _shift_sqlite(element: shift_days, compiler, **kw) -> str:
    # SQLite keeps timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text: same shape back, so text comparison holds.
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', {column}, '{element.days:+d} days') || '000')"


@compiles(shift_days, "postgresql")
def _shift_postgresql(element: shift_days, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"({column} + INTERVAL '{element.days} days')"


@compiles(shift_days, "mysql")
@compiles(shift_days, "mariadb")
def _shift_mysql(element: shift_days, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"DATE_ADD({column}, INTERVAL {element.days} DAY)"


@compiles(shift_days)
def _shift_other(element: shift_days, compiler, **kw) -> str:
    raise CompileError(f"shift_days has no form for the {compiler.dialect.name} database")


class money_units_sum(FunctionElement):
    """SUM of a Money column in ten-thousandths, exact on every database (SQLite keeps Money as text)."""

    inherit_cache = True
    name = "money_units_sum"


@compiles(money_units_sum, "sqlite")
def _units_sqlite(element: money_units_sum, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"SUM(CAST(ROUND({column} * {MONEY_SCALE}) AS INTEGER))"


@compiles(money_units_sum)
def _units_other(element: money_units_sum, compiler, **kw) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"SUM({column} * {MONEY_SCALE})"


def units_to_money(units: Any) -> Decimal:
    """An amount from the ten-thousandths `money_units_sum` returns."""
    return (Decimal(str(units or 0)) / MONEY_SCALE).quantize(Decimal("0.0001"))


def lower_status(status: ColumnElement) -> ColumnElement:
    """The status lower-cased, never NULL (so NOT IN keeps rows without a status)."""
    return func.coalesce(func.lower(status), "")


def effective_channel(settings: KpiSettings, table=tables.interactions) -> ColumnElement:
    """The channel an interaction happened on: its kind's channel when the settings name one, else its own."""
    kind = func.lower(table.c.kind)
    channel = func.lower(table.c.channel)
    if not settings.channel_of_kind:
        return channel
    return case(*((kind == name, literal(value)) for name, value in settings.channel_of_kind.items()), else_=channel)


def is_passive(settings: KpiSettings, table=tables.interactions) -> ColumnElement:
    """True for interactions that are no action of the customer (a campaign delivered, an address blocked)."""
    kind, status = func.lower(table.c.kind), lower_status(table.c.status)
    conditions = []
    for name, statuses in settings.passive_statuses.items():
        if "*" in statuses:
            conditions.append(kind == name)
        elif statuses:
            conditions.append(and_(kind == name, status.in_(statuses)))
    return or_(*conditions) if conditions else false()


def is_active(settings: KpiSettings, table=tables.interactions) -> ColumnElement:
    """Interactions of a known customer that the customer did, on a channel customers use."""
    return and_(
        table.c.customer_id.is_not(None),
        not_(is_passive(settings, table)),
        effective_channel(settings, table).not_in(settings.back_office_channels),
    )


def counted_orders(settings: KpiSettings) -> ColumnElement:
    """Orders that count as revenue: not from a back-office system, not cancelled."""
    o = tables.orders
    return and_(
        func.lower(o.c.channel).not_in(settings.back_office_channels),
        lower_status(o.c.status).not_in(settings.excluded_order_statuses),
    )


def customer_channel_pairs(settings: KpiSettings) -> Select:
    """(customer_id, channel) for every channel a unified customer used: active interactions and counted orders."""
    i, o, s = tables.interactions, tables.orders, tables.source_identities
    from_interactions = select(
        i.c.customer_id.label("customer_id"), effective_channel(settings).label("channel")
    ).where(is_active(settings))
    from_orders = (
        select(s.c.customer_id.label("customer_id"), func.lower(o.c.channel).label("channel"))
        .select_from(o.join(s, s.c.record_key == o.c.customer_record_key))
        .where(func.lower(o.c.channel).not_in(settings.back_office_channels))
    )
    return union(from_interactions, from_orders)


def channel_counts(settings: KpiSettings) -> Subquery:
    """customer_id and `channels`, the number of channels each unified customer used (customers with none absent)."""
    pairs = customer_channel_pairs(settings).subquery("customer_channel_pairs")
    c = tables.customers
    return (
        select(pairs.c.customer_id, func.count().label("channels"))
        .select_from(pairs.join(c, c.c.customer_id == pairs.c.customer_id))
        .group_by(pairs.c.customer_id)
        .subquery("channel_counts")
    )


def share(part: int, whole: int) -> float | None:
    """part / whole rounded to four decimals, None when there is no whole."""
    return round(part / whole, 4) if whole else None
