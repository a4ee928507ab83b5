"""Alembic environment: migrations run against the engine Canalis hands over."""

from __future__ import annotations

from alembic import context

import mappings.store.tables
from mappings.store.database import create_store_engine, default_database_url
from mappings.store.schema import metadata

try:  # tables of optional parts register themselves on the same metadata
    import mappings.identity.tables  # noqa: F401
except ImportError:  # pragma: no cover - identity tables ship with Canalis
    pass

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
