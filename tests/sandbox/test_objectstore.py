"""The sandbox object store: writes, paging, filters, ids, state, restart and threads."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from canalis.sandbox.objectstore import ObjectStore, TruthInconsistency

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _stamp(n: int) -> str:
    return f"2025-01-{1 + n // 24:02d}T{n % 24:02d}:00:00.000Z"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    with ObjectStore(tmp_path / "store.db") as opened:
        yield opened


def test_put_keeps_created_at_and_seq_of_an_existing_row(store: ObjectStore) -> None:
    first = store.put("shopify", "customers", "a", {"v": 1}, updated_at="2025-01-01T00:00:00.000Z")
    store.put("shopify", "customers", "b", {"v": 1})
    again = store.put("shopify", "customers", "a", {"v": 2})
    assert again["seq"] == first["seq"] == 1
    assert again["created_at"] == "2025-01-01T00:00:00.000Z"
    assert STAMP.match(again["updated_at"]) and again["updated_at"] > first["updated_at"]
    assert store.get("shopify", "customers", "a") == {"v": 2}
    assert store.get("shopify", "customers", "missing") is None
    assert store.delete("shopify", "customers", "a") is True
    assert store.delete("shopify", "customers", "a") is False
    assert store.count("shopify", "customers") == 1


def test_put_many_streams_batches_and_numbers_rows_in_order(store: ObjectStore) -> None:
    rows = ((f"id{n:03d}", _stamp(n), {"n": n}) for n in range(250))
    assert store.put_many("hubspot", "contacts", rows, batch_size=40) == 250
    seqs = [o.seq for o in store.iter_all("hubspot", "contacts", batch_size=33)]
    assert seqs == list(range(1, 251))
    store.put_many("hubspot", "contacts", [("id000", _stamp(300), {"n": "new"}, "2024-01-01T00:00:00.000Z")])
    replaced = store.get_object("hubspot", "contacts", "id000")
    assert replaced is not None and replaced.seq == 1 and replaced.payload == {"n": "new"}
    assert store.count("hubspot", "contacts") == 250
    assert store.put("hubspot", "contacts", "fresh", {})["seq"] == 252


def test_page_by_seq_and_filters(store: ObjectStore) -> None:
    store.put_many("square", "customers", [(f"c{n}", _stamp(n), {"n": n}) for n in range(100)])
    page = store.page("square", "customers", limit=10)
    assert [o.object_id for o in page] == [f"c{n}" for n in range(10)]
    page2 = store.page("square", "customers", after_seq=page[-1].seq, limit=10)
    assert [o.object_id for o in page2] == [f"c{n}" for n in range(10, 20)]
    since, before = _stamp(30), _stamp(40)
    window = store.page("square", "customers", limit=100, updated_since=since, updated_before=before)
    assert [o.payload["n"] for o in window] == list(range(30, 40))
    assert store.count("square", "customers", updated_since=since, updated_before=before) == 10
    assert store.count("square", "customers", updated_since=since) == 70
    assert store.count("square", "customers", after_seq=95) == 5
    assert store.count("square", "other") == 0


def test_page_by_updated_at_visits_every_row_once_with_ties(store: ObjectStore) -> None:
    rows = [(f"o{n:02d}", _stamp(n // 3), {"n": n}) for n in range(60)]
    store.put_many("odoo", "res.partner", reversed(rows))
    seen: list[str] = []
    after: tuple[str, str] | None = None
    while page := store.page("odoo", "res.partner", limit=7, order_by="updated_at", after_updated=after):
        seen += [o.object_id for o in page]
        after = (page[-1].updated_at, page[-1].object_id)
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 60
    with pytest.raises(ValueError, match="order_by"):
        store.page("odoo", "res.partner", limit=1, order_by="name")  # type: ignore[arg-type]


def test_next_numeric_id_starts_above_stored_ids_and_increases(store: ObjectStore) -> None:
    store.put_many("shopify", "customers", [(f"gid://shopify/Customer/{n}", _stamp(1), {}) for n in (5, 17, 9)])
    assert store.next_numeric_id("shopify", "customers") == 18
    assert store.next_numeric_id("shopify", "customers") == 19
    store.set_last_numeric_id("brevo", "contacts", 500)
    assert store.next_numeric_id("brevo", "contacts") == 501
    assert store.next_numeric_id("odoo", "sale.order") == 1


def test_kv_state(store: ObjectStore) -> None:
    assert store.kv_get("idem:abc") is None
    assert store.kv_get("idem:abc", {}) == {}
    store.kv_put("idem:abc", {"status": "done", "ids": [1, 2]})
    assert store.kv_get("idem:abc") == {"status": "done", "ids": [1, 2]}
    store.kv_delete("idem:abc")
    assert store.kv_get("idem:abc") is None


def test_truth_tables(store: ObjectStore) -> None:
    store.put_truth_records([("salesforce", "Contact", "003A", "P1"), ("hubspot", "contacts", "12", "P1")])
    store.put_truth_inconsistencies([TruthInconsistency("INC-1", "price_mismatch", "SKU-1", ["odoo"], {"a": 1})])
    assert store.truth_person("hubspot", "contacts", "12") == "P1"
    assert store.truth_records_of("P1") == [("hubspot", "contacts", "12"), ("salesforce", "Contact", "003A")]
    assert store.count_truth_records() == 2
    assert [i.as_dict() for i in store.truth_inconsistencies("price_mismatch")] == [
        {"id": "INC-1", "kind": "price_mismatch", "entity": "SKU-1", "channels": ["odoo"], "details": {"a": 1}}
    ]
    assert store.truth_inconsistencies("consent_conflict") == []


def test_restart_keeps_state(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    with ObjectStore(path) as first:
        first.put("brevo", "contacts", "1", {"email": "a@b.fr"})
        first.kv_put("bulk:1", "running")
        first.next_numeric_id("brevo", "contacts")
    with ObjectStore(path) as second:
        assert second.get("brevo", "contacts", "1") == {"email": "a@b.fr"}
        assert second.kv_get("bulk:1") == "running"
        assert second.put("brevo", "contacts", "2", {})["seq"] == 2
        assert second.next_numeric_id("brevo", "contacts") == 3


def test_threads_write_and_read_concurrently(store: ObjectStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(100):
                store.put("square", "orders", f"w{worker}-{n}", {"w": worker})
                if n % 10 == 0:
                    store.put_many("square", "counts", [(f"w{worker}-{n}-{k}", _stamp(k), {}) for k in range(5)])
                    store.page("square", "orders", limit=5)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    orders = list(store.iter_all("square", "orders"))
    assert len(orders) == 800
    assert sorted(o.seq for o in orders) == list(range(1, 801))
    assert store.count("square", "counts") == 8 * 10 * 5


def test_square_keyset_pages_in_creation_order_walk_an_index(store: ObjectStore) -> None:
    """A page after the first reads on from its position through an index, not by sorting every row again
    (which made a full read of N customers cost N pages x N rows)."""
    import sqlite3

    from canalis.sandbox.emulators.square.queries import Filter, Ordering, StoreQueries

    store.put_many("square", "customers", [(str(n), _stamp(n % 5), {"id": str(n)}) for n in range(50)])
    where = Filter()
    where.add("updated_at >= ?", "2000-01-01T00:00:00Z")
    ordering = Ordering("created_at")
    queries = StoreQueries(store.path)
    seen = [payload["id"] for _, payload in queries.rows("customers", where, ordering, None, batch=7)]
    assert sorted(seen) == sorted(str(n) for n in range(50)) and len(seen) == 50
    keys = ", ".join(ordering.key_columns())
    sql = (
        f"EXPLAIN QUERY PLAN SELECT {keys}, payload FROM objects WHERE system = 'square' AND "
        f"object_type = 'customers' AND updated_at >= '2000' AND ({keys}) > ('2000', '') ORDER BY {keys} LIMIT 7"
    )
    plan = " ".join(str(row) for row in sqlite3.connect(store.path).execute(sql).fetchall())
    assert "objects_by_created" in plan and "TEMP B-TREE" not in plan
