"""proposed merges for review

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:40:00

Identity resolution no longer applies uncertain links, merges of two large profiles or weak bridges on its own:
it proposes them in identity_proposed_merges, where a steward (or the configured policy) accepts or rejects
them. Decisions are recorded as steward overrides, so they survive full rebuilds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_proposed_merges",
        sa.Column("proposal_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_a", sa.String(length=300), nullable=False, comment="the smaller record key"),
        sa.Column("record_b", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False, comment="uncertain, large_profiles or weak_bridge"),
        sa.Column("probability", sa.Float(), nullable=False, comment="match probability of the pair"),
        sa.Column("customer_a", sa.String(length=64), nullable=True, comment="customer of record_a when proposed"),
        sa.Column("customer_b", sa.String(length=64), nullable=True, comment="customer of record_b when proposed"),
        sa.Column("status", sa.String(length=20), nullable=False, comment="pending, accepted or rejected"),
        sa.Column(
            "evidence",
            canalis.store.types.JSONDoc(),
            nullable=True,
            comment="per-field levels, similarities and weights",
        ),
        sa.Column("proposed_at", canalis.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", canalis.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "decided_by",
            sa.String(length=200),
            nullable=True,
            comment="the steward, or `policy` for an automatic decision",
        ),
        sa.Column("note", sa.Text(), nullable=True, comment="why the steward decided so"),
        sa.PrimaryKeyConstraint("proposal_id"),
        sa.UniqueConstraint("record_a", "record_b", name="uq_identity_proposed_merges_pair"),
        comment="Merges identity resolution did not apply on its own: uncertain scores, two large profiles, weak "
        "bridges. Accepting records a force_merge, rejecting a never_merge, so that decisions survive rebuilds.",
    )
    op.create_index("ix_identity_proposed_merges_status", "identity_proposed_merges", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_identity_proposed_merges_status", table_name="identity_proposed_merges")
    op.drop_table("identity_proposed_merges")
