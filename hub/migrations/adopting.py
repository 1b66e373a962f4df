"""For revisions that bring a table into the history which older code created on first use.

Such a table already exists, with rows, in every database a live installation
used (the code ran ``CREATE TABLE IF NOT EXISTS`` when it first opened it), and
in no database created since. A revision therefore creates it when it is
missing and otherwise adopts the table as it stands: its rows are the
installation's data, and it was made from the same definition the revision
states. A table of that name without the columns the revision expects is not
one the hub made; the migration stops there, naming the missing columns,
rather than guess.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError


def create_or_adopt(name: str, *columns: sa.Column) -> bool:
    """Create table ``name`` (with the indexes its columns ask for) unless it exists; True when created.

    An existing table is kept as it is, rows and all, provided it has every
    column in ``columns``; otherwise CommandError, which
    :meth:`hub.migrations.SchemaHistory.upgrade` reports naming the database.
    """
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(name):
        op.create_table(name, *columns)
        return True
    present = {column["name"] for column in inspector.get_columns(name)}
    missing = [column.name for column in columns if column.name not in present]
    if missing:
        raise CommandError(f"table {name} exists but lacks the column(s) {', '.join(missing)}: "
                           "it was not created by rabt; rename or drop it, then upgrade again")
    return False
