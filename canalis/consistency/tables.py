"""The `inconsistencies` table: every inconsistency ever found, open or closed, with its history."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from canalis.store.schema import metadata
from canalis.store.types import JSONDoc, UTCDateTime

inconsistencies = Table(
    "inconsistencies",
    metadata,
    Column("inconsistency_id", String(64), primary_key=True, comment="hash of code, entity and channel set"),
    Column("code", String(60), nullable=False, comment="rule code, e.g. price_mismatch"),
    Column("severity", String(10), nullable=False, comment="error or warn"),
    Column("entity_type", String(30), nullable=False, comment="product, promotion or customer"),
    Column("entity_key", String(300), nullable=False, comment="SKU, promotion code or unified customer id"),
    Column("channels", JSONDoc, nullable=False, comment="sorted connection names that disagree"),
    Column("details", JSONDoc, comment="what the rule saw the last time it found this"),
    Column("status", String(10), nullable=False, comment="open or closed"),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False, comment="start of the current (or last) open spell"),
    Column("opened_run_id", String(64), comment="run that opened the current (or last) open spell"),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("last_run_id", String(64)),
    Column("occurrences", Integer, nullable=False, default=1, comment="runs that found it"),
    Column("closed_at", UTCDateTime),
    Column("closed_run_id", String(64)),
    Column("reopened", Integer, nullable=False, default=0, comment="times it came back after being closed"),
    comment="Cross-channel inconsistencies found by the consistency rules, opened, seen again and closed by runs.",
)
Index("ix_inconsistencies_status", inconsistencies.c.status, inconsistencies.c.code)
Index("ix_inconsistencies_entity", inconsistencies.c.entity_type, inconsistencies.c.entity_key)

CONSISTENCY_TABLES = [inconsistencies]
