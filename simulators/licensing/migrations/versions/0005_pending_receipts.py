"""Outcomes waiting for their delivery receipt: ``lic_pending_receipts``, written in the commit window that applied
them and deleted once the receipt that lists them is confirmed, so a crash in between loses none.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table of outcomes not yet sent."""
    op.create_table(
        "lic_pending_receipts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("reason", sa.Text),
    )


def downgrade() -> None:
    """Not supported: licensing's records only move forward."""
    raise NotImplementedError("licensing's database only moves forward; restore a backup to go back")
