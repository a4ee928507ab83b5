"""Customers edited in the channels after generation: which records change, and how their timestamps move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from canalis.sandbox.objectstore import ObjectStore, format_timestamp
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sandbox.world.changes import CUSTOMER_TYPES, change_customers, restamp

PINNED = datetime(2026, 1, 15, 9, tzinfo=UTC)
LATER = datetime(2026, 1, 16, 8, 30, 15, 250000, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ObjectStore]:
    generate_world(WorldSpec(customers=300, now=PINNED), tmp_path)
    store = ObjectStore(store_path(tmp_path))
    yield store
    store.close()


def test_restamp_keeps_each_vendor_format_and_leaves_other_fields() -> None:
    payload = {
        "id": "1",
        "updatedAt": "2026-01-01T10:00:00.123Z",
        "properties": {"hs_lastmodifieddate": "2026-01-01T10:00:00.123Z", "createdate": "2025-01-01T10:00:00.000Z"},
        "LastModifiedDate": "2026-01-01T10:00:00.000+0000",
        "write_date": "2026-01-01 10:00:00",
        "modifiedAt": "2026-01-01T11:00:00.000+01:00",
        "last_changed": "2026-01-01T10:00:00+00:00",
        "updated_at": "2026-01-01T10:00:00Z",
    }
    assert restamp(payload, LATER) == 7
    assert payload["updatedAt"] == "2026-01-16T08:30:15.250Z"
    assert payload["properties"] == {
        "hs_lastmodifieddate": "2026-01-16T08:30:15.250Z",
        "createdate": "2025-01-01T10:00:00.000Z",
    }
    assert payload["LastModifiedDate"] == "2026-01-16T08:30:15.250+0000"
    assert payload["write_date"] == "2026-01-16 08:30:15"
    assert payload["modifiedAt"] == "2026-01-16T09:30:15.250+01:00"
    assert payload["last_changed"] == "2026-01-16T08:30:15+00:00"
    assert payload["updated_at"] == "2026-01-16T08:30:15Z"


def test_change_customers_moves_one_in_n_of_each_vendor_and_nothing_else(world: ObjectStore) -> None:
    before = {(s, t): {o.object_id: o for o in world.iter_all(s, t)} for s, t in CUSTOMER_TYPES}
    orders_before = [o.payload for o in world.iter_all("shopify", "orders")]
    counts = change_customers(world, 0.1, LATER)
    stamp = format_timestamp(LATER)
    for (system, object_type), objects in before.items():
        after = {o.object_id: o for o in world.iter_all(system, object_type)}
        changed = {oid for oid, stored in after.items() if stored.updated_at == stamp}
        expected = {oid for oid, stored in objects.items() if stored.seq % 10 == 0}
        assert changed == expected, system
        assert counts[system] == len(expected) and len(expected) >= len(objects) // 10 - 1
        for oid in changed:
            assert after[oid].payload != objects[oid].payload, (system, oid)
            assert after[oid].seq == objects[oid].seq
        assert all(after[oid].payload == objects[oid].payload for oid in set(objects) - changed)
    assert [o.payload for o in world.iter_all("shopify", "orders")] == orders_before


def test_change_customers_refuses_a_share_outside_zero_to_one(world: ObjectStore) -> None:
    with pytest.raises(ValueError, match="share"):
        change_customers(world, 0, LATER)
