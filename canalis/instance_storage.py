"""Dagster's embedded SQLite storage, with an event log that keeps its database connections open.

Dagster's SQLite event log opens a new engine and connection for every event it writes, commits it with an fsync
and closes it; closing the last connection to a WAL database checkpoints it and removes the WAL file (more
fsyncs). A `canalis run` writes about 600 events (75 steps, their outputs, materializations and checks), and that
was most of its time outside the steps. Here each database (one per run, plus the index) keeps one engine and a
small connection pool for the life of the process, and commits with `synchronous=NORMAL`: in WAL mode a commit is
durable when the process dies, and the database is never corrupted; only the last commits may be lost if the
machine itself loses power.

Live views of a run keep working: Dagster's UI watches a run's database file for changes, and with connections
left open the writes land in its WAL file first, so the watch here follows both files.

`dagster_home/dagster.yaml` selects it with `storage: custom:`; the files are where Dagster's default puts them
($DAGSTER_HOME/history and schedules), so an existing home keeps its history.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from watchdog.events import FileSystemEvent

OPEN_DATABASES = 8  # engines kept per process: the index and the runs being written or watched
BUSY_TIMEOUT_SECONDS = 30


def _sqlite_engine(conn_string: str) -> Engine:
    engine = create_engine(conn_string, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, pool_size=2)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log, one engine per database kept open (the newest few)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> SqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = _sqlite_engine(create_db_conn_string(self._base_dir, shard))
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        from watchdog.observers import Observer

        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _RunDatabaseWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class _RunDatabaseWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watch of a run's database, following its WAL file too."""

    def __init__(self, storage: SqliteEventLogStorage, run_id: str, callback: Any, cursor: str | None):
        super().__init__(storage, run_id, callback, cursor)
        self._patterns = [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: FileSystemEvent) -> None:
        self._process_log()


class CanalisSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, events, schedules under $DAGSTER_HOME), with the pooled event log."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        base_dir = base_dir or os.environ.get("DAGSTER_HOME")
        if not base_dir:
            raise ValueError("CanalisSqliteStorage keeps its files under DAGSTER_HOME: set it, or set base_dir")
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> CanalisSqliteStorage:
        base_dir = config_value.get("base_dir")
        if base_dir:
            os.makedirs(base_dir, exist_ok=True)
        return cls(base_dir, inst_data=inst_data)
