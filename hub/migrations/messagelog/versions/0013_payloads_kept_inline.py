"""On PostgreSQL a message's payloads stay in its ``payloads`` row, compressed, rather than in TOAST.

A push's payloads row (the agency's request and its signed envelope, about
5 KB) is over PostgreSQL's 2 KB threshold: the server compresses both
values, and as the row is still over it, moves the envelope to the table's
TOAST table — a row there and an entry in its index, written with every
push, and an index look-up to read the envelope back every time the relay
publishes it. Storage ``MAIN`` still compresses both values but keeps them in
the row while it fits a page (the server moves a value out only past about
8 KB); ``message_id`` becomes ``PLAIN``, as otherwise the server, looking for a
value to move out of a row still over the threshold, would take the id itself.

Values already in TOAST stay there until they are written again (they never
are): reading them is unchanged. SQLite has no such storage; nothing changes there.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """On PostgreSQL, store ``payloads.raw`` and ``payloads.envelope`` MAIN and ``payloads.message_id`` PLAIN."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE payloads ALTER COLUMN raw SET STORAGE MAIN, ALTER COLUMN envelope SET STORAGE MAIN, "
               "ALTER COLUMN message_id SET STORAGE PLAIN")


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
