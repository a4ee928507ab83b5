"""Where the store lives: the database URL, engine creation and dialect tuning."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DATABASE_URL_ENV = "CANALIS_DATABASE_URL"
HOME_ENV = "CANALIS_HOME"


def canalis_home() -> Path:
    """The folder holding the embedded store and the connections file: CANALIS_HOME, DAGSTER_HOME or ./dagster_home."""
    home = os.environ.get(HOME_ENV) or os.environ.get("DAGSTER_HOME") or "dagster_home"
    return Path(home).resolve()


def default_database_url() -> str:
    """The database URL in force: CANALIS_DATABASE_URL, else SQLite under the Canalis home."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{canalis_home() / 'canalis.db'}"


def safe_url(url: str) -> str:
    """The URL with any password hidden, for logs and metadata."""
    return make_url(url).render_as_string(hide_password=True)


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the dialect: WAL and a busy timeout on SQLite, pre-ping on servers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # 16 KiB pages make index inserts cheaper (fewer splits); this only takes effect on a new, empty database
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A 64 MiB page cache per connection keeps the indexes being loaded in memory (the default is 2 MiB).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()
