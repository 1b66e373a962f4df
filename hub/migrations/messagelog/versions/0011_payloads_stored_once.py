"""``payloads.raw`` may be NULL (stored once), and no foreign keys onto ``messages`` on the write path.

The hub's own answers (the gateway's receipts, a destination's answer, the
reply to a partner) are logged as they travelled, raw payload and envelope
the same document: every push wrote its receipt's 3 KB twice, each copy
compressed and moved to TOAST on PostgreSQL on its own. Such a message now
keeps ``raw`` NULL, meaning "the same bytes as ``envelope``"; every reader
takes ``coalesce(raw, envelope)`` (:data:`hub.messagelog.schema.raw_payload`),
so what is shown, exported and verified is what it was. Rows already stored
keep both copies, and the chain is unchanged: it holds the digests, and the
digest of the raw payload is the digest of the bytes read back.

``payloads``, ``outbox`` and ``search_terms`` lose their foreign key onto
``messages``. Each of their rows is written in the transaction that writes
its message's header row, by the one write path
(:mod:`hub.messagelog.accepting`), and no header row is ever deleted (a purge
removes payloads only): the keys never refused anything, but on PostgreSQL
each cost a trigger per row inserted, a query locking the message's row (a
WAL record of its own), seven a push — about a tenth of the server's CPU for
the push. The primary and unique keys stay; what proves the log whole is its
hash chain (``rabt audit verify``), not these keys.

PostgreSQL changes both in place. SQLite cannot: each of the three tables is
copied once (every row kept) into its new form, ``search_terms`` still
WITHOUT ROWID (revision 0010).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: the tables whose key onto messages.message_id goes, and the options their SQLite copy keeps
_TABLES = {"payloads": {}, "outbox": {}, "search_terms": {"sqlite_with_rowid": False}}
# SQLite's keys have no name: one is given by this convention while the table is copied
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    """Let ``payloads.raw`` be NULL; drop each table's foreign key onto ``messages`` (one copy each on SQLite)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column("payloads", "raw", existing_type=sa.LargeBinary, nullable=True)
        for table in _TABLES:  # by the name the database gave the key
            for key in sa.inspect(bind).get_foreign_keys(table):
                if key["referred_table"] == "messages":
                    op.drop_constraint(key["name"], table, type_="foreignkey")
        return
    for table, options in _TABLES.items():
        with op.batch_alter_table(table, recreate="always", naming_convention=_SQLITE_NAMES,
                                  table_kwargs=options) as batch:
            if table == "payloads":
                batch.alter_column("raw", existing_type=sa.LargeBinary, nullable=True)
            batch.drop_constraint(f"fk_{table}_message_id", type_="foreignkey")


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
