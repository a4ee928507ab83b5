"""Alembic environment: migrations run against the engine Canalis hands over."""

from __future__ import annotations

from alembic import context

from canalis.store.database import create_store_engine, default_database_url
from canalis.store.migrate import load_all_tables
from canalis.store.schema import metadata

load_all_tables()
config = context.config
engine = config.attributes.get("engine") or create_store_engine(default_database_url())

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
