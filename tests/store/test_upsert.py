"""Idempotent upserts with change counts, exact money and UTC timestamps, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from canalis.store import Store, tables


def _price(amount: str, *, key: str = "shop:SKU-1:web", hash_: str | None = None) -> dict:
    return {
        "price_key": key,
        "source": "shop",
        "sku": key.split(":")[1],
        "price_list": "web",
        "amount": Decimal(amount),
        "currency": "EUR",
        "tax_included": True,
        "loaded_at": datetime(2026, 1, 1, tzinfo=UTC),
        "content_hash": hash_ or f"h-{amount}",
    }


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path) -> Store:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'u.db'}")
    else:
        store = Store(request.getfixturevalue("postgres_url"))
    store.migrate()
    return store


def test_upsert_counts_inserts_updates_and_unchanged(any_store: Store) -> None:
    first = any_store.upsert(tables.prices, [_price("19.90"), _price("5.00", key="shop:SKU-2:web")])
    again = any_store.upsert(tables.prices, [_price("19.90"), _price("5.00", key="shop:SKU-2:web")])
    changed = any_store.upsert(tables.prices, [_price("18.00")])

    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 0)
    assert any_store.count(tables.prices) == 2


def test_money_round_trips_exactly(any_store: Store) -> None:
    any_store.upsert(tables.prices, [_price("0.10"), _price("1234567.8901", key="shop:SKU-9:web")])
    with any_store.engine.connect() as conn:
        amounts = dict(conn.execute(sa.select(tables.prices.c.sku, tables.prices.c.amount)).all())
    assert amounts["SKU-1"] == Decimal("0.10")
    assert amounts["SKU-9"] == Decimal("1234567.8901")
    assert all(isinstance(value, Decimal) for value in amounts.values())


def test_timestamps_come_back_aware_utc(any_store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    row = _price("3.00")
    row["valid_from"] = datetime(2026, 3, 1, 9, 30, tzinfo=paris)
    any_store.upsert(tables.prices, [row])
    with any_store.engine.connect() as conn:
        stored = conn.execute(sa.select(tables.prices.c.valid_from)).scalar_one()
    assert stored.tzinfo is not None
    assert stored == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def test_naive_timestamp_and_float_money_are_refused(store: Store) -> None:
    naive = _price("1.00")
    naive["loaded_at"] = datetime(2026, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        store.upsert(tables.prices, [naive])
    floating = _price("1.00")
    floating["amount"] = 1.1
    with pytest.raises(sa.exc.StatementError, match="float refused"):
        store.upsert(tables.prices, [floating])


def test_duplicate_keys_in_one_batch_keep_the_last(any_store: Store) -> None:
    counts = any_store.upsert(tables.prices, [_price("1.00"), _price("2.00")])
    assert counts.inserted == 1
    with any_store.engine.connect() as conn:
        assert conn.execute(sa.select(tables.prices.c.amount)).scalar_one() == Decimal("2.00")


def test_keep_on_update_preserves_first_seen(store: Store) -> None:
    def raw(seen: datetime, payload: dict) -> dict:
        return {
            "source": "s",
            "stream": "x",
            "record_id": "1",
            "batch_id": 1,
            "cursor_value": None,
            "payload": payload,
            "content_hash": str(payload),
            "first_seen_at": seen,
            "last_seen_at": seen,
        }

    day1, day2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    store.upsert(tables.raw_records, [raw(day1, {"a": 1})], keep_on_update=("first_seen_at",))
    store.upsert(tables.raw_records, [raw(day2, {"a": 2})], keep_on_update=("first_seen_at",))
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(tables.raw_records)).one()
    assert row.first_seen_at == day1
    assert row.last_seen_at == day2
    assert row.payload == {"a": 2}


def test_large_batches_span_chunks(store: Store) -> None:
    rows = [_price("1.00", key=f"shop:SKU-{n}:web") for n in range(1234)]
    assert store.upsert(tables.prices, rows).inserted == 1234
    assert store.upsert(tables.prices, rows).unchanged == 1234


def test_columns_left_out_get_their_default_and_a_missing_value_is_an_error(any_store: Store) -> None:
    without_tax_flag = {key: value for key, value in _price("3.00").items() if key != "tax_included"}
    any_store.upsert(tables.prices, [without_tax_flag])
    with any_store.engine.connect() as conn:
        assert conn.execute(sa.select(tables.prices.c.tax_included)).scalar_one() is True
    ragged = [
        _price("4.00", key="shop:SKU-4:web"),
        {k: v for k, v in _price("5.00", key="shop:SKU-5:web").items() if k != "currency"},
    ]
    with pytest.raises(sa.exc.StatementError, match="no value for column 'currency'"):
        any_store.upsert(tables.prices, ragged)
    assert any_store.count(tables.prices) == 1  # the failed batch wrote nothing


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_a_json_none_is_stored_as_sqlalchemy_stores_it(request, server: str) -> None:
    store = Store(request.getfixturevalue(server))
    store.migrate()
    t = tables.products
    row = {
        "product_key": "p1",
        "source": "shop",
        "source_id": "1",
        "sku": "SKU-1",
        "attributes": None,
        "is_active": True,
        "loaded_at": datetime(2026, 1, 1, tzinfo=UTC),
        "content_hash": "h1",
    }
    store.upsert(t, [row])
    with store.begin() as conn:
        conn.execute(t.insert(), [dict(row, product_key="p2")])  # SQLAlchemy's own path
        stored = dict(conn.execute(sa.select(t.c.product_key, t.c.attributes.is_(None))).all())
    assert stored["p1"] == stored["p2"]


def _statements(store: Store) -> list[str]:
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_stored_keys_are_found_among_new_ones_in_batches_of_any_size(any_store: Store) -> None:
    # stored keys are every even number, as text (so "10" sorts before "9"), plus an accented one
    stored = [_price("1.00", key=f"shop:{n}:web") for n in range(0, 200, 2)] + [_price("1.00", key="shop:é:web")]
    any_store.upsert(tables.prices, stored)
    statements = _statements(any_store)

    # odd keys lie between stored ones; two stored ones change, one does not (35 keys: the lookup pads to 64)
    mixed = [_price("1.00", key=f"shop:{n}:web") for n in range(1, 62, 2)]
    mixed += [_price("2.00", key="shop:10:web"), _price("2.00", key="shop:é:web"), _price("1.00", key="shop:4:web")]
    mixed += [_price("1.00", key="shop:z:web")]
    counts = any_store.upsert(tables.prices, mixed)
    again = any_store.upsert(tables.prices, mixed[:1])

    assert (counts.inserted, counts.updated, counts.unchanged) == (32, 2, 1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert any_store.count(tables.prices) == 101 + 32
    lookups = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and " IN " in sql.upper()]
    assert len(lookups) == 2, "one lookup statement per batch"


def test_sqlite_timestamps_are_written_as_sqlalchemy_writes_them() -> None:
    from sqlalchemy.dialects import sqlite

    from canalis.store.types import UTCDateTime

    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    reference = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    paris = timezone(timedelta(hours=1))
    moments = [
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=paris),  # 2025-12-31 23:00 in UTC
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ]
    for moment in moments:
        assert ours(moment) == reference(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(moments[1]) == "2025-12-31 23:00:00.000000"
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        ours(datetime(2026, 1, 1))


def test_sqlite_dates_and_json_are_written_as_sqlalchemy_writes_them() -> None:
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.types import TypeDecorator

    from canalis.store.types import CalendarDate, JSONDoc, JSONText

    dialect = sqlite.dialect()
    ours = CalendarDate().dialect_impl(dialect).bind_processor(dialect)
    reference = sa.Date().dialect_impl(dialect).bind_processor(dialect)

    class Birthday(date):
        pass

    for day in [date(1990, 1, 2), date(5, 6, 7), date(9999, 12, 31), Birthday(2001, 2, 3), None]:
        assert ours(day) == reference(day)
    assert ours(date(5, 6, 7)) == "0005-06-07"

    impl = JSONDoc().dialect_impl(dialect)
    ours_json = impl.bind_processor(dialect)
    reference_json = TypeDecorator.bind_processor(impl, dialect)  # process_bind_param through the decorator
    documents = [None, {}, [], {"b": 1, "a": [1, Decimal("2.50")]}, {"when": datetime(2026, 1, 1, tzinfo=UTC)}, "x"]
    for document in [*documents, JSONText('{"kept":"as is"}')]:
        assert ours_json(document) == reference_json(document)
    assert ours_json({}) == "{}" and ours_json(None) is None


def test_rows_convert_to_the_same_values_on_the_fast_path_and_one_by_one() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from canalis.store.upsert import PreparedWrite

    loaded = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "record_key": f"shop:customers:{n}",
            "source": "shop",
            "object": "customers",
            "source_id": str(n),
            "email": None if n % 3 else f"c{n}@example.org",
            "birth_date": None if n % 2 else datetime(1990, 1, 1 + n).date(),
            "external_ids": {"pos": str(n)} if n % 2 else {},
            "attributes": None if n == 4 else {"tier": "gold", "n": n},
            "source_updated_at": datetime(2026, 1, 1, n, tzinfo=timezone(timedelta(hours=1))),
            "loaded_at": loaded,  # the same object on every row
            "content_hash": f"h{n}",
        }
        for n in range(6)
    ]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        write = PreparedWrite.compile(sa.insert(tables.customer_records), dialect, list(rows[0]))
        fast, one_by_one = write.values(rows), write._values_one_by_one(rows)
        # the driver's JSON wrappers (PostgreSQL) compare by identity: compare what they hold, through repr
        assert [list(map(repr, row)) for row in fast] == [list(map(repr, row)) for row in one_by_one]
        assert len(fast) == 6 and fast[1][write.keys.index("source_id")] == "1"
