"""The canonical store: one object over the database with migrations, upserts, quarantine and sync state."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from canalis.sdk.errors import CanalisError
from canalis.store import tables
from canalis.store.database import create_store_engine, default_database_url, safe_url
from canalis.store.locks import store_lock
from canalis.store.migrate import upgrade_to_head
from canalis.store.statistics import analyze_due
from canalis.store.upsert import UpsertCounts, upsert

log = logging.getLogger("canalis.store")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class StaleStateError(CanalisError):
    """Another run saved a stream's state while this read was going on: this read's work is not kept."""

    def __init__(self, connector: str, stream: str) -> None:
        super().__init__(
            f"{connector}.{stream}: another run saved this stream's cursor while this one was reading; "
            "this read stops without saving (nothing is lost: the other run's cursor stands)"
        )
        self.connector = connector
        self.stream = stream


@dataclass(frozen=True)
class QuarantinedRecord:
    """A record that could not go further, with the reason; nothing is dropped silently."""

    source: str
    stream: str
    stage: str
    error: str
    record_id: str | None = None
    payload: Any = None
    field: str | None = None
    window_cursor: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.stream}:{self.stage}:{self.record_id or '?'}"[:500]


class Store:
    """The canonical store on SQLite (default) or PostgreSQL (`CANALIS_DATABASE_URL`)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = url or default_database_url()
        self.engine = engine or create_store_engine(self.url)

    def __repr__(self) -> str:
        return f"Store({safe_url(self.url)!r})"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return safe_url(self.url)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it on an empty database)."""
        upgrade_to_head(self.engine)

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A lock on this store shared by every process using it: one holder at a time (see `store_lock`). The
        step holding it writes in bulk: on leaving, tables it changed enough are analysed (`analyze_written`)."""
        with store_lock(self.engine, name):
            yield
        self.analyze_written()

    def analyze_written(self) -> list[str]:
        """Analyse the store's tables changed by many rows since their last analysis (PostgreSQL; see
        `canalis.store.statistics`). Steps call it after writing in bulk; it costs one query when nothing is due."""
        return analyze_due(self.engine, tables.metadata.tables)

    def close(self) -> None:
        """Close the store's connection pool; connections checked out later open a new one."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def begin(self, *, immediate: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success.

        `immediate`: on SQLite, take the write lock when the transaction starts (waiting up to the busy timeout)
        instead of at its first write. A transaction that reads (or fills a temporary table from the store) and then
        writes must ask for it: begun lazily, its first write fails at once with "database is locked" when another
        process committed since it started reading, since its snapshot can no longer become a write. Other
        databases ignore it."""
        if not immediate or self.engine.dialect.name != "sqlite":
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def upsert(self, table: Table, rows: Iterable[dict[str, Any]], **options: Any) -> UpsertCounts:
        """Upsert rows in their own transaction."""
        with self.begin() as connection:
            return upsert(connection, table, rows, **options)

    # --- quarantine ---------------------------------------------------------------------------

    def quarantine(self, connection: Connection, records: Iterable[QuarantinedRecord]) -> int:
        """Record failures; a record already quarantined gets its count and last-seen bumped and is open again,
        unless a person dismissed it (a dismissed entry is not retried, whatever happens to its record)."""
        now = utcnow()
        q = tables.quarantine
        count = 0
        for record in records:
            count += 1
            key = record.key
            existing = connection.execute(
                select(q.c.occurrences, q.c.window_cursor).where(q.c.quarantine_key == key)
            ).first()
            if existing is None:
                connection.execute(
                    insert(q).values(
                        quarantine_key=key,
                        source=record.source,
                        stream=record.stream,
                        stage=record.stage,
                        record_id=record.record_id,
                        payload=record.payload,
                        error=record.error,
                        field=record.field,
                        first_seen_at=now,
                        last_seen_at=now,
                        occurrences=1,
                        window_cursor=record.window_cursor,
                    )
                )
            else:
                connection.execute(
                    update(q)
                    .where(q.c.quarantine_key == key)
                    .values(
                        payload=record.payload,
                        error=record.error,
                        field=record.field,
                        last_seen_at=now,
                        occurrences=existing.occurrences + 1,
                        resolved_at=None,
                        # the earliest window still finds the record: a retry never moves it later
                        window_cursor=existing.window_cursor or record.window_cursor,
                    )
                )
        return count

    def resolve_quarantine(
        self, connection: Connection, source: str, stream: str, stage: str, record_ids: Iterable[str]
    ) -> None:
        """Mark quarantined records as resolved once a later version of them went through."""
        keys = [QuarantinedRecord(source, stream, stage, "", record_id=rid).key for rid in record_ids]
        q = tables.quarantine
        for start in range(0, len(keys), 500):
            connection.execute(
                update(q)
                .where(q.c.quarantine_key.in_(keys[start : start + 500]), tables.quarantine_open())
                .values(resolved_at=utcnow())
            )

    def resolve_landed(self, connection: Connection, source: str, stream: str, record_ids: Iterable[str]) -> int:
        """Close the open read-stage entries of records that have just landed; how many closed."""
        ids = sorted(set(record_ids))
        q = tables.quarantine
        closed = 0
        now = utcnow()
        for start in range(0, len(ids), 500):
            result = connection.execute(
                update(q)
                .where(
                    q.c.source == source,
                    q.c.stream == stream,
                    q.c.stage.in_(tables.READ_STAGES),
                    q.c.record_id.in_(ids[start : start + 500]),
                    tables.quarantine_open(),
                )
                .values(resolved_at=now)
            )
            closed += result.rowcount or 0
        return closed

    def resolve_superseded(
        self, connection: Connection, source: str, stream: str, prefixes: Iterable[str], since: datetime
    ) -> int:
        """Close open read-stage entries under record-id prefixes (`name` or `name:...`) last rejected before
        `since`: a read went through all of them again and did not reject them anew."""
        q = tables.quarantine
        closed = 0
        for prefix in prefixes:
            under = or_(q.c.record_id == prefix, q.c.record_id.startswith(f"{prefix}:", autoescape=True))
            result = connection.execute(
                update(q)
                .where(
                    q.c.source == source,
                    q.c.stream == stream,
                    q.c.stage.in_(tables.READ_STAGES),
                    under,
                    q.c.last_seen_at < since,
                    tables.quarantine_open(),
                )
                .values(resolved_at=utcnow())
            )
            closed += result.rowcount or 0
        return closed

    def close_landed_entries(self, source: str | None = None, stream: str | None = None) -> int:
        """Close open read-stage entries whose record has landed since it was last rejected (stale entries)."""
        q, raw = tables.quarantine, tables.raw_records
        landed_since = exists().where(
            raw.c.source == q.c.source,
            raw.c.stream == q.c.stream,
            raw.c.record_id == q.c.record_id,
            raw.c.last_seen_at > q.c.last_seen_at,
        )
        query = update(q).where(q.c.stage.in_(tables.READ_STAGES), q.c.record_id.is_not(None), tables.quarantine_open())
        if source is not None:
            query = query.where(q.c.source == source)
        if stream is not None:
            query = query.where(q.c.stream == stream)
        with self.begin() as connection:
            return connection.execute(query.where(landed_since).values(resolved_at=utcnow())).rowcount or 0

    def dismiss_quarantine(
        self, keys: Iterable[str] = (), *, source: str | None = None, stream: str | None = None
    ) -> list[str]:
        """A person closes open entries (by key, or all of a source or stream): they are no longer retried and
        no longer count. The keys dismissed; keys of entries not open are left alone."""
        q = tables.quarantine
        chosen = list(keys)
        if not chosen and source is None:
            raise CanalisError("name the entries to dismiss: their keys, or a source")
        query = select(q.c.quarantine_key).where(tables.quarantine_open())
        if chosen:
            query = query.where(q.c.quarantine_key.in_(chosen))
        if source is not None:
            query = query.where(q.c.source == source)
        if stream is not None:
            query = query.where(q.c.stream == stream)
        with self.begin() as connection:
            found = list(connection.execute(query.order_by(q.c.quarantine_key)).scalars())
            for start in range(0, len(found), 500):
                connection.execute(
                    update(q).where(q.c.quarantine_key.in_(found[start : start + 500])).values(dismissed_at=utcnow())
                )
        return found

    def has_open_quarantine(self, source: str, stream: str, stage: str | tuple[str, ...]) -> bool:
        """Whether any record of a stream waits in quarantine at a stage (so a success may resolve it)."""
        q = tables.quarantine
        stages = (stage,) if isinstance(stage, str) else stage
        query = (
            select(q.c.quarantine_key)
            .where(q.c.source == source, q.c.stream == stream, q.c.stage.in_(stages), tables.quarantine_open())
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def open_quarantine_count(self, source: str | None = None) -> int:
        """How many quarantined records are neither resolved nor dismissed."""
        q = tables.quarantine
        query = select(func.count()).select_from(q).where(tables.quarantine_open())
        if source is not None:
            query = query.where(q.c.source == source)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    # --- sync state -----------------------------------------------------------------------------

    def get_state(self, connector: str, stream: str) -> dict[str, Any] | None:
        """The stored cursor state of a stream, or None before its first sync."""
        return self.read_state(connector, stream)[0]

    def read_state(self, connector: str, stream: str) -> tuple[dict[str, Any] | None, int]:
        """The stored cursor state of a stream and its version (0 before the first save)."""
        s = tables.sync_state
        with self.engine.connect() as connection:
            row = connection.execute(
                select(s.c.cursor, s.c.version).where(s.c.connector == connector, s.c.stream == stream)
            ).first()
        return (row.cursor, row.version) if row else (None, 0)

    def save_state(
        self,
        connection: Connection,
        connector: str,
        stream: str,
        cursor: dict[str, Any],
        run_id: str | None,
        *,
        expected_version: int | None = None,
    ) -> int:
        """Store a stream's cursor state, inside the transaction that stored the records it covers; the new version.

        With `expected_version` (what `read_state` gave when the read began, then what each save returned), the
        state is saved only if no other run saved one in between; otherwise StaleStateError, and the caller's
        transaction, records included, is rolled back: the other run's cursor stands.
        """
        s = tables.sync_state
        values = {"cursor": cursor, "updated_at": utcnow(), "run_id": run_id}
        where = (s.c.connector == connector) & (s.c.stream == stream)
        if expected_version is None:
            current = connection.execute(select(s.c.version).where(where)).scalar()
            if current is None:
                connection.execute(insert(s).values(connector=connector, stream=stream, version=1, **values))
                return 1
            connection.execute(update(s).where(where).values(version=current + 1, **values))
            return current + 1
        if expected_version == 0:
            exists = connection.execute(select(s.c.version).where(where)).scalar()
            if exists is None:
                try:
                    connection.execute(insert(s).values(connector=connector, stream=stream, version=1, **values))
                except IntegrityError:  # another run saved the first state in the meantime
                    raise StaleStateError(connector, stream) from None
                return 1
        else:
            result = connection.execute(
                update(s).where(where & (s.c.version == expected_version)).values(version=s.c.version + 1, **values)
            )
            if result.rowcount == 1:
                return expected_version + 1
        raise StaleStateError(connector, stream)

    def clear_state(self, connector: str, stream: str | None = None) -> None:
        """Forget cursors so the next read starts from the beginning."""
        s = tables.sync_state
        condition = s.c.connector == connector
        if stream is not None:
            condition = condition & (s.c.stream == stream)
        with self.begin() as connection:
            connection.execute(s.delete().where(condition))

    # --- load batches ---------------------------------------------------------------------------

    def new_batch(self, connection: Connection, source: str, stream: str, run_id: str | None) -> int:
        """Open a load batch; raw records written in it carry its id so later steps read only what changed."""
        result = connection.execute(
            insert(tables.load_batches).values(source=source, stream=stream, run_id=run_id, started_at=utcnow())
        )
        return int(result.inserted_primary_key[0])

    def finish_batch(self, batch_id: int) -> None:
        """Mark a load batch as complete: no more records will be written in it."""
        b = tables.load_batches
        with self.begin() as connection:
            connection.execute(update(b).where(b.c.batch_id == batch_id).values(finished_at=utcnow()))

    def open_batch(self, source: str, stream: str) -> int | None:
        """The batch a read of the stream is still writing, if any: its newest batch, when not finished.

        An older unfinished batch belongs to a read that was killed; the newer read superseded it.
        """
        b = tables.load_batches
        query = (
            select(b.c.batch_id, b.c.finished_at)
            .where(b.c.source == source, b.c.stream == stream)
            .order_by(b.c.batch_id.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            newest = connection.execute(query).first()
        return newest.batch_id if newest is not None and newest.finished_at is None else None

    def count(self, table: Table, **equals: Any) -> int:
        """Rows in a table, optionally filtered by column equality."""
        query = select(func.count()).select_from(table)
        for name, value in equals.items():
            query = query.where(table.c[name] == value)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
