"""Baseline: the message log as versions began (payloads in their own table, one hash chain).

The layout written by Rabt up to commit ccea8df, stated here in full rather
than taken from ``hub.messagelog.schema``: that module describes the newest
layout, and a revision must create the same tables for as long as it exists.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.String(64)
_DIGEST = sa.String(64)
_TIME = sa.String(32)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the baseline's six tables and their indexes."""
    op.create_table(
        "messages",
        sa.Column("message_id", _ID, primary_key=True),
        sa.Column("correlation_id", _ID, index=True),
        sa.Column("message_type", sa.String(100), nullable=False, index=True),
        sa.Column("source_agency", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(100)),
        sa.Column("source_message_id", sa.String(200)),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("raw_sha256", _DIGEST, nullable=False),
        sa.Column("envelope_sha256", _DIGEST, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("published_at", _TIME),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("chain_seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("source_agency", "source_message_id", name="uq_messages_source"),
    )
    op.create_table(
        "payloads",
        sa.Column("message_id", _ID, sa.ForeignKey("messages.message_id"), primary_key=True),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("message_id", _ID, sa.ForeignKey("messages.message_id"), nullable=False, unique=True),
        sa.Column("enqueued_at", _TIME, nullable=False),
    )
    op.create_table(
        "refused",
        sa.Column("refusal_id", _ID, primary_key=True),
        sa.Column("agency", sa.String(64), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("raw_sha256", _DIGEST, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("chain_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_chain",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message_id", _ID, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.String(100)),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("raw_sha256", _DIGEST),
        sa.Column("envelope_sha256", _DIGEST),
        sa.Column("prev_hash", _DIGEST, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
    )


def downgrade() -> None:
    """Not supported: the log is evidence, and a downgrade would drop it."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
