"""Retention: ``archives`` (the archives a purge emptied payloads into) and ``messages.archived_in``.

A purge keeps every chain record and header row; it removes a message's
``payloads`` row and names the archive that holds the bytes now. Both start
empty: nothing is archived yet.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the archive register and the column naming a message's archive."""
    op.create_table(
        "archives",
        sa.Column("archive_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger, nullable=False),
        sa.Column("purged_at", sa.String(32), nullable=False),
        sa.Column("chain_seq", sa.BigInteger, nullable=False),
    )
    # A plain ADD COLUMN (nullable): a rebuilt table would break the foreign keys onto it.
    op.add_column("messages", sa.Column("archived_in", sa.String(255)))


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
