"""Licensing's processed marks: ``processed_messages``, one row per canonical message applied.

Until this revision :class:`hub.idempotency.IdempotentConsumer` created the
table itself when licensing first opened its database, so the database of a
live installation already holds it, with the marks that keep a redelivered
message from being applied twice. Such a table is adopted as it is; a
database without it gets it here (see :mod:`hub.migrations.adopting`).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa

from hub.migrations.adopting import create_or_adopt

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the marks' table unless the code of an earlier version already did; then keep it as it is."""
    create_or_adopt(
        "processed_messages",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.String(32), nullable=False, index=True),
    )


def downgrade() -> None:
    """Not supported: licensing's records only move forward."""
    raise NotImplementedError("licensing's database only moves forward; restore a backup to go back")
