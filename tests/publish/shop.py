"""A shop channel on hand-made canonical rows, and a vendor that keeps what it is sent: for the plan tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa

from canalis.publishing import ChannelPolicy, PublishConfig
from canalis.publishing.apply import apply_stored_plan
from canalis.publishing.plans import propose_plan
from canalis.sdk import CheckResult, Connector, ConnectorSettings, WriteOnlyStream, WriteResult
from canalis.store import Store, tables

NOW = datetime(2026, 1, 15, 9, tzinfo=UTC)
D = Decimal


def config(**options: Any) -> PublishConfig:
    options = {"mode": "apply", **options}
    return PublishConfig(
        systems_of_record={"prices": "erp", "stock_levels": "erp", "promotions": "erp"},
        channels={"shop": ChannelPolicy(publish=["prices"])},
        **options,
    )


def price(store: Store, source: str, sku: str, amount: str, price_list: str = "Public") -> None:
    row = {
        "price_key": f"{source}:{sku}:{price_list}",
        "source": source,
        "sku": sku,
        "price_list": price_list,
        "amount": D(amount),
        "currency": "EUR",
        "loaded_at": NOW,
        "content_hash": f"{source}{sku}{amount}",
    }
    with store.begin() as conn:
        conn.execute(sa.delete(tables.prices).where(tables.prices.c.price_key == row["price_key"]))
        conn.execute(sa.insert(tables.prices).values(**row))


def stock_shop(store: Store) -> Store:
    """The system of record and a shop that shows two of three prices wrong."""
    for sku, erp, shop_price in (("A-1", "10.00", "9.00"), ("B-2", "20.00", "20.00"), ("C-3", "5.00", "4.50")):
        price(store, "erp", sku, erp)
        price(store, "shop", sku, shop_price)
    return store


def propose(store: Store, config: PublishConfig, now: datetime = NOW):
    with store.begin() as conn:
        return propose_plan(conn, config, created_by="tests", now=now)


class Prices(WriteOnlyStream):
    name = "prices"


class Vendor(Connector):
    """A channel that keeps what it is sent, and can stop (a killed run) after some calls."""

    name = "vendor"
    kind = "ecommerce"
    settings_model = ConnectorSettings
    streams = (Prices,)
    write_batch_size: ClassVar = staticmethod(lambda stream: 1)

    def __init__(self, *, stop_after: int | None = None, lose_reply_after: int | None = None) -> None:
        super().__init__(ConnectorSettings(), connection="shop")
        self.prices: dict[str, Decimal] = {}
        self.calls: list[list[str]] = []
        self.stop_after, self.lose_reply_after = stop_after, lose_reply_after

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message="fine")

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        records = list(records)
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt("the run was killed before this call")
        self.calls.append([record["key"] for record in records])
        for record in records:
            self.prices[record["key"]] = record["amount"]
        if self.lose_reply_after is not None and len(self.calls) > self.lose_reply_after:
            raise KeyboardInterrupt("the run was killed after the vendor applied the call, before its reply")
        return iter([WriteResult(record["key"], "applied") for record in records])


def apply(store: Store, config: PublishConfig, plan_id: str, vendor: Vendor, **options: Any):
    return apply_stored_plan(store, config, plan_id, {"shop": vendor}, {}, run_id="run-1", now=NOW, **options)
