"""Children are records too: a malformed list item quarantines itself under its parent's id, the parent's good
parts land, and the entry stays open until the parent maps whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from canalis.canonical.canonicalize import canonicalize_entities
from canalis.connectors.file_drop import FileDropConnector
from canalis.ingest.stream import ingest_stream
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.store import Store, tables

MAPPING = {
    "mapping": "nested",
    "connector": "file_drop",
    "streams": {
        "orders": {
            "strict": True,
            "targets": [
                {
                    "entity": "order",
                    "fields": {
                        "source_id": {"from": "id", "required": True},
                        "channel": {"context": "channel"},
                        "ordered_at": {"from": "ordered_at", "transforms": ["datetime"], "required": True},
                        "total_amount": {"from": "total", "transforms": ["decimal"]},
                        "currency": {"from": "currency", "transforms": ["upper"]},
                    },
                },
                {
                    "entity": "order_line",
                    "each": "lines",
                    "fields": {
                        "order_source_id": {"from": "id", "required": True},
                        "line_id": {"from": "item.id", "required": True},
                        "sku": {"from": "item.sku", "transforms": ["trim"]},
                        "quantity": {"from": "item.quantity", "transforms": ["decimal"], "default": 1},
                        "unit_price": {"from": "item.price_unit", "transforms": ["decimal"]},
                        "currency": {"from": "currency", "transforms": ["upper"]},
                    },
                },
            ],
        }
    },
}
ENTITIES = ["order", "order_line"]


def _order(number: int, lines: list[dict]) -> dict:
    return {
        "id": f"O{number}",
        "ordered_at": "2026-10-01T10:00:00Z",
        "total": "30.00",
        "currency": "EUR",
        "lines": lines,
    }


GOOD_LINES = [
    {"id": 1, "sku": "SKU-A", "quantity": "1", "price_unit": "10.00"},
    {"id": 2, "sku": "SKU-B", "quantity": "2", "price_unit": "10.00"},
]


def _sync(tmp_path: Path, store: Store, orders: list[dict]) -> Mapper:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    (folder / "orders.jsonl").write_text("".join(json.dumps(order) + "\n" for order in orders), encoding="utf-8")
    mapping = tmp_path / "nested.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(folder)}, connection="shop")
    ingest_stream(store, connector, "orders")
    mapper = Mapper(load_mapping(mapping), connection="shop", channel="web")
    canonicalize_entities(store, {"shop": mapper}, ENTITIES)
    return mapper


def _lines(store: Store) -> dict[str, tuple]:
    ol = tables.order_lines
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(ol.c.order_line_key, ol.c.sku, ol.c.quantity, ol.c.unit_price)).all()
    return {row.order_line_key: (row.sku, row.quantity, row.unit_price) for row in rows}


def _entries(store: Store) -> list[sa.Row]:
    q = tables.quarantine
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(q.c.source, q.c.stream, q.c.stage, q.c.record_id, q.c.field, q.c.error, q.c.resolved_at)
        ).all()


def test_a_malformed_line_quarantines_itself_under_its_order_and_the_rest_lands(tmp_path: Path, store: Store) -> None:
    broken = [*GOOD_LINES, {"id": 3, "sku": "SKU-C", "quantity": "1", "price_unit": "ten"}, {"id": 4}]
    _sync(tmp_path, store, [_order(1, broken), _order(2, GOOD_LINES)])

    assert store.count(tables.orders) == 2  # the incomplete order's header lands
    lines = _lines(store)
    assert set(lines) == {f"shop:orders:O{n}:{line}" for n in (1, 2) for line in (1, 2)}
    assert not any(sku is None and price is None for sku, _, price in lines.values())  # no garbage line

    (entry,) = _entries(store)
    assert (entry.source, entry.stream, entry.stage, entry.record_id) == ("shop", "orders", "map", "O1")
    assert entry.field == "lines[2].price_unit"
    assert "incomplete" in entry.error and "'ten' is not a number" in entry.error
    assert "lines[3]: " in entry.error and "needs a SKU or a unit price" in entry.error
    assert entry.resolved_at is None


def test_the_entry_is_resolved_once_the_order_maps_whole(tmp_path: Path, store: Store) -> None:
    broken = [*GOOD_LINES, {"id": 3, "sku": "SKU-C", "quantity": "-4", "price_unit": "5"}]
    _sync(tmp_path, store, [_order(1, broken)])
    assert store.open_quarantine_count() == 1
    assert "negative" in _entries(store)[0].error

    fixed = [*GOOD_LINES, {"id": 3, "sku": "SKU-C", "quantity": "4", "price_unit": "5"}]
    _sync(tmp_path, store, [_order(1, fixed)])
    assert store.open_quarantine_count() == 0
    assert _entries(store)[0].resolved_at is not None
    assert _lines(store)["shop:orders:O1:3"][0] == "SKU-C"


def test_a_line_broken_again_reopens_the_entry(tmp_path: Path, store: Store) -> None:
    _sync(tmp_path, store, [_order(1, GOOD_LINES)])
    assert store.open_quarantine_count() == 0
    _sync(tmp_path, store, [{**_order(1, [*GOOD_LINES, {"id": 3, "sku": "", "price_unit": None}]), "total": "31"}])
    (entry,) = _entries(store)
    assert entry.resolved_at is None and entry.field == "lines[2]" and entry.record_id == "O1"


def test_a_pass_over_the_orders_alone_leaves_an_incomplete_order_open(tmp_path: Path, store: Store) -> None:
    mapper = _sync(tmp_path, store, [_order(1, [*GOOD_LINES, {"id": 3, "sku": "SKU-C", "price_unit": "x"}])])
    assert store.open_quarantine_count() == 1
    canonicalize_entities(store, {"shop": mapper}, ["order"], full=True)  # maps the header, not the lines
    assert store.open_quarantine_count() == 1


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_out_of_range_values_are_quarantined_on_a_server_database_too(tmp_path: Path, request, server: str) -> None:
    store = Store(request.getfixturevalue(server))
    store.migrate()
    huge = [*GOOD_LINES, {"id": 3, "sku": "SKU-C", "quantity": "1", "price_unit": "100000000000000"}]
    _sync(tmp_path, store, [{**_order(1, GOOD_LINES), "total": "1e400"}, _order(2, huge), _order(3, GOOD_LINES)])
    assert _keys(store) == {"shop:orders:O2", "shop:orders:O3"}  # NUMERIC(18, 4) would have refused the insert
    assert len(_lines(store)) == 4
    fields = {entry.record_id: entry.field for entry in _entries(store)}
    assert fields == {"O1": "total_amount", "O2": "lines[2].price_unit"}


def _keys(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(tables.orders.c.order_key)).scalars())
