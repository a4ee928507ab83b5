"""proposed merges for review, the saved engine state instead of the key index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 08:40:00

Identity resolution no longer applies uncertain links, merges of two large profiles or weak bridges on its own:
it proposes them in identity_proposed_merges, where a steward (or the configured policy) accepts or rejects
them. Decisions are recorded as steward overrides, so they survive full rebuilds.

Incremental runs now start from the engine's saved state (identity_state) instead of looking records up in the
key and block index (identity_keys, dropped). A store migrated from 0006 has no state yet: its next run is full.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

revision: str = "0007"
down_revision: str | None = "0006"
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
    op.create_table(
        "identity_state",
        sa.Column(
            "part", sa.Integer(), autoincrement=False, nullable=False, comment="parts of at most 16 MiB, in order"
        ),
        sa.Column("run_id", sa.Integer(), nullable=True, comment="the run that saved it"),
        sa.Column("data", sa.LargeBinary(length=2**32 - 1), nullable=False, comment="LONGBLOB on MySQL"),
        sa.PrimaryKeyConstraint("part"),
        comment="The engine's resolved state after the last run (features, block codes, assignments, link graph, "
        "ids, model), from which incremental runs start; see canalis.identity.state.",
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_keys_kind_value")
    op.drop_table("identity_keys")


def downgrade() -> None:
    op.create_table(
        "identity_keys",
        sa.Column("record_key", sa.String(length=300), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=40),
            nullable=False,
            comment="email, phone, loyalty_id, external_id or a block kind",
        ),
        sa.Column("value", sa.String(length=400), nullable=False, comment="normalised key or block value"),
        sa.PrimaryKeyConstraint("record_key", "kind", "value", name=op.f("pk_identity_keys")),
        comment="Deterministic keys and blocking keys of every record: the indexes incremental resolution looks up.",
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.create_index("ix_identity_keys_kind_value", ["kind", "value"], unique=False)
    op.drop_table("identity_state")
    op.drop_index("ix_identity_proposed_merges_status", table_name="identity_proposed_merges")
    op.drop_table("identity_proposed_merges")
