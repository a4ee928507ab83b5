"""identity_links without the index on record_a alone; identity_state in pieces with digests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:10:00

The unique constraint on (record_a, record_b, rule) already serves every lookup by record_a (its leading
column): the reads of an incremental run (record_a or record_b among the resolved keys) and erasure's deletes
by record_a. The separate index only slowed the link inserts. Key and steward links no longer carry evidence
(scored links keep theirs; `explain` rebuilds a key group on demand); the rows already stored are left as they
are and are rewritten by the next full run.

identity_state is kept in pieces (a part of the state, a range of records) with a digest each, so that a run
rewrites only the pieces that changed. A state saved in the former layout is dropped: the next run is full
(as for a store that never had one), and saves the new layout.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

_OLD_COMMENT = "key group, or per-field levels, similarities and weights"
_NEW_COMMENT = (
    "scored links: probability, match weight and per-field levels; none for key and steward links "
    "(explain rebuilds the key group)"
)


def _comment(new: str, old: str) -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite keeps no comments
        return
    op.alter_column(
        "identity_links", "evidence", existing_type=canalis.store.types.JSONDoc(), existing_nullable=True,
        comment=new, existing_comment=old,
    )  # fmt: skip


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_STATE_COMMENT = (
    "The engine's resolved state after the last run (features, block codes, assignments, link graph, ids, "
    "model), from which incremental runs start; see canalis.identity.state."
)


def upgrade() -> None:
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_links_record_a")
    _comment(_NEW_COMMENT, _OLD_COMMENT)
    op.drop_table("identity_state")
    op.create_table(
        "identity_state",
        sa.Column("name", sa.String(length=100), nullable=False, comment="the part of the state (#header for the header)"),
        sa.Column(
            "piece", sa.Integer(), autoincrement=False, nullable=False,
            comment="pieces of a part in order: 32,768 records' values, at most 16 MiB",
        ),
        sa.Column(
            "digest", sa.String(length=32), nullable=False,
            comment="BLAKE2b of data: a run rewrites the pieces that changed",
        ),
        sa.Column("run_id", sa.Integer(), nullable=True, comment="the run that wrote the piece"),
        sa.Column("data", sa.LargeBinary(length=2**32 - 1), nullable=False, comment="LONGBLOB on MySQL"),
        sa.PrimaryKeyConstraint("name", "piece"),
        comment=_STATE_COMMENT,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("identity_state")
    op.create_table(
        "identity_state",
        sa.Column(
            "part", sa.Integer(), autoincrement=False, nullable=False, comment="parts of at most 16 MiB, in order"
        ),
        sa.Column("run_id", sa.Integer(), nullable=True, comment="the run that saved it"),
        sa.Column("data", sa.LargeBinary(length=2**32 - 1), nullable=False, comment="LONGBLOB on MySQL"),
        sa.PrimaryKeyConstraint("part"),
        comment=_STATE_COMMENT,
    )
    _comment(_OLD_COMMENT, _NEW_COMMENT)
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.create_index("ix_identity_links_record_a", ["record_a"], unique=False)
