"""Hand-made canonical rows for KPI tests: customers with their source records, interactions and orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert

from canalis.store import tables
from tests.store.identities import hold_record

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LOADED = datetime(2025, 12, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """T0 plus n days."""
    return T0 + timedelta(days=n)


class Canonical:
    """Writes canonical rows with every required column filled, so tests say only what matters."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.count = 0

    def customer(self, customer_id: str, *record_keys: str) -> None:
        """A unified customer and the source records resolved to it."""
        self.conn.execute(
            insert(tables.customers).values(
                customer_id=customer_id, record_count=max(1, len(record_keys)), created_at=LOADED, updated_at=LOADED
            )
        )
        for record_key in record_keys:
            hold_record(self.conn, record_key, customer_id, LOADED)

    def interaction(self, customer_id: str | None, channel: str, kind: str, at: datetime, **fields: Any) -> str:
        """One interaction; `source` defaults to 'src', the key to a running number."""
        self.count += 1
        key = fields.pop("key", f"i{self.count}")
        source = fields.pop("source", "src")
        self.conn.execute(
            insert(tables.interactions).values(
                interaction_key=key,
                source=source,
                object="events",
                source_id=key,
                customer_id=customer_id,
                channel=channel,
                kind=kind,
                occurred_at=at,
                is_complaint=fields.pop("is_complaint", False),
                loaded_at=LOADED,
                content_hash=key,
                **fields,
            )
        )
        return key

    def order(
        self,
        record_key: str | None,
        channel: str,
        amount: str | None,
        currency: str | None = "EUR",
        status: str = "paid",
        at: datetime = T0,
    ) -> str:
        """One order of a source customer record."""
        self.count += 1
        key = f"o{self.count}"
        self.conn.execute(
            insert(tables.orders).values(
                order_key=key,
                source=(record_key or "src:x:x").split(":")[0],
                source_id=key,
                customer_record_key=record_key,
                channel=channel,
                ordered_at=at,
                status=status,
                total_amount=Decimal(amount) if amount is not None else None,
                currency=currency,
                loaded_at=LOADED,
                content_hash=key,
            )
        )
        return key
