"""Quarantine keeps every failure with its reason; sync state is stored per connector and stream."""

from __future__ import annotations

import sqlalchemy as sa

from canalis.store import QuarantinedRecord, Store, tables


def test_quarantine_counts_occurrences_and_resolves(store: Store) -> None:
    failure = QuarantinedRecord("shop", "orders", "map", "bad amount", record_id="7", payload={"total": "x"})
    with store.begin() as conn:
        store.quarantine(conn, [failure])
    with store.begin() as conn:
        store.quarantine(conn, [failure])
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(tables.quarantine)).one()
    assert row.occurrences == 2
    assert row.payload == {"total": "x"}
    assert row.error == "bad amount"
    assert store.open_quarantine_count() == 1

    with store.begin() as conn:
        store.resolve_quarantine(conn, "shop", "orders", "map", ["7"])
    assert store.open_quarantine_count() == 0
    assert store.open_quarantine_count("other") == 0


def test_state_round_trip_and_clear(store: Store) -> None:
    assert store.get_state("crm", "contacts") is None
    with store.begin() as conn:
        store.save_state(conn, "crm", "contacts", {"cursor": "2026-01-01T00:00:00+00:00"}, "run-1")
        store.save_state(conn, "crm", "contacts", {"cursor": "2026-02-01T00:00:00+00:00"}, "run-2")
    assert store.get_state("crm", "contacts") == {"cursor": "2026-02-01T00:00:00+00:00"}
    store.clear_state("crm")
    assert store.get_state("crm", "contacts") is None


def test_state_is_rolled_back_with_its_records(store: Store) -> None:
    try:
        with store.begin() as conn:
            store.save_state(conn, "crm", "contacts", {"cursor": "x"}, None)
            raise RuntimeError("records failed to store")
    except RuntimeError:
        pass
    assert store.get_state("crm", "contacts") is None
