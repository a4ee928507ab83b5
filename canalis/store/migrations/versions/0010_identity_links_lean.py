"""identity_links without the index on record_a alone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:10:00

The unique constraint on (record_a, record_b, rule) already serves every lookup by record_a (its leading
column): the reads of an incremental run (record_a or record_b among the resolved keys) and erasure's deletes
by record_a. The separate index only slowed the link inserts. Key and steward links no longer carry evidence
(scored links keep theirs; `explain` rebuilds a key group on demand); the rows already stored are left as they
are and are rewritten by the next full run.
"""

from collections.abc import Sequence

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


def upgrade() -> None:
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_links_record_a")
    _comment(_NEW_COMMENT, _OLD_COMMENT)


def downgrade() -> None:
    _comment(_OLD_COMMENT, _NEW_COMMENT)
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.create_index("ix_identity_links_record_a", ["record_a"], unique=False)
