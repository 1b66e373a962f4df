"""Worker data corrections: ``lic_worker_corrections``, one row per correction an employer files.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the corrections table and its look-up indexes."""
    op.create_table(
        "lic_worker_corrections",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("correction_id", sa.String(40), unique=True),
        sa.Column("civil_number", sa.String(9), nullable=False),
        sa.Column("corrected_civil_number", sa.String(9), nullable=False),
        sa.Column("requested_by", sa.String(24), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("worker", sa.Text, nullable=False),
        sa.Column("requested_at", sa.String(32), nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("notices", sa.Text),
    )
    for column in ("civil_number", "corrected_civil_number"):
        op.create_index(f"ix_lic_worker_corrections_{column}", "lic_worker_corrections", [column])


def downgrade() -> None:
    """Not supported: licensing's records only move forward."""
    raise NotImplementedError("licensing's database only moves forward; restore a backup to go back")
