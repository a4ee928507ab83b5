"""Fixtures for the consistency tests: a store with the inconsistencies table, and builders of canonical rows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from canalis.consistency import CONSISTENCY_TABLES
from canalis.store import Store, tables
from canalis.store.schema import metadata
from tests.store.identities import hold_record

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def cstore(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store holding the inconsistencies table too, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'consistency.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    metadata.create_all(store.engine, tables=CONSISTENCY_TABLES)
    yield store
    store.engine.dispose()


def _stamp(row: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()
    return {"loaded_at": NOW, "content_hash": digest, **row}


class Canon:
    """Writes small hand-made canonical rows into a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def customer(self, customer_id: str, source: str, source_id: str, **fields: Any) -> str:
        """A source record of a unified customer; returns its record key."""
        obj = fields.pop("object", "customers")
        key = f"{source}:{obj}:{source_id}"
        with self.store.begin() as conn:
            conn.execute(
                tables.customer_records.insert().values(
                    **_stamp({"record_key": key, "source": source, "object": obj, "source_id": source_id, **fields})
                )
            )
            hold_record(conn, key, customer_id, NOW)
        return key

    def consent(self, record_key: str, status: str, purpose: str = "marketing", channel: str = "email") -> None:
        source = record_key.split(":", 1)[0]
        with self.store.begin() as conn:
            conn.execute(
                tables.consents.insert().values(
                    consent_key=f"{record_key}:{purpose}:{channel}",
                    record_key=record_key,
                    source=source,
                    purpose=purpose,
                    channel=channel,
                    status=status,
                    recorded_at=NOW,
                    updated_at=NOW,
                )
            )

    def case(self, record_key: str, source_id: str, status: str, *, complaint: bool = True) -> None:
        source = record_key.split(":", 1)[0]
        with self.store.begin() as conn:
            conn.execute(
                tables.interactions.insert().values(
                    **_stamp(
                        {
                            "interaction_key": f"{source}:cases:{source_id}",
                            "source": source,
                            "object": "cases",
                            "source_id": source_id,
                            "customer_record_key": record_key,
                            "channel": "crm",
                            "kind": "case",
                            "occurred_at": NOW,
                            "status": status,
                            "subject": "Colis abîmé",
                            "is_complaint": complaint,
                        }
                    )
                )
            )

    def price(self, source: str, sku: str, price_list: str, amount: str, currency: str = "EUR") -> None:
        with self.store.begin() as conn:
            conn.execute(
                tables.prices.insert().values(
                    **_stamp(
                        {
                            "price_key": f"{source}:{sku}:{price_list}",
                            "source": source,
                            "sku": sku,
                            "price_list": price_list,
                            "amount": Decimal(amount),
                            "currency": currency,
                        }
                    )
                )
            )

    def stock(self, source: str, sku: str, location: str, on_hand: int, reserved: int = 0, available=None) -> None:
        with self.store.begin() as conn:
            conn.execute(
                tables.stock_levels.insert().values(
                    **_stamp(
                        {
                            "stock_key": f"{source}:{sku}:{location}",
                            "source": source,
                            "sku": sku,
                            "location": location,
                            "on_hand": Decimal(on_hand),
                            "reserved": Decimal(reserved),
                            "available": Decimal(on_hand - reserved if available is None else available),
                        }
                    )
                )
            )

    def promotion(self, source: str, code: str, value: str, starts: datetime, ends: datetime | None, **extra) -> None:
        row = {
            "promotion_key": f"{source}:{code}",
            "source": source,
            "code": code,
            "name": code.title(),
            "discount_type": "percentage",
            "discount_value": Decimal(value),
            "channels": [],
            "starts_at": starts,
            "ends_at": ends,
            "status": "active",
            **extra,
        }
        with self.store.begin() as conn:
            conn.execute(tables.promotions.insert().values(**_stamp(row)))


@pytest.fixture
def canon(cstore: Store) -> Canon:
    """Builders of canonical rows in the test store."""
    return Canon(cstore)


@pytest.fixture
def now() -> datetime:
    """The fixed clock of the consistency tests."""
    return NOW
