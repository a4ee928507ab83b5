"""Removing what deleted source records fed: each tombstone's last version is mapped once more, and the rows it
gave (customer records and their contact points and consents, orders and their lines, interactions, products,
prices, stock levels, promotions) are deleted. Identity resolution then sees the customer records gone and
updates the golden records and links.
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.canonical.chunks import map_chunk
from canalis.canonical.entities import ENTITIES, REPLACED_WITH_PARENT, TABLES
from canalis.mappings.declarative.engine import Mapper
from canalis.store import Store, tables, utcnow

CHUNK = 500


def apply_tombstones(store: Store, mapper: Mapper, stream: str) -> Counter[str]:
    """Delete the canonical rows fed by the stream's tombstones not applied yet; rows removed per table."""
    tomb = tables.source_deletions
    connection = mapper.connection
    entities = [entity for entity in ENTITIES if stream in mapper.streams_for(entity)]
    removed: Counter[str] = Counter()
    with store.begin() as conn:
        pending = conn.execute(
            sa.select(tomb.c.record_id, tomb.c.payload)
            .where(tomb.c.source == connection, tomb.c.stream == stream, tomb.c.applied_at.is_(None))
            .order_by(tomb.c.record_id)
        ).all()
        if not pending:
            return removed
        if entities:
            result = map_chunk(mapper, stream, entities, [(row.record_id, row.payload) for row in pending], utcnow())
            for table_name, rows in result.rows.items():
                assert isinstance(rows, list)  # no driver given: plain rows
                removed[table_name] += _delete_rows(conn, table_name, rows)
        ids = [row.record_id for row in pending]
        for start in range(0, len(ids), CHUNK):
            conn.execute(
                sa.update(tomb)
                .where(
                    tomb.c.source == connection,
                    tomb.c.stream == stream,
                    tomb.c.record_id.in_(ids[start : start + CHUNK]),
                )
                .values(applied_at=utcnow(), payload=None)
            )
    return removed


def _delete_rows(conn: Connection, table_name: str, rows: list[dict]) -> int:
    """Delete rows by their primary key (children replaced with their parent go with it); how many went."""
    table = TABLES[table_name]
    if table_name in REPLACED_WITH_PARENT:
        return 0  # deleted with their parent below
    key = table.primary_key.columns.values()[0]
    keys = sorted({row[key.name] for row in rows})
    count = 0
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        count += conn.execute(sa.delete(table).where(key.in_(chunk))).rowcount or 0
        for child_name, (column, parent) in REPLACED_WITH_PARENT.items():
            if parent == table_name:
                child = TABLES[child_name]
                conn.execute(sa.delete(child).where(child.c[column].in_(chunk)))
    return count
