"""Operator commands for the consumers: ``consumer_controls`` (pause, resume, reset a circuit).

Every role shares the message log's database, so a command written here by
the console reaches outbound workers in any process (see
:mod:`hub.messagelog.controls`). The table starts empty: nothing is paused.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: as in hub.messagelog.controls (a revision states its types rather than import code that may change)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the (empty) command table and its per-destination index."""
    op.create_table(
        "consumer_controls",
        sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("command", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.Column("done_at", sa.String(32)),
        sa.Column("done_by", sa.String(255)),
    )
    op.create_index("ix_consumer_controls_target", "consumer_controls", ["target", "seq"])


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
