"""Bulk inserts: values go through each column type's conversion, as SQLAlchemy's own inserts would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from canalis.identity import bulk
from canalis.identity.bulk import insert_rows
from canalis.store.types import JSONDoc, JSONText, UTCDateTime

METADATA = sa.MetaData()
ROWS = sa.Table(
    "bulk_rows",
    METADATA,
    sa.Column("k", sa.String(20), primary_key=True),
    sa.Column("score", sa.Float),
    sa.Column("doc", JSONDoc),
    sa.Column("at", UTCDateTime),
)


@pytest.mark.parametrize("batch", [4, 20_000])
def test_bulk_insert_reads_back_like_a_plain_insert(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_BATCH", batch)  # rows written in several statements, or in one
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    shared = {"rule": "email", "fields": [1, 2]}
    rows = [
        ("a", 0.5, shared, now),
        ("b", 0.5, shared, now),
        ("c", None, None, None),
        ("d", 1.0, {"rule": "phone"}, now + timedelta(hours=1)),
        ("e", 0.25, JSONText('{"rule": "loyalty_id"}'), now),
        ("f", 0.75, [3, "x"], now - timedelta(days=2)),
    ]
    bulk_db, plain = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    for engine in (bulk_db, plain):
        METADATA.create_all(engine)
    with bulk_db.begin() as connection:
        assert insert_rows(connection, ROWS, ["k", "score", "doc", "at"], rows) == len(rows)
    with plain.begin() as connection:
        documents = [doc if not isinstance(doc, JSONText) else {"rule": "loyalty_id"} for _, _, doc, _ in rows]
        connection.execute(
            sa.insert(ROWS),
            [{"k": k, "score": s, "doc": d, "at": at} for (k, s, _, at), d in zip(rows, documents, strict=True)],
        )
    read = sa.select(ROWS).order_by(ROWS.c.k)
    with bulk_db.connect() as a, plain.connect() as b:
        found, expected = a.execute(read).all(), b.execute(read).all()
    assert found == expected
    assert found[0].at == now and found[2].score is None and found[4].doc == {"rule": "loyalty_id"}


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mariadb"])
def test_bulk_insert_by_columns_stores_what_the_same_rows_store(database: str, request, monkeypatch) -> None:
    monkeypatch.setattr(bulk, "_BATCH", 4)  # several statements
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    shared = {"rule": "email", "fields": [1, 2]}
    rows = [
        ("a", 0.5, shared, now),
        ("b", None, None, None),
        ("c", 1.0, {"rule": "phone"}, now + timedelta(hours=1)),
        ("d", 0.25, JSONText('{"rule": "loyalty_id"}'), now),
        ("e", 0.75, [3, "x"], now - timedelta(days=2)),
        ("f", 0.5, shared, now),
    ]
    fixture = {"postgresql": "postgres_url", "mariadb": "mariadb_url"}.get(database)
    url = request.getfixturevalue(fixture) if fixture else "sqlite://"
    engine = sa.create_engine(url)
    METADATA.create_all(engine)
    names = ["k", "score", "doc", "at"]
    with engine.begin() as connection:
        assert insert_rows(connection, ROWS, names, rows) == len(rows)
        by_column = {name: [row[i] for row in rows] for i, name in enumerate(names)}
        by_column["k"] = [f"z{k}" for k in by_column["k"]]  # another key each (MariaDB ignores case in keys)
        by_column = {name: by_column[name] for name in ("score", "k", "at", "doc")}  # any order of columns
        assert bulk.insert_columns(connection, ROWS, by_column) == len(rows)
        stored = connection.execute(sa.select(ROWS).order_by(ROWS.c.k)).all()
    engine.dispose()
    by_rows = [tuple(row) for row in stored if not row.k.startswith("z")]
    by_columns = [(row.k[1:], *row[1:]) for row in stored if row.k.startswith("z")]
    assert by_columns == by_rows and len(by_rows) == len(rows)
    assert by_rows[0][3] == now and by_rows[3][2] == {"rule": "loyalty_id"}
