"""Which announced writes are unsettled (their last audit row is `sending`), and what a read-back value says of one;
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.publishing.reconcile import APPLIED, NOT_APPLIED, UNKNOWN, outcome, unresolved_keys
from canalis.store import Store, tables


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'audit.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def _rows(*trail: tuple[str, str]) -> list[dict]:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    return [
        {"channel": "web", "entity_type": "prices", "entity_key": key, "field": "amount", "status": status,
         "idempotency_key": key, "created_at": now}
        for key, status in trail
    ]  # fmt: skip


def test_a_write_is_unsettled_while_its_last_row_is_sending(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(
            sa.insert(tables.write_audit),
            _rows(
                ("settled", "sending"),
                ("settled", "applied"),
                ("resent", "sending"),
                ("resent", "not applied"),
                ("resent", "sending"),  # sent again, then the run died
                ("lost", "sending"),
                ("answered-unknown", "sending"),
                ("answered-unknown", "unknown"),
            ),
        )
    with store.engine.connect() as conn:
        assert unresolved_keys(conn) == {"resent", "lost"}
        assert unresolved_keys(conn, ["lost", "settled"]) == {"lost"}
        assert unresolved_keys(conn, []) == set()


@pytest.mark.parametrize(
    ("current", "expected"),
    [(Decimal("12.90"), APPLIED), (Decimal("10.00"), NOT_APPLIED), (Decimal("11.00"), UNKNOWN), (None, UNKNOWN)],
)
def test_the_value_read_back_tells_the_outcome(current: Decimal | None, expected: str) -> None:
    assert outcome("amount", current, "10.00", Decimal("12.90"), Decimal("0.001")) == expected
