"""Stored publish plans: each plan, its field changes with their outcome, and the records it writes."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from canalis.store.schema import metadata
from canalis.store.types import JSONDoc, UTCDateTime

PLAN_STATUSES = ("proposed", "approved", "applied", "superseded", "rejected", "expired")
CHANGE_STATUSES = ("planned", "sending", "applied", "unchanged", "deferred", "failed", "skipped")

publish_plans = Table(
    "publish_plans",
    metadata,
    Column("plan_id", String(40), primary_key=True),
    Column(
        "kind",
        String(20),
        nullable=False,
        default="publish",
        server_default="publish",
        comment="publish (values to the channels) or erase (a person's erasure request)",
    ),
    Column("content_hash", String(64), nullable=False, comment="sha256 of the changes and records, in order"),
    Column("status", String(20), nullable=False, comment=", ".join(PLAN_STATUSES)),
    Column("status_reason", Text, comment="why the plan was superseded, rejected or expired"),
    Column("entities", JSONDoc, nullable=False, comment="entities the plan covers"),
    Column("counts", JSONDoc, nullable=False, comment="changed fields per channel and entity"),
    Column("changes", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("inputs", JSONDoc, nullable=False, comment="plan time, store position and each channel's last read"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False, comment="run:<id>, or who planned from the command line"),
    Column("decided_at", UTCDateTime),
    Column("decided_by", String(200), comment="who approved or rejected it; `policy` for auto-approval"),
    Column("applied_at", UTCDateTime),
    Column("applied_by", String(200), comment="run that applied it"),
    Column("superseded_by", String(40)),
)
Index("ix_publish_plans_status", publish_plans.c.status, publish_plans.c.created_at)

publish_plan_changes = Table(
    "publish_plan_changes",
    metadata,
    Column("plan_id", String(40), primary_key=True),
    Column("seq", Integer, primary_key=True, comment="position of the change in the plan"),
    Column("channel", String(100), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("record_key", String(300), nullable=False),
    Column("field", String(100), nullable=False),
    Column("old_value", Text, comment="what the channel showed when the plan was made"),
    Column("new_value", Text, comment="what the plan sets"),
    Column("reason", Text, nullable=False),
    Column("status", String(20), nullable=False, comment=", ".join(CHANGE_STATUSES)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("idempotency_key", String(64), nullable=False, comment="from the plan id and the change"),
    Column("verified", Boolean, comment="read back from the channel after the apply: true when it stuck"),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_publish_plan_changes_record", publish_plan_changes.c.plan_id, publish_plan_changes.c.record_key)

publish_plan_records = Table(
    "publish_plan_records",
    metadata,
    Column("plan_id", String(40), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("entity", String(50), primary_key=True),
    Column("record_key", String(300), primary_key=True),
    Column("record", JSONDoc, nullable=False, comment="the whole record the apply writes, values typed"),
)

PLAN_TABLES = [publish_plans, publish_plan_changes, publish_plan_records]
