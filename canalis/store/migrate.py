"""Schema migrations with Alembic, run programmatically so users upgrade in place with one call."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from canalis.store.locks import store_lock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations and the given engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database does not have yet; processes starting together migrate one at a time."""
    with store_lock(engine, "migrate"):
        command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of Canalis."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def autogenerate_revision(message: str, revision_id: str) -> None:
    """Write a new migration comparing the declared tables with a database migrated to the current head.

    For maintainers: `python -m canalis.store.migrate "what changed" 0003`.
    """
    import tempfile

    from canalis.store.database import create_store_engine

    load_all_tables()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{folder}/head.db")
        upgrade_to_head(engine)
        command.revision(alembic_config(engine), message=message, autogenerate=True, rev_id=revision_id)
        engine.dispose()


def load_all_tables() -> None:
    """Import every module that declares tables on the shared metadata."""
    import canalis.consistency.tables
    import canalis.identity.tables
    import canalis.privacy.tables
    import canalis.publishing.suppression
    import canalis.publishing.tables
    import canalis.store.tables  # noqa: F401


if __name__ == "__main__":
    import sys

    autogenerate_revision(sys.argv[1], sys.argv[2])
