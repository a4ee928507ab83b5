"""quarantine entries a person dismissed, and where a re-read finds each record again

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:40:00

Records rejected while reading are retried on later runs until they land or a person dismisses them.
`dismissed_at` says a person closed the entry (distinct from `resolved_at`, set when the record landed), and
`window_cursor` where a re-read of the stream finds the record again: its own cursor value when the payload
holds one, else the stream's cursor before the page that held it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import canalis.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "dismissed_at",
                canalis.store.types.UTCDateTime(timezone=True),
                nullable=True,
                comment="set when a person dismissed the entry (it is no longer retried)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "window_cursor",
                sa.String(length=100),
                nullable=True,
                comment="stream cursor a re-read starts from to find the record again",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("window_cursor")
        batch_op.drop_column("dismissed_at")
