"""Access requests: everything Canalis holds on a person, as one JSON document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.privacy.person import Person, find_person, split_key
from canalis.privacy.subjects import erasure_salt, subject_hash
from canalis.privacy.tables import privacy_requests
from canalis.store import Store, tables
from canalis.store.types import JSONText, loads

CHUNK = 500


def export_person(
    store: Store, *, email: str | None = None, customer: str | None = None, by: str, now: datetime | None = None
) -> dict[str, Any]:
    """What the store holds on the person: golden records, source records with their contact points and consents,
    orders with their lines, interactions, raw records as the sources sent them, and quarantined records. The
    request is audited (by the salted hash of the identifier asked for)."""
    now = now or datetime.now(UTC)
    t = tables
    with store.begin() as conn:
        person = find_person(conn, email=email, customer=customer)
        refs = person.raw_refs(conn)
        document: dict[str, Any] = {
            "exported_at": now.isoformat(),
            "asked_for": {"email": email} if email else {"customer": customer},
            "customers": _rows(conn, t.customers, t.customers.c.customer_id, person.customer_ids),
            "customer_records": _rows(conn, t.customer_records, t.customer_records.c.record_key, person.record_keys),
            "contact_points": _rows(conn, t.contact_points, t.contact_points.c.record_key, person.record_keys),
            "consents": _rows(conn, t.consents, t.consents.c.record_key, person.record_keys),
            "source_identities": _rows(conn, t.source_identities, t.source_identities.c.record_key, person.record_keys),
            "orders": _rows(conn, t.orders, t.orders.c.order_key, person.order_keys),
            "order_lines": _rows(conn, t.order_lines, t.order_lines.c.order_key, person.order_keys),
            "interactions": _rows(conn, t.interactions, t.interactions.c.interaction_key, person.interaction_keys),
            "raw_records": _by_ref(conn, t.raw_records, refs),
            "quarantine": _by_ref(conn, t.quarantine, refs),
        }
        salt = erasure_salt(create=True)
        identifier = ("email", email) if email else ("customer", customer or "")
        digest = subject_hash(salt, identifier[0], identifier[1].strip().lower())
        conn.execute(
            sa.insert(privacy_requests).values(
                request_id=f"export-{now:%Y%m%d-%H%M%S}-{digest[:6]}",
                kind="export",
                subject_hash=digest,
                status="exported",
                systems=_counts(person, document),
                requested_by=by,
                created_at=now,
                finished_at=now,
            )
        )
    return document


def _counts(person: Person, document: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Records exported per source (counts only, for the audit)."""
    counts: dict[str, dict[str, int]] = {}
    for key in sorted(person.record_keys):
        source = split_key(key)[0]
        counts.setdefault(source, {"customer_records": 0})["customer_records"] += 1
    counts["canalis"] = {name: len(rows) for name, rows in document.items() if isinstance(rows, list)}
    return counts


def _plain(value: Any) -> Any:
    if isinstance(value, JSONText):
        return loads(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, int | float | str | bool | dict | list) or value is None:
        return value
    return str(value)


def _rows(conn: Connection, table: sa.Table, column: sa.Column, values: set[str]) -> list[dict[str, Any]]:
    ordered = sorted(values)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ordered), CHUNK):
        query = sa.select(table).where(column.in_(ordered[start : start + CHUNK]))
        rows.extend({k: _plain(v) for k, v in row._mapping.items()} for row in conn.execute(query))
    return rows


def _by_ref(conn: Connection, table: sa.Table, refs: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
    by_stream: dict[tuple[str, str], set[str]] = {}
    for source, stream, record_id in refs:
        by_stream.setdefault((source, stream), set()).add(record_id)
    rows: list[dict[str, Any]] = []
    for (source, stream), ids in sorted(by_stream.items()):
        found = _rows(conn, table, table.c.record_id, ids)
        rows.extend(row for row in found if row["source"] == source and row["stream"] == stream)
    return rows
