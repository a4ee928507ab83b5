"""The publish plan: every field where a channel differs from what it should show, and the records that fix it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.publishing.desired import (
    DesiredPrice,
    DesiredPromotion,
    DesiredStock,
    desired_prices,
    desired_promotions,
    desired_stock,
)
from canalis.publishing.observed import observed_prices, observed_promotions, observed_stock
from canalis.publishing.policy import PublishConfig
from canalis.store import tables

if TYPE_CHECKING:
    from canalis.publishing.consent_scope import ConsentScope

ENTITIES = ("prices", "stock_levels", "promotions", "consents")
PRICE_FIELDS = ("amount", "compare_at_amount")
PROMOTION_FIELDS = ("name", "discount_type", "discount_value", "currency", "starts_at", "ends_at", "status")
DAY_FIELDS = ("starts_at", "ends_at")

WriteKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Change:
    """One field of one channel record that Canalis will set."""

    channel: str
    entity: str
    key: str
    field: str
    old: Any
    new: Any
    reason: str


@dataclass
class Plan:
    """Field changes in a stable order, with the whole record to write for each changed key."""

    now: datetime
    changes: list[Change] = field(default_factory=list)
    records: dict[WriteKey, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, changes: list[Change], record: dict[str, Any]) -> None:
        """Plan a record's changed fields (nothing when no field changed)."""
        if not changes:
            return
        first = changes[0]
        self.changes.extend(changes)
        self.records[(first.channel, first.entity, first.key)] = record

    def sort(self) -> Plan:
        """Order changes by channel, entity, key and field so equal plans read the same."""
        self.changes.sort(key=lambda c: (c.channel, c.entity, c.key, c.field))
        self.records = dict(sorted(self.records.items()))
        return self

    def only(self, *entities: str) -> Plan:
        """The part of the plan about some entities."""
        kept = [change for change in self.changes if change.entity in entities]
        records = {key: record for key, record in self.records.items() if key[1] in entities}
        return Plan(self.now, kept, records, list(self.notes))

    def counts(self) -> dict[str, Counter[str]]:
        """Changed fields per channel and entity."""
        counts: dict[str, Counter[str]] = {}
        for change in self.changes:
            counts.setdefault(change.channel, Counter())[change.entity] += 1
        return counts

    def __len__(self) -> int:
        return len(self.changes)


def build_plan(
    conn: Connection,
    config: PublishConfig,
    now: datetime | None = None,
    entities: tuple[str, ...] = ENTITIES,
    *,
    written: Written | None = None,
    consent_scope: ConsentScope | None = None,
) -> Plan:
    """Compare what each channel shows with what it should show and list the differences, in a stable order.

    With a consent scope, consents are worked out again only for its customers (see `canalis.publishing.consent_scope`).
    """
    now = now or datetime.now(UTC)
    plan = Plan(now)
    written = written if written is not None else last_written(conn)
    if "prices" in entities:
        _plan_prices(plan, desired_prices(conn, config, now), observed_prices(conn, config), config, written)
    if "stock_levels" in entities:
        _plan_stock(plan, desired_stock(conn, config), observed_stock(conn, config), written)
    if "promotions" in entities:
        observed = observed_promotions(conn, config, now)
        _plan_promotions(plan, desired_promotions(conn, config, now), observed, written)
    if "consents" in entities:
        from canalis.publishing.suppression import plan_consents

        plan_consents(plan, conn, config, written, consent_scope)
    return plan.sort()


def price_key(sku: str) -> str:
    """The plan key of a channel price."""
    return sku


def stock_key(sku: str, location: str) -> str:
    """The plan key of a channel stock level."""
    return f"{sku}@{location}"


def same(field_name: str, old: Any, new: Any, tolerance: Decimal = Decimal(0)) -> bool:
    """Whether a channel value already matches the wanted one, after normalisation."""
    if old is None or new is None:
        return old is None and new is None
    if isinstance(new, Decimal) or isinstance(old, Decimal):
        try:
            return abs(Decimal(str(old)) - Decimal(str(new))) <= tolerance
        except ArithmeticError:
            return False
    if field_name in DAY_FIELDS and isinstance(old, datetime) and isinstance(new, datetime):
        return old.astimezone(UTC).date() == new.astimezone(UTC).date()
    return old == new


def display(value: Any) -> str | None:
    """A value as text for plans and audit rows."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


@dataclass
class Written:
    """What Canalis last wrote per (channel, entity, key, field), and when each channel was last read."""

    values: dict[tuple[str, str, str, str], tuple[str | None, datetime]] = field(default_factory=dict)
    read_at: dict[str, datetime] = field(default_factory=dict)

    def value(self, change_key: tuple[str, str, str, str]) -> tuple[bool, str | None]:
        """Whether Canalis wrote this field, and the value it wrote."""
        found = self.values.get(change_key)
        return (found is not None, found[0] if found else None)

    def pending(self, change_key: tuple[str, str, str, str], new: Any) -> bool:
        """Whether this very value was written after the channel was last read: the store has not seen it yet."""
        found = self.values.get(change_key)
        if found is None or found[0] != display(new):
            return False
        read = self.read_at.get(change_key[0])
        return read is None or found[1] > read


def last_written(conn: Connection) -> Written:
    """The last value Canalis applied per field, from the write audit, and the last read of each channel."""
    a = tables.write_audit
    query = (
        sa.select(a.c.channel, a.c.entity_type, a.c.entity_key, a.c.field, a.c.new_value, a.c.created_at)
        .where(a.c.status.in_(("applied", "unchanged")))
        .order_by(a.c.audit_id)
    )
    written = Written()
    for row in conn.execute(query):
        written.values[(row[0], row[1], row[2], row[3] or "")] = (row[4], row[5])
    state = tables.sync_state
    query = sa.select(state.c.connector, sa.func.max(state.c.updated_at)).group_by(state.c.connector)
    for source, read_at in conn.execute(query):
        if read_at is not None:
            written.read_at[source] = _aware(read_at)
    return written


def _aware(value: datetime | str) -> datetime:
    """A max() over a timestamp column, which SQLite returns as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reason_for(written: Written, change_key: tuple[str, str, str, str], old: Any) -> str:
    """Why a field of an existing record is planned: the owner changed since Canalis wrote it, or a channel edit."""
    wrote, value = written.value(change_key)
    if wrote and value == display(old):
        return "system of record changed"
    return "channel edit"


def _diff(
    channel: str,
    entity: str,
    key: str,
    pairs: list[tuple[str, Any, Any]],
    written: Written,
    exists: bool,
    tolerance: Decimal = Decimal(0),
) -> list[Change]:
    changes = []
    for name, old, new in pairs:
        if same(name, old, new, tolerance if name in PRICE_FIELDS else Decimal(0)):
            continue
        if written.pending((channel, entity, key, name), new):
            continue  # written by an earlier run that the store has not read back yet
        reason = reason_for(written, (channel, entity, key, name), old) if exists else "missing in channel"
        changes.append(Change(channel, entity, key, name, old, new, reason))
    return changes


def _plan_prices(
    plan: Plan,
    desired: list[DesiredPrice],
    observed: dict[tuple[str, str], DesiredPrice],
    config: PublishConfig,
    written: Written,
) -> None:
    for want in desired:
        have = observed.get((want.channel, want.sku))
        pairs = [("amount", have.amount if have else None, want.amount)]
        if want.compare_at_amount is not None:  # a compare-at price is published only when the owner holds one
            pairs.append(("compare_at_amount", have.compare_at_amount if have else None, want.compare_at_amount))
        key = price_key(want.sku)
        changes = _diff(want.channel, "prices", key, pairs, written, have is not None, config.price_tolerance)
        record = {
            "key": key,
            "sku": want.sku,
            "amount": want.amount,
            "compare_at_amount": want.compare_at_amount,
            "currency": want.currency,
        }
        plan.add(changes, record)


def _plan_stock(
    plan: Plan,
    desired: list[DesiredStock],
    observed: dict[tuple[str, str, str], DesiredStock],
    written: Written,
) -> None:
    for want in desired:
        have = observed.get((want.channel, want.sku, want.location))
        key = stock_key(want.sku, want.location)
        pairs = [("available", have.available if have else None, want.available)]
        changes = _diff(want.channel, "stock_levels", key, pairs, written, have is not None)
        record = {"key": key, "sku": want.sku, "location": want.location, "available": want.available}
        plan.add(changes, record)


def _plan_promotions(
    plan: Plan,
    desired: list[DesiredPromotion],
    observed: dict[tuple[str, str], DesiredPromotion],
    written: Written,
) -> None:
    for want in desired:
        have = observed.get((want.channel, want.code))
        pairs = [(name, getattr(have, name) if have else None, getattr(want, name)) for name in PROMOTION_FIELDS]
        if have is None:
            pairs = [(name, None, new) for name, _, new in pairs if new is not None]
        changes = _diff(want.channel, "promotions", want.code, pairs, written, have is not None)
        record = {
            "key": want.code,
            "code": want.code,
            "name": want.name,
            "discount_type": want.discount_type,
            "discount_value": want.discount_value,
            "currency": want.currency,
            "starts_at": want.starts_at,
            "ends_at": want.ends_at,
            "status": want.status,
        }
        plan.add(changes, record)
