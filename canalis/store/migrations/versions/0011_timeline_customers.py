"""timeline_customers: the timeline's figures per customer

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:00:00

The timeline report (customers with interactions, multichannel customers, channel switches, the busiest
timeline) was worked out over every interaction on each pass that moved one. Its figures per customer are now
kept in this table, and an incremental pass works them out again only for the customers it touched. The table
starts empty: the next timeline pass fills it in full.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False, comment="interactions attached to the customer"),
        sa.Column("channels", sa.Integer(), nullable=False, comment="distinct channels of those interactions"),
        sa.Column("switches", sa.Integer(), nullable=False, comment="changes of channel along the customer's timeline"),
        sa.PrimaryKeyConstraint("customer_id"),
        comment=(
            "The timeline's figures per customer (no personal values): a pass works them out again for the "
            "customers it touches, and the timeline report sums them."
        ),
    )


def downgrade() -> None:
    op.drop_table("timeline_customers")
