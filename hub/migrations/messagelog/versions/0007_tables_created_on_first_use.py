"""Dead letters kept by the hub and consumers' processed marks: ``kept_dead_letters``, ``processed_messages``.

Until this revision :mod:`hub.deadletters` and :mod:`hub.idempotency` created
these tables themselves the first time they opened the log, so a log of a live
installation may already hold them, with rows (the dead letters taken off the
broker; the outbound workers' "notified" marks). Such a table is adopted as it
is; a log without it gets it here (see :mod:`hub.migrations.adopting`).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa

from hub.migrations.adopting import create_or_adopt

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: as in hub.deadletters (a revision states its types rather than import code that may change)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create each table unless the code of an earlier version already did; then keep it as it is."""
    create_or_adopt(
        "kept_dead_letters",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(400), nullable=False, unique=True),
        sa.Column("queue", sa.String(255), nullable=False, index=True),
        sa.Column("message_id", sa.String(200), nullable=False, index=True),
        sa.Column("correlation_id", sa.String(200), index=True),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("dead_lettered_at", sa.Float, nullable=False, index=True),
        sa.Column("reply_to", sa.String(255)),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    create_or_adopt(
        "processed_messages",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.String(32), nullable=False, index=True),
    )


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
