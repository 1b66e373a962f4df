"""Transfers of services: ``lic_transfers``, one row per request to move a worker to a new employer.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the transfers table and its look-up indexes."""
    op.create_table(
        "lic_transfers",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.String(40), unique=True),
        sa.Column("worker_civil_number", sa.String(9), nullable=False),
        sa.Column("worker_passport", sa.String(12)),
        sa.Column("licence_number", sa.String(40), nullable=False),
        sa.Column("profession_code", sa.String(8), nullable=False),
        sa.Column("previous_sponsor", sa.String(24)),
        sa.Column("new_sponsor", sa.String(24)),
        sa.Column("vacancy_id", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("requested_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("notice_message_id", sa.String(64)),
    )
    for column in ("worker_civil_number", "worker_passport", "licence_number"):
        op.create_index(f"ix_lic_transfers_{column}", "lic_transfers", [column])


def downgrade() -> None:
    """Not supported: licensing's records only move forward."""
    raise NotImplementedError("licensing's database only moves forward; restore a backup to go back")
