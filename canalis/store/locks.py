"""Locks held through the store, so processes sharing a store take turns whoever started them (CLI, UI,
schedules, workers): a file lock beside a SQLite file, an advisory lock on PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger("canalis.store")

_ADVISORY = {
    "postgresql": (
        "SELECT pg_advisory_lock(:key)",
        "SELECT pg_try_advisory_lock(:key)",
        "SELECT pg_advisory_unlock(:key)",
    ),
    "mysql": (
        "SELECT GET_LOCK(CONCAT('canalis_', :key), 86400)",
        "SELECT GET_LOCK(CONCAT('canalis_', :key), 0)",
        "SELECT RELEASE_LOCK(CONCAT('canalis_', :key))",
    ),
}


def lock_key(name: str) -> int:
    """A stable signed 63-bit key for a lock name (advisory locks take integers)."""
    return int.from_bytes(hashlib.sha256(f"canalis:{name}".encode()).digest()[:8], "big") >> 1


@contextmanager
def store_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock called `name` on this store for the length of the block, waiting for it when it is taken."""
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        folder = Path(f"{database}.locks")
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock", "a") as handle:
            if not _try(lambda: fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)):
                log.info("waiting for %s, held by another process", name)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    statements = _ADVISORY.get(backend)
    if statements is None:
        yield
        return
    key = lock_key(name)
    with engine.connect() as connection:
        if not connection.execute(text(statements[1]), {"key": key}).scalar():
            log.info("waiting for %s, held by another process", name)
            started = time.monotonic()
            connection.execute(text(statements[0]), {"key": key})
            log.info("got %s after %.1f s", name, time.monotonic() - started)
        try:
            yield
        finally:
            connection.execute(text(statements[2]), {"key": key})
            connection.commit()


def _try(action) -> bool:
    try:
        action()
    except BlockingIOError:
        return False
    return True
