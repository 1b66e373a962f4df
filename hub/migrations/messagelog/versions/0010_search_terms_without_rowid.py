"""``search_terms`` on SQLite becomes a WITHOUT ROWID table: its primary key is the table.

A table with a composite primary key and a rowid is two b-trees, the rows by
rowid and the key's index, so each term (about 27 a wage file, 5 million a
month) was written twice. A WITHOUT ROWID table keeps the rows in the key's
b-tree: one write a term, and a prefix search reads the same key order as
before. SQLite cannot change this in place, so the table is copied (every
term kept) into its new form. PostgreSQL has no such form; its table stays
as it is.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """On SQLite, copy ``search_terms`` into a WITHOUT ROWID table of the same columns and keys."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("search_terms", recreate="always", table_kwargs={"sqlite_with_rowid": False}):
        pass


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
