"""No foreign keys from ``payloads``, ``outbox`` and ``search_terms`` onto ``messages``.

Each row of these tables is written in the transaction that writes its
message's header row, by the one write path (:mod:`hub.messagelog.accepting`),
and no header row is ever deleted (a purge removes payloads only). The keys
therefore never refused anything, but on PostgreSQL each cost a trigger per
row inserted, a query locking the message's row (a WAL record of its own):
seven a push (two payloads, a queued message, four search terms), about a
tenth of the server's CPU for the push. The primary and unique keys stay.

PostgreSQL drops the constraints in place; SQLite cannot, so the three
tables are copied (every row kept) into their new form, ``search_terms``
still WITHOUT ROWID (revision 0010).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: the tables whose key onto messages.message_id goes, and the options their SQLite copy keeps
_TABLES = {"payloads": {}, "outbox": {}, "search_terms": {"sqlite_with_rowid": False}}
# SQLite's keys have no name: one is given by this convention while the table is copied
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    """Drop each table's foreign key onto ``messages`` (a copy of the table on SQLite)."""
    bind = op.get_bind()
    for table, options in _TABLES.items():
        if bind.dialect.name != "sqlite":  # by the name the database gave it
            for key in sa.inspect(bind).get_foreign_keys(table):
                if key["referred_table"] == "messages":
                    op.drop_constraint(key["name"], table, type_="foreignkey")
            continue
        with op.batch_alter_table(table, recreate="always", naming_convention=_SQLITE_NAMES,
                                  table_kwargs=options) as batch:
            batch.drop_constraint(f"fk_{table}_message_id", type_="foreignkey")


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
