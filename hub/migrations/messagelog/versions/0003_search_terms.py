"""The console finds messages by worker name or number: ``search_terms`` (term, message_id).

Each normalized word of a name and each civil or passport number of a stored
message is one row (see :mod:`hub.messagelog.search`); the primary key is the
index a prefix search scans. Messages stored before this revision have no rows:
the console falls back to scanning the newest payloads for them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: as in hub.messagelog.search: a C collation on PostgreSQL, so a prefix is a plain byte range
_TERM = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the (empty) search-terms table."""
    op.create_table(
        "search_terms",
        sa.Column("term", _TERM, primary_key=True),
        sa.Column("message_id", sa.String(64), sa.ForeignKey("messages.message_id"), primary_key=True),
    )


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
