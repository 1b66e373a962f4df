"""One commit window applied in one transaction: each message once, and on its own when one fails.

Every message gets its "seen" mark (``processed_messages``, as
:class:`hub.idempotency.IdempotentConsumer` keeps it) in the transaction of
its change, so a redelivered message changes nothing twice. A window is
first applied whole (:func:`apply_gathered`): one SELECT finds which of its
messages were applied before, one statement marks the others, and their
changes run in window order, those that can be gathered
(:mod:`window_writes`) as a few statements for the whole window. A message
marked twice in one window is applied the first time only.

A savepoint per message would be two statements more each, as dear as the
message's own change, and almost every window has nothing to roll back.
Only when something of the window fails (a message's change, or a gathered
write no one message can be blamed for) is that transaction rolled back
whole and the window applied again by :func:`apply_each`: each message in
its own savepoint, its mark and change run as they come, so a message that
fails rolls back alone and its caller gets the exception, while the rest of
the window commits. The changes are plain statements on the connection, so
running them again after the rollback does each once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.errors import MessageLogError
from hub.idempotency import processed_messages
from hub.messagelog import prepared
from hub.messagelog.prepared import insert_sql
from hub.messagelog.schema import timestamp
from simulators.licensing.window_writes import WindowWrites

#: one message's change: runs inside the window's transaction, on its connection
Apply = Callable[[Connection], Any]
#: what a message came to: True applied, False already applied, or the exception its change raised
Outcome = bool | Exception


class WindowCommitError(MessageLogError):
    """The licensing database refused a window's commit: none of its messages was applied.

    Recoverable: the redeliveries apply them once the database is back.
    """

    code = "apply-window"
    recoverable = True


class WindowRolledBackError(WindowCommitError):
    """A window's commit failed: none of its messages was applied, nor anything ``record`` wrote with them."""


class UnitFailed(Exception):
    """Something of a window applied whole failed; it is applied again with a savepoint per message."""


#: The mark of a message applied, doing nothing when it is there already, as SQL text for the driver's
#: cursor (:mod:`hub.messagelog.prepared`): through Core it cost more than SQLite spends running it.
_MARK_ONCE = insert_sql(processed_messages, ("consumer", "message_id", "processed_at")) + " ON CONFLICT DO NOTHING"
#: A window's marks on PostgreSQL: one statement whatever their number (executemany sends one per row).
_MARK_ALL_ONCE = (f"INSERT INTO {processed_messages.name} (consumer, message_id, processed_at)"
                  " SELECT ?::text, m, ?::text FROM unnest(?::text[]) AS m ON CONFLICT DO NOTHING")
_SEEN = f"SELECT message_id FROM {processed_messages.name} WHERE consumer = ? AND "


def apply_gathered(conn: Connection, consumer: str, work: Sequence[tuple[str, Apply]]) -> list[Outcome]:
    """Apply ``(message_id, apply)`` pairs without savepoints, gathering what can be; True or False for each.

    Raises :class:`UnitFailed` when anything of it failed: the caller rolls the transaction back.
    """
    try:
        fresh = _marked(conn, consumer, [message_id for message_id, _ in work])
        writes = WindowWrites()
        for (_, apply), new in zip(work, fresh):
            if new:
                _apply_or_gather(conn, writes, apply)
        writes.run(conn)
    except Exception as exc:
        raise UnitFailed from exc
    return fresh


def _apply_or_gather(conn: Connection, writes: WindowWrites, apply: Apply) -> None:
    gather = getattr(apply, "gather", None)
    if gather is not None:
        gather(writes)
        return
    writes.run(conn)  # it may read what the messages before it wrote
    apply(conn)


def _marked(conn: Connection, consumer: str, message_ids: list[str]) -> list[bool]:
    """Mark the window's messages applied; for each, False when it was marked before (or earlier in the window).

    Marked before their changes run: a concurrent worker on the same id (PostgreSQL) then waits on the key
    and, once the first commits, finds it there and changes nothing.
    """
    listed, params = prepared.among(conn, "message_id", message_ids)
    seen = {row[0] for row in prepared.fetch(conn, _SEEN + listed, (consumer, *params))}
    fresh, now = [], timestamp()
    for message_id in message_ids:
        fresh.append(message_id not in seen)
        seen.add(message_id)
    new = [message_id for message_id, is_new in zip(message_ids, fresh) if is_new]
    if new and _mark_all(conn, consumer, new, now) != len(new):
        raise UnitFailed("another worker marked a message of this window meanwhile")
    return fresh


def _mark_all(conn: Connection, consumer: str, message_ids: list[str], now: str) -> int:
    """Mark ``message_ids`` (none marked before, as far as this transaction saw); how many were new."""
    if conn.dialect.name == "sqlite":  # in-process: executemany runs one prepared statement for every row
        return prepared.execute_many(conn, _MARK_ONCE, [(consumer, message_id, now) for message_id in message_ids])
    return prepared.changed(conn, _MARK_ALL_ONCE, (consumer, now, message_ids))


def apply_each(conn: Connection, consumer: str, work: Sequence[tuple[str, Apply]]) -> list[Outcome]:
    """Apply ``(message_id, apply)`` pairs each in a savepoint of its own: a failure rolls back its message only."""
    return [_apply_unit(conn, consumer, message_id, apply) for message_id, apply in work]


def _apply_unit(conn: Connection, consumer: str, message_id: str, apply: Apply) -> Outcome:
    try:
        with conn.begin_nested():
            # one statement, told by the driver's count of inserted rows: no RETURNING rows to read back (nor, on
            # SQLite before 3.35, a SELECT changes() after it)
            if prepared.changed(conn, _MARK_ONCE, (consumer, message_id, timestamp())) != 1:
                return False
            apply(conn)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # the database, not this message, failed: a redelivery will do
        failed = WindowCommitError(f"consumer {consumer} could not apply {message_id}: {exc.orig or exc}",
                                   message_id=message_id)
        failed.__cause__ = exc
        return failed
    except Exception as exc:  # noqa: BLE001 - handed to this message's caller, who raises it
        return exc
    return True
