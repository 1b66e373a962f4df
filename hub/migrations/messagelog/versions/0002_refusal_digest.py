"""Refusals keep the whole input's SHA-256 and size (input_sha256, input_size).

Both columns are nullable: refusals recorded before keep NULL there, and
their chain records, which never named the digest, stay as they were.

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
    """Add the two nullable columns to ``refused``."""
    op.add_column("refused", sa.Column("input_sha256", sa.String(64)))
    op.add_column("refused", sa.Column("input_size", sa.BigInteger))


def downgrade() -> None:
    """Not supported: the log is evidence, and a downgrade would drop the recorded digests."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
