"""A record held by a customer, written straight into the store for tests that need identity links."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from canalis.store import tables


def hold_record(conn: sa.Connection, record_key: str, customer_id: str, at: datetime, match_rule: str = "test") -> None:
    """Insert the source identity tying `record_key` ("source:object:id") to `customer_id`."""
    source, obj, source_id = record_key.split(":")
    conn.execute(
        sa.insert(tables.source_identities).values(
            record_key=record_key,
            source=source,
            object=obj,
            source_id=source_id,
            customer_id=customer_id,
            match_rule=match_rule,
            confidence=1.0,
            updated_at=at,
        )
    )
