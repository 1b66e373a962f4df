"""``payloads.raw`` may be NULL: the message's bytes are its envelope's, stored once.

The hub's own answers (the gateway's receipts, a destination's answer, the
reply to a partner) are logged as they travelled, raw payload and envelope
the same document: every push wrote its receipt's 3 KB twice, each copy
compressed and moved to TOAST on PostgreSQL on its own. Such a message now
keeps ``raw`` NULL, meaning "the same bytes as ``envelope``"; every reader
takes ``coalesce(raw, envelope)`` (:data:`hub.messagelog.schema.raw_payload`),
so what is shown, exported and verified is what it was. Rows already stored
keep both copies, and the chain is unchanged: it holds the digests, and the
digest of the raw payload is the digest of the bytes read back.

PostgreSQL drops the NOT NULL in place. SQLite cannot, so its ``payloads``
table is copied (every row kept) into the new form; no table refers to it.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Let ``payloads.raw`` be NULL (a copy of the table on SQLite)."""
    with op.batch_alter_table("payloads") as batch:
        batch.alter_column("raw", existing_type=sa.LargeBinary, nullable=True)


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
