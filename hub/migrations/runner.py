"""What every schema history's ``env.py`` runs: its revisions, on the connection the caller holds.

:meth:`hub.migrations.SchemaHistory.upgrade` opens the transaction and takes
the migration lock before Alembic starts, and passes that connection in
``config.attributes``; Alembic joins the transaction instead of opening its own.
"""

from __future__ import annotations

from alembic import context


def run() -> None:
    """Run the requested migrations (online only: the hub never prints SQL for someone else to run)."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through hub.migrations.SchemaHistory, which passes a connection")
    context.configure(connection=connection, version_table=config.attributes["version_table"])
    with context.begin_transaction():
        context.run_migrations()
