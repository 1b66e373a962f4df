"""``messages`` loses its indexes on ``status`` and ``message_type``; on PostgreSQL its pages keep room for updates.

A message's header row is updated after it is written — the relay marks it
published, a destination's receipt sets its next status — and on PostgreSQL
an update that changes an indexed column writes a new entry into every index
of the table (five), where one that changes none stays on its page (a HOT
update) and writes no index entry at all. ``status`` was indexed, so every
status change of every message was a full update: about 0.9 KB of WAL and
five index insertions per message, by far the biggest part of marking it
published and of its receipt.

No query needs either index. Every status change looks its rows up by
``message_id`` (the primary key); the one reader filtering on a status, a
queue's peek in the console, filters by destination too and sorts by
publication time, which the index never served. The counts by status (the
console's overview) count every row either way, now through the table rather
than an index-only scan; the metrics' gauges, sampled every scrape, no longer
ask for them (``stats(by_status=False)``). ``message_type`` was searched by nothing: a listing
filtered by it sorts the messages by time, not by type. SQLite, where
changing an indexed column also rewrites its index entry, loses both too.

``fillfactor`` 70 leaves 30% of each new page of ``messages`` free, so a
row's updates find room on its own page (a HOT update needs it there): with
push, relay and a receipt per message, 94% of the updates were HOT at 70,
84% at 80, 56% at 90 and 43% at 100, the default. Pages written before keep
their rows as they are; the setting applies to pages filled from now on.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: the share of a new page of ``messages`` filled by inserts on PostgreSQL (the rest is for updates)
FILLFACTOR = 70


def upgrade() -> None:
    """Drop ``ix_messages_status`` and ``ix_messages_message_type``; on PostgreSQL set ``messages``' fillfactor."""
    op.drop_index("ix_messages_status", table_name="messages")
    op.drop_index("ix_messages_message_type", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE messages SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
