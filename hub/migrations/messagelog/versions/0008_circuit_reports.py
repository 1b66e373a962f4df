"""Each worker process's circuit states: ``circuit_reports``.

Circuit breakers live in the outbound workers' memory; the console usually
runs in another process (see :mod:`hub.messagelog.circuits`). Workers write
their states here and the console reads them. The table starts empty.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the (empty) table of circuit reports."""
    op.create_table(
        "circuit_reports",
        sa.Column("process", sa.String(255), primary_key=True),
        sa.Column("agency", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reported_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
