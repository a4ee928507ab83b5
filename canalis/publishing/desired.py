"""What each channel should show: prices, stock and promotions from the system of record through the channel policy."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.publishing.policy import ChannelPolicy, PublishConfig
from canalis.store import tables

ZERO = Decimal(0)
INFERENCE_MIN_AGREEMENT = 0.5


@dataclass(frozen=True, slots=True)
class DesiredPrice:
    """The price a channel should show for a SKU (also the shape of what it shows now)."""

    channel: str
    sku: str
    price_list: str
    amount: Decimal
    compare_at_amount: Decimal | None
    currency: str


@dataclass(frozen=True, slots=True)
class DesiredStock:
    """The quantity a channel should offer for a SKU at one of its locations."""

    channel: str
    sku: str
    location: str
    available: Decimal


@dataclass(frozen=True, slots=True)
class DesiredPromotion:
    """A promotion code as a channel should hold it."""

    channel: str
    code: str
    name: str | None
    discount_type: str
    discount_value: Decimal
    currency: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    status: str


def promotion_status(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> str:
    """active, scheduled or expired at `now`, from the promotion's dates."""
    if ends_at is not None and ends_at <= now:
        return "expired"
    if starts_at is not None and starts_at > now:
        return "scheduled"
    return "active"


def whole_day_end(ends_at: datetime | None) -> datetime | None:
    """An end at exactly midnight is an end date without a time: the promotion runs to the end of that day."""
    if ends_at is None or ends_at.astimezone(UTC).time() != time(0):
        return ends_at
    return ends_at + timedelta(days=1, seconds=-1)


def available_quantity(on_hand: Decimal | None, reserved: Decimal | None) -> Decimal:
    """On hand less reserved, never below zero."""
    return max(ZERO, (on_hand or ZERO) - (reserved or ZERO))


# --- prices --------------------------------------------------------------------------------------------------------


def desired_prices(conn: Connection, config: PublishConfig, now: datetime | None = None) -> list[DesiredPrice]:
    """Every channel's price per SKU it lists, from its price list in the system of record, rounded by its policy."""
    owner = config.system_of_record("prices")
    channels = config.channels_publishing("prices")
    if owner is None or not channels:
        return []
    now = now or datetime.now(UTC)
    by_list = _owner_prices(conn, owner, now)
    listed = _channel_skus(conn, list(channels))
    desired: list[DesiredPrice] = []
    for channel, policy in channels.items():
        price_list = channel_price_list(conn, config, channel, by_list)
        for sku, row in sorted(by_list.get(price_list or "", {}).items()):
            if sku not in listed[channel] or row.currency != policy.currency:
                continue
            amount = _tax_basis(row.amount, row.tax_included, policy)
            if amount is None:
                continue
            compare_at = _tax_basis(row.compare_at_amount, row.tax_included, policy)
            desired.append(
                DesiredPrice(
                    channel=channel,
                    sku=sku,
                    price_list=row.price_list,
                    amount=policy.round_price(amount) or ZERO,
                    compare_at_amount=policy.round_price(compare_at),
                    currency=policy.currency,
                )
            )
    return desired


def channel_price_list(
    conn: Connection, config: PublishConfig, channel: str, by_list: dict[str, dict[str, Any]] | None = None
) -> str | None:
    """A channel's system-of-record price list: the configured one, the only one, else the one it agrees with most."""
    policy = config.channels[channel]
    if policy.price_list:
        return policy.price_list
    owner = config.system_of_record("prices")
    if owner is None:
        return None
    by_list = by_list if by_list is not None else _owner_prices(conn, owner, datetime.now(UTC))
    if len(by_list) == 1:
        return next(iter(by_list))
    shown = {
        row.sku: row.amount
        for row in conn.execute(
            sa.select(tables.prices.c.sku, tables.prices.c.amount).where(tables.prices.c.source == channel)
        )
    }
    scores = sorted(
        (-sum(1 for sku, row in rows.items() if sku in shown and _close(shown[sku], row.amount, config)), name)
        for name, rows in by_list.items()
    )
    return scores[0][1] if scores and scores[0][0] < 0 else None


def _owner_prices(conn: Connection, owner: str, now: datetime) -> dict[str, dict[str, Any]]:
    """The system of record's price in force per price list and SKU."""
    p = tables.prices
    rows = conn.execute(sa.select(p).where(p.c.source == owner).order_by(p.c.price_list, p.c.sku, p.c.valid_from))
    chosen: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        if row.valid_from is not None and row.valid_from > now:
            continue
        if row.valid_to is not None and row.valid_to <= now:
            continue
        chosen[row.price_list][row.sku] = row  # ordered by valid_from: the latest in force wins
    return chosen


def _tax_basis(amount: Decimal | None, tax_included: bool, policy: ChannelPolicy) -> Decimal | None:
    """An amount on the channel's tax basis; None when the bases differ and no rate is known."""
    if amount is None or tax_included == policy.tax_included:
        return amount
    if policy.tax_rate is None:
        return None
    return amount * (1 + policy.tax_rate) if policy.tax_included else amount / (1 + policy.tax_rate)


def _close(left: Decimal, right: Decimal, config: PublishConfig) -> bool:
    return abs(left - right) <= config.price_tolerance


def _channel_skus(conn: Connection, channels: list[str]) -> dict[str, set[str]]:
    """SKUs each channel lists (it has a price, a stock level or a product for them)."""
    listed: dict[str, set[str]] = {channel: set() for channel in channels}
    for table in (tables.prices, tables.stock_levels, tables.products):
        query = sa.select(table.c.source, table.c.sku).where(table.c.source.in_(channels)).distinct()
        for source, sku in conn.execute(query):
            listed[source].add(sku)
    return listed


# --- stock ---------------------------------------------------------------------------------------------------------


def desired_stock(conn: Connection, config: PublishConfig) -> list[DesiredStock]:
    """Every channel's available quantity per SKU and channel location: on hand less reserved less buffer."""
    owner = config.system_of_record("stock_levels")
    channels = config.channels_publishing("stock_levels")
    if owner is None or not channels:
        return []
    owned = _owner_stock(conn, owner)
    listed = _channel_skus(conn, list(channels))
    desired: list[DesiredStock] = []
    for channel, policy in channels.items():
        places = channel_locations(conn, config, channel, owned)
        totals: dict[tuple[str, str], Decimal] = {}
        for (sku, location), quantity in owned.items():
            target = places.get(location)
            if target is None or sku not in listed[channel]:
                continue
            totals[(sku, target)] = totals.get((sku, target), ZERO) + quantity
        for (sku, location), quantity in sorted(totals.items()):
            available = max(ZERO, quantity - policy.stock_buffer)
            desired.append(DesiredStock(channel=channel, sku=sku, location=location, available=available))
    return desired


def channel_locations(
    conn: Connection, config: PublishConfig, channel: str, owned: dict[tuple[str, str], Decimal] | None = None
) -> dict[str, str]:
    """System-of-record location -> channel location: the configured map, else the one the stock agrees with most.

    Each channel location is matched to the owner location whose available quantities it repeats for most SKUs
    (at least half of them); a channel with a single location and no such match receives the sum of all locations.
    """
    policy = config.channels[channel]
    if policy.locations:
        return dict(policy.locations)
    owner = config.system_of_record("stock_levels")
    if owner is None:
        return {}
    owned = owned if owned is not None else _owner_stock(conn, owner)
    s = tables.stock_levels
    shown: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in conn.execute(sa.select(s).where(s.c.source == channel)):
        shown[row.location][row.sku] = _shown_available(row)
    owner_places = sorted({location for _, location in owned})
    pairs = []
    for target, quantities in shown.items():
        for place in owner_places:
            common = [sku for sku in quantities if (sku, place) in owned]
            if not common:
                continue
            agree = sum(1 for sku in common if quantities[sku] == owned[(sku, place)])
            if agree / len(common) >= INFERENCE_MIN_AGREEMENT:
                pairs.append((-agree, target, place))
    mapping: dict[str, str] = {}
    matched: set[str] = set()
    for _, target, place in sorted(pairs):
        if place not in mapping and target not in matched:
            mapping[place] = target
            matched.add(target)
    if not mapping and len(shown) == 1:
        (target,) = shown
        mapping = {place: target for place in owner_places}
    return mapping


def _owner_stock(conn: Connection, owner: str) -> dict[tuple[str, str], Decimal]:
    """The system of record's available quantity (on hand less reserved) per SKU and location."""
    s = tables.stock_levels
    rows = conn.execute(sa.select(s.c.sku, s.c.location, s.c.on_hand, s.c.reserved).where(s.c.source == owner))
    return {(row.sku, row.location): available_quantity(row.on_hand, row.reserved) for row in rows}


def _shown_available(row: Any) -> Decimal:
    """What a channel's stock row offers for sale."""
    return row.available if row.available is not None else available_quantity(row.on_hand, row.reserved)


# --- promotions ----------------------------------------------------------------------------------------------------


def desired_promotions(conn: Connection, config: PublishConfig, now: datetime) -> list[DesiredPromotion]:
    """Every channel's promotions: live ones it is eligible for, and the ended ones it still holds, status at `now`."""
    owner = config.system_of_record("promotions")
    channels = config.channels_publishing("promotions")
    if owner is None or not channels:
        return []
    p = tables.promotions
    owned = {row.code: row for row in conn.execute(sa.select(p).where(p.c.source == owner).order_by(p.c.code))}
    held: dict[str, set[str]] = {channel: set() for channel in channels}
    for source, code in conn.execute(sa.select(p.c.source, p.c.code).where(p.c.source.in_(list(channels)))):
        held[source].add(code)
    flags = _owner_channel_flags(conn, owner)
    desired: list[DesiredPromotion] = []
    for channel, policy in channels.items():
        for code, row in owned.items():
            if not policy.allows_promotion(code) or not _eligible(row, code, channel, policy, flags):
                continue
            ends_at = whole_day_end(row.ends_at)
            status = "disabled" if row.status == "disabled" else promotion_status(row.starts_at, ends_at, now)
            if status in ("expired", "disabled") and code not in held[channel]:
                continue
            fixed = row.discount_type == "fixed_amount"
            desired.append(
                DesiredPromotion(
                    channel=channel,
                    code=code,
                    name=row.name,
                    discount_type=row.discount_type,
                    discount_value=row.discount_value,
                    currency=(row.currency or policy.currency) if fixed else None,
                    starts_at=row.starts_at,
                    ends_at=ends_at,
                    status=status,
                )
            )
    return desired


def _eligible(row: Any, code: str, channel: str, policy: ChannelPolicy, flags: dict[str, set[str]]) -> bool:
    """Whether a promotion is meant for a channel: its own channel list, else the owner's flags, else yes."""
    meant = set(row.channels or []) or flags.get(code, set())
    if not meant:
        return True
    return channel in meant or (policy.channel_kind is not None and policy.channel_kind in meant)


def _owner_channel_flags(conn: Connection, owner: str) -> dict[str, set[str]]:
    """Channel kinds per promotion code from the owner's raw loyalty programs (Odoo's ecommerce_ok and pos_ok).

    Used while the canonical promotion has no channel list; empty for owners that do not hold these flags.
    """
    r = tables.raw_records
    flags: dict[str, set[str]] = {}
    query = sa.select(r.c.payload).where(r.c.source == owner, r.c.stream == "loyalty_programs")
    for (payload,) in conn.execute(query):
        if not isinstance(payload, dict) or ("ecommerce_ok" not in payload and "pos_ok" not in payload):
            continue
        kinds = {kind for kind, key in (("web", "ecommerce_ok"), ("store", "pos_ok")) if payload.get(key)}
        for rule in payload.get("rules") or []:
            if isinstance(rule, dict) and rule.get("code"):
                flags[str(rule["code"]).strip()] = kinds or {"none"}
    return flags
