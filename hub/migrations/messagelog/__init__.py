"""The message log's schema history (revisions under ``versions/``).

Logs written before the history began carry no version; :func:`adopt`
recognises their layout by its columns and says which revision it is:

* payloads inside ``messages`` (the first layout): the bytes are moved to a
  ``payloads`` table row for row, which is the baseline's layout (0001);
* the baseline (0001) and the refusal digests (0002) as they are.

Moving the bytes changes no chain record: a record hashes the payloads'
digests, which stay in ``messages`` and are re-checked against the moved
bytes by ``rabt audit verify``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from hub.migrations import SchemaHistory

BASELINE_TABLES = frozenset({"messages", "payloads", "outbox", "refused", "audit_chain", "audit_head"})


def adopt(conn: Connection) -> str | None:
    """The revision an unversioned log's layout is (after moving payloads out); None when empty."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("messages"):
        return None
    if "raw" in {c["name"] for c in inspector.get_columns("messages")}:
        _move_payloads_out(conn)
    refused = {c["name"] for c in inspector.get_columns("refused")} if inspector.has_table("refused") else set()
    return "0002" if "input_sha256" in refused else "0001"


def _move_payloads_out(conn: Connection) -> None:
    """First layout → baseline: ``messages.raw``/``envelope`` become one ``payloads`` row per message."""
    operations = Operations(MigrationContext.configure(conn))
    operations.create_table(
        "payloads",
        sa.Column("message_id", sa.String(64), sa.ForeignKey("messages.message_id"), primary_key=True),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
    )
    conn.execute(sa.text("INSERT INTO payloads (message_id, raw, envelope) "
                         "SELECT message_id, raw, envelope FROM messages"))
    # In place (SQLite 3.35+ drops a plain column too): a rebuilt table would break the foreign keys onto it.
    operations.drop_column("messages", "raw")
    operations.drop_column("messages", "envelope")


def _settings_url(settings) -> str:
    return settings.effective_database_url


MESSAGE_LOG = SchemaHistory(
    name="message log", scripts="hub.migrations.messagelog", version_table="rabt_messagelog_version",
    tables=BASELINE_TABLES, adopt=adopt, default_url=_settings_url,
)
