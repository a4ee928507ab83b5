"""load batches record when their read ended

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 07:50:00

The canonical pass reads a stream in (batch_id, record_id) order and keeps the position it reached. While a
read is still writing a batch, records with smaller ids can still arrive in it, so the pass must not keep a
position inside that batch. `finished_at` says when the read that wrote a batch ended. Batches written before
this revision are all finished.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "finished_at",
                canalis.store.types.UTCDateTime(timezone=True),
                nullable=True,
                comment="set when the read that wrote the batch ended, well or not",
            )
        )
    op.execute(sa.text("UPDATE load_batches SET finished_at = started_at"))


def downgrade() -> None:
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.drop_column("finished_at")
