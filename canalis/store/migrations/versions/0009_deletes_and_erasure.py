"""tombstones of deleted and archived source records, erased people's hashes, privacy request audit, plan kinds

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:45:00

Records a source deleted or archived become tombstones (source_deletions) and stop feeding the canonical tables.
An erased person leaves only salted hashes (erased_subjects) so later imports skip them; privacy_requests audits
erasure and access requests without personal values. Publish plans gain a kind: publish or erase.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_deletions",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.String(length=300), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=20),
            nullable=False,
            comment="deleted, archived or missing (absent from a full listing)",
        ),
        sa.Column(
            "payload",
            canalis.store.types.JSONDoc(),
            nullable=True,
            comment="the record's last version, kept until the canonical pass removed its rows",
        ),
        sa.Column("detected_at", canalis.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "applied_at",
            canalis.store.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="set when the canonical rows the record fed were removed",
        ),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("source", "stream", "record_id"),
        comment="Tombstones: records a source deleted or archived; they no longer feed the canonical tables.",
    )
    op.create_table(
        "erased_subjects",
        sa.Column(
            "subject_hash", sa.String(length=64), nullable=False, comment="salted SHA-256 of a normalised identifier"
        ),
        sa.Column("kind", sa.String(length=20), nullable=False, comment="email, phone or record (source:stream:id)"),
        sa.Column("request_id", sa.String(length=40), nullable=False, comment="the erase plan that erased it"),
        sa.Column("erased_at", canalis.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_hash"),
        comment="What is left of an erased person: hashes that keep later imports from bringing them back.",
    )
    op.create_table(
        "privacy_requests",
        sa.Column(
            "request_id",
            sa.String(length=40),
            nullable=False,
            comment="the erase plan's id, or export-<time>-<hash>",
        ),
        sa.Column("kind", sa.String(length=20), nullable=False, comment="erase or export"),
        sa.Column(
            "subject_hash", sa.String(length=64), nullable=False, comment="salted hash of the identifier asked for"
        ),
        sa.Column("status", sa.String(length=20), nullable=False, comment="planned, applied, partial or exported"),
        sa.Column(
            "systems",
            canalis.store.types.JSONDoc(),
            nullable=True,
            comment="per channel: records deleted, anonymised, failed or not supported",
        ),
        sa.Column("purged", canalis.store.types.JSONDoc(), nullable=True, comment="rows removed from each store table"),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", canalis.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", canalis.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
        comment="Audit of erasure and access requests, without personal values.",
    )
    with op.batch_alter_table("publish_plans") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.String(length=20),
                nullable=False,
                server_default="publish",
                comment="publish (values to the channels) or erase (a person's erasure request)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("publish_plans") as batch:
        batch.drop_column("kind")
    op.drop_table("privacy_requests")
    op.drop_table("erased_subjects")
    op.drop_table("source_deletions")
