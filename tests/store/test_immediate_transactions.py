"""A transaction that reads, then writes, keeps working when another process commits in between (SQLite)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from canalis.store import Store, tables
from tests.store.prices import numbered_price


def _price(n: int) -> dict:
    return numbered_price(n)


def _read_then_write(store: Store, other: Store, *, immediate: bool) -> list[BaseException]:
    """Fill a temporary table from the store, let another writer commit, then write: the errors either met."""
    errors: list[BaseException] = []

    def other_writer() -> None:
        try:
            other.upsert(tables.prices, [_price(2)])
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=other_writer)
    try:
        with store.begin(immediate=immediate) as conn:
            conn.exec_driver_sql("CREATE TEMP TABLE scope AS SELECT price_key FROM prices WHERE 0")
            conn.exec_driver_sql("INSERT INTO scope SELECT price_key FROM prices")  # reads the store
            writer.start()
            writer.join(timeout=1.0 if immediate else 10.0)  # with the lock held, the other writer waits
            conn.execute(sa.update(tables.prices).values(amount=Decimal("8.00")))
    except OperationalError as error:
        errors.append(error)
    writer.join(timeout=30)
    return errors


@pytest.fixture
def stores(tmp_path) -> tuple[Store, Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store, other = Store(url), Store(url)
    store.migrate()
    store.upsert(tables.prices, [_price(1)])
    return store, other


def test_a_lazy_transaction_cannot_write_after_another_commit(stores: tuple[Store, Store]) -> None:
    errors = _read_then_write(*stores, immediate=False)
    assert any("locked" in str(error) for error in errors)


def test_an_immediate_transaction_holds_the_lock_and_both_writes_land(stores: tuple[Store, Store]) -> None:
    store, other = stores
    assert _read_then_write(store, other, immediate=True) == []
    with store.engine.connect() as conn:
        amounts = dict(conn.execute(sa.select(tables.prices.c.sku, tables.prices.c.amount)).all())
    assert amounts == {"SKU-1": Decimal("8.00"), "SKU-2": Decimal("9.90")}
