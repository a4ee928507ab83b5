"""The store analyses a PostgreSQL table it fills in bulk, so key lookups are planned from real statistics."""

from __future__ import annotations

import time

import sqlalchemy as sa

from canalis.store import Store, statistics, tables
from tests.store.prices import numbered_price


def _prices(start: int, count: int) -> list[dict]:
    return [numbered_price(n) for n in range(start, start + count)]


def _counted(store: Store) -> float:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('prices')")).scalar_one()


def test_a_table_filled_in_bulk_is_analysed_as_it_grows(postgres_url: str) -> None:
    statistics.forget()
    store = Store(postgres_url)
    store.migrate()
    store.upsert(tables.prices, _prices(0, 400))
    assert _counted(store) <= 0  # below the threshold: left to the server

    store.upsert(tables.prices, _prices(400, 800))
    assert _counted(store) == 1_200  # past 1,000 inserted rows: analysed, every row counted

    store.upsert(tables.prices, _prices(0, 1_200))  # nothing inserted (all unchanged): no new analysis
    store.upsert(tables.prices, _prices(1_200, 500))  # 500 < 1,000 + half of 1,200
    assert _counted(store) == 1_200
    store.upsert(tables.prices, _prices(1_700, 1_200))  # 1,700 inserted since: analysed again
    assert _counted(store) == 2_900
    store.engine.dispose()


def test_other_databases_are_left_alone(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    with store.engine.begin() as conn:
        assert statistics.note_inserted(conn, tables.prices, 50_000) is False


def _wait_for_counters(store: Store, table: str, changed: int) -> None:
    """The server's counters take a writer's rows when it flushes its statistics (within about a second)."""
    deadline = time.monotonic() + 10
    query = sa.text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = to_regclass(:t)")
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            if (conn.execute(query, {"t": table}).scalar() or 0) >= changed:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server never counted {changed} changed rows of {table}")


def test_tables_changed_by_many_rows_are_analysed_after_a_step(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.migrate()
    with store.begin() as conn:
        conn.execute(sa.insert(tables.prices), _prices(0, 3_000))  # written without the upsert's counting
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
    _wait_for_counters(store, "prices", 3_000)

    assert store.analyze_written() == ["prices"]
    assert _counted(store) == 3_000
    assert store.analyze_written() == []  # nothing changed since
    store.engine.dispose()


def test_leaving_a_store_lock_analyses_what_the_step_wrote(tmp_path, monkeypatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    calls: list[str] = []
    monkeypatch.setattr(Store, "analyze_written", lambda self: calls.append("analysed") or [])
    with store.lock("identity"):
        assert calls == []
    assert calls == ["analysed"]
