"""Outcomes waiting for their DeliveryReceipt, kept in licensing's own database.

A commit window writes the outcomes that need a receipt in its own
transaction (:meth:`ReceiptStore.record`, on the window's connection), so
they are durable exactly when the changes they report are. The receipt
sender reads them (:meth:`ReceiptStore.waiting`), seals and publishes them,
and deletes them once the broker confirmed the receipt
(:meth:`ReceiptStore.sent`). A crash between the commit and the confirm
leaves them in the table, and the next sender sends them: the hub's trail
gets its ``applied`` mark late, not never. A crash between the confirm and
the delete sends them twice; the hub chains the second like the first.

One sender per database: two consumer processes on one PostgreSQL database
would each send what the other's windows recorded as well.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from hub.messagelog import prepared
from hub.messagelog.db import write_transaction
from hub.messagelog.prepared import insert_sql
from simulators.licensing.tables import pending_receipts

#: one outcome: message id, applied | duplicate | failed, and for a failure its code and reason
Outcome = tuple[str, str, str | None, str | None]

_COLUMNS = ("message_id", "result", "code", "reason")
_RECORD = insert_sql(pending_receipts, _COLUMNS)
_WAITING = f"SELECT id, {', '.join(_COLUMNS)} FROM {pending_receipts.name} ORDER BY id LIMIT ?"


class ReceiptStore:
    """The table of outcomes not yet sent, on ``engine`` (licensing's database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def record(conn: Connection, outcomes: Sequence[Outcome]) -> None:
        """Write ``outcomes`` on ``conn``, inside the caller's transaction (the commit window's)."""
        # on the driver's cursor, as the window's other statements: Core's insert of a list of dicts cost
        # more than the driver's own work, once in every window of pushed messages
        prepared.execute_many(conn, _RECORD, outcomes)

    # The reads and deletes of every receipt, on the driver's cursor too: Core made a Row of each of a receipt's
    # up to 1,000 outcomes, and compiled a delete of as many ids anew for each receipt.

    def waiting(self, limit: int, skip: set[int] | frozenset[int] = frozenset()) -> list[tuple[int, Outcome]]:
        """Up to ``limit`` stored outcomes, oldest first, with their row ids; rows in ``skip`` left out."""
        with self.engine.connect() as conn:
            rows = prepared.fetch(conn, _WAITING, (limit + len(skip),))
        return [(row[0], row[1:]) for row in rows if row[0] not in skip][:limit]

    def sent(self, row_ids: Sequence[int]) -> None:
        """Forget the outcomes of ``row_ids``: the broker confirmed the receipt that lists them."""
        if row_ids:
            with write_transaction(self.engine) as conn:
                listed, params = prepared.among(conn, "id", list(row_ids))
                prepared.execute(conn, f"DELETE FROM {pending_receipts.name} WHERE {listed}", params)
