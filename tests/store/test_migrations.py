"""The schema is versioned: migrations build it from nothing and match the declared tables exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from canalis.store import Store
from canalis.store.migrate import current_revision, head_revision, load_all_tables
from canalis.store.schema import metadata

load_all_tables()


def _differences(store: Store) -> list:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(context, metadata)


def test_sqlite_migrates_from_empty_to_head(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    assert current_revision(store.engine) is None
    store.migrate()
    assert current_revision(store.engine) == head_revision()
    assert set(metadata.tables) <= set(sa.inspect(store.engine).get_table_names())


def test_migrations_match_declared_tables_on_sqlite(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    assert _differences(store) == []


def test_postgres_migrates_and_matches_declared_tables(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.migrate()
    assert current_revision(store.engine) == head_revision()
    assert _differences(store) == []


def test_migrate_twice_is_a_no_op_and_keeps_data(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    with store.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sync_state (connector, stream, cursor, updated_at) VALUES ('c', 's', '{}', '2026-01-01')"
            )
        )
    store.migrate()
    assert store.get_state("c", "s") == {}


def test_store_repr_hides_password() -> None:
    store = Store("postgresql+psycopg://canalis:hunter2@db.example:5432/canalis")
    assert "hunter2" not in repr(store)
    assert "hunter2" not in store.display_url
