"""raw records indexed in the order the canonical pass reads them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:40:00

The canonical pass reads each stream from where it stopped, in (batch_id, record_id) order. The index on
(source, stream, batch_id) found the rows but left them to be sorted by record_id on every chunk, which grew
with the size of the batch. The new index ends with record_id, so the rows come out in order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("raw_records", schema=None) as batch_op:
        batch_op.create_index("ix_raw_records_position", ["source", "stream", "batch_id", "record_id"], unique=False)
        batch_op.drop_index("ix_raw_records_batch")


def downgrade() -> None:
    with op.batch_alter_table("raw_records", schema=None) as batch_op:
        batch_op.create_index("ix_raw_records_batch", ["source", "stream", "batch_id"], unique=False)
        batch_op.drop_index("ix_raw_records_position")
