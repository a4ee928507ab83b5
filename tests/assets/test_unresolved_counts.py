"""The unresolved-share check's counts: singletons and customer records that no customer holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assets.unified import unresolved_counts
from canalis.store import Store, tables
from tests.store.identities import hold_record

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path) -> Store:
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    return store


def test_counts_singletons_and_records_no_customer_holds(store: Store) -> None:
    held = {"crm:customers:1": "cu_a", "shop:customers:1": "cu_a", "pos:customers:7": "cu_b"}
    with store.begin() as conn:
        for key in [*held, "erp:customers:9"]:
            source, obj, source_id = key.split(":")
            conn.execute(
                tables.customer_records.insert().values(
                    record_key=key, source=source, object=obj, source_id=source_id, loaded_at=NOW, content_hash=key
                )
            )
        for key, customer_id in held.items():
            hold_record(conn, key, customer_id, NOW)
        assert unresolved_counts(conn) == (3, 1, 1)
    store.engine.dispose()
