"""Tombstones: records a source deleted or archived leave the raw landing table and are kept as tombstones until
the canonical pass has removed the rows they fed.

A record reported deleted keeps its last stored version in the tombstone (the canonical pass maps it once more
to know which rows to remove). A record that comes back (restored, unarchived) lands again and loses its
tombstone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.sdk.streams import Deletion
from canalis.store import tables

CHUNK = 500


def bury(
    conn: Connection,
    source: str,
    stream: str,
    deletions: Sequence[Deletion],
    payloads: dict[str, Any],
    now: datetime,
    run_id: str | None,
) -> int:
    """Turn deleted records into tombstones, moving their stored version out of the raw table; how many were new.

    `payloads` holds what the source sent with a deletion (used when the record was never stored). A record
    already buried is left as it is.
    """
    by_id = {deletion.record_id: deletion for deletion in deletions}
    ids = sorted(by_id)
    raw, tomb = tables.raw_records, tables.source_deletions
    buried: set[str] = set()
    stored: dict[str, Any] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        buried.update(
            conn.execute(
                sa.select(tomb.c.record_id).where(
                    tomb.c.source == source, tomb.c.stream == stream, tomb.c.record_id.in_(chunk)
                )
            ).scalars()
        )
        stored.update(
            conn.execute(
                sa.select(raw.c.record_id, raw.c.payload).where(
                    raw.c.source == source, raw.c.stream == stream, raw.c.record_id.in_(chunk)
                )
            ).all()
        )
        conn.execute(sa.delete(raw).where(raw.c.source == source, raw.c.stream == stream, raw.c.record_id.in_(chunk)))
    rows = []
    for record_id in ids:
        if record_id in buried:
            continue
        payload = stored.get(record_id, payloads.get(record_id))
        rows.append(
            {
                "source": source,
                "stream": stream,
                "record_id": record_id,
                "kind": by_id[record_id].kind,
                "payload": payload,
                "detected_at": now,
                # a record never stored fed nothing: there is nothing left to remove
                "applied_at": None if payload is not None else now,
                "run_id": run_id,
            }
        )
    if rows:
        conn.execute(sa.insert(tomb), rows)
    return len(rows)


def has_tombstones(conn: Connection, source: str, stream: str) -> bool:
    """Whether the stream has any tombstone (records landing again then lose theirs)."""
    tomb = tables.source_deletions
    query = sa.select(tomb.c.record_id).where(tomb.c.source == source, tomb.c.stream == stream).limit(1)
    return conn.execute(query).first() is not None


def unbury(conn: Connection, source: str, stream: str, record_ids: Iterable[str]) -> None:
    """Forget the tombstones of records that landed again."""
    ids = sorted(set(record_ids))
    tomb = tables.source_deletions
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            sa.delete(tomb).where(
                tomb.c.source == source, tomb.c.stream == stream, tomb.c.record_id.in_(ids[start : start + CHUNK])
            )
        )


def stored_ids(conn: Connection, source: str, stream: str) -> set[str]:
    """The ids of a stream's records in the raw table."""
    raw = tables.raw_records
    query = sa.select(raw.c.record_id).where(raw.c.source == source, raw.c.stream == stream)
    return set(conn.execute(query).scalars())
