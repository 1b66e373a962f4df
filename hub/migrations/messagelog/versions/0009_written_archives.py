"""``written_archives``: every evidence archive the hub wrote, so the next one continues from it.

An archive holds the records after its base anchor (the covering anchor of
the archive before) up to its own covering anchor; this register is where
``rabt audit archive`` and the retention role find that base. It starts
empty: the first archive after this revision starts from the log's start.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the register of written archives."""
    op.create_table(
        "written_archives",
        sa.Column("archive_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("until", sa.String(32), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger, nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.Column("base_anchor", sa.BigInteger, nullable=False),
        sa.Column("written_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
