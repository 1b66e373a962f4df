"""The message log's records about messages already stored: status changes, reports, operator actions.

    enqueue           a message logged with ``enqueue=False`` handed to the relay
    record_event      one status change of a stored message
    record_hops       status changes in one transaction, stored messages or not
    store_report      a party's report stored with the hops it tells of
    record_action     an operator action that concerns no single message
    record_chained    one record someone asked for (a ledger consultation)
    record_purge      the chain record and registration of a payload archive
    replay / discard  operator actions on one message

These are methods of :class:`hub.messagelog.MessageLog`, kept here as the
mixin :class:`History` because they all append to the chain about what came
after acceptance; they write through the log's lane-bound transactions
(``_writing``), which the log defines.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from hub.errors import MessageLogError
from hub.messagelog import accepting, chain, search, walk
from hub.messagelog.accepting import BatchResult
from hub.messagelog.chain import ChainEntry, fields_detail
from hub.messagelog.records import Accepted, check_status
from hub.messagelog.schema import archives, messages, outbox, payloads, timestamp
from hub.messagelog.statuses import hop_entries, set_statuses

_m, _o, _p = messages, outbox, payloads
_EXISTS = sa.select(_m.c.message_id).where(_m.c.message_id == sa.bindparam("mid"))
_HAS_PAYLOADS = sa.select(_p.c.message_id).where(_p.c.message_id == sa.bindparam("mid"))
_IN_OUTBOX = sa.select(_o.c.message_id).where(_o.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_UNQUEUE = sa.delete(_o).where(_o.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_ENQUEUE = sa.insert(_o)


class History:
    """The chain records of :class:`hub.messagelog.MessageLog` after acceptance (a mixin: the log writes)."""

    def enqueue(self, message_id: str) -> bool:
        """Hand a message logged with ``enqueue=False`` to the relay; False if it was sent or queued already."""
        with self._writing("queue a message for publishing") as conn:
            status = conn.execute(sa.select(_m.c.status).where(_m.c.message_id == message_id)).scalar()
            if status is None:
                raise MessageLogError("no such message in the log", message_id=message_id)
            if status != "received" or conn.execute(_IN_OUTBOX, {"ids": [message_id]}).first() is not None:
                return False
            conn.execute(_ENQUEUE, {"message_id": message_id, "enqueued_at": timestamp()})
        return True

    def record_event(self, message_id: str, status: str, detail: str = "", actor: str | None = None) -> int:
        """Append a status change of ``message_id``; the chain record number."""
        return self._event(message_id, status, detail, actor)

    def record_hops(self, hops: Sequence[tuple[str, str, str, str | None]]) -> list[int]:
        """Append ``(message_id, status, detail, actor)`` hops in one transaction; their record numbers.

        Unlike :meth:`record_event` a hop may name a message the log does not
        store (a query the licensing system published itself): it is chained
        all the same, so the trail of that id still shows it. A stored
        message's status follows its newest hop.
        """
        if not hops:
            return []
        for _mid, status, _detail, _actor in hops:
            check_status(status)
        now = timestamp()
        with self._writing("record hops") as conn:
            seqs = chain.append(conn, hop_entries(hops, now))
            set_statuses(conn, hops, now)
        return seqs

    def store_report(self, record: Accepted, hops: Sequence[tuple[str, str, str, str | None]]) -> BatchResult:
        """Store a party's report (a delivery receipt) and the hops it tells of, in one transaction.

        Stored as sent (it came to the hub and goes nowhere). A repeat of a
        report stored before is a duplicate in the result and adds no hop,
        so a report sent twice is chained once. The hops are chained right
        after the report's own records and set their messages' statuses in the
        report's write (on PostgreSQL its one statement and one round trip).
        """
        for _mid, status, _detail, _actor in hops:
            check_status(status)
        terms = search.terms_for([record])
        return self._stored("store a report and its hops", lambda conn, check_taken: accepting.store(
            conn, [record], False, terms, sent=True, check_taken=check_taken, ends=True, hops=hops))

    def record_action(self, action: str, target: str, detail: str, actor: str) -> int:
        """Chain an operator action that concerns no single message (a purge, a pause); its record number."""
        entry = ChainEntry("action", action[:20], timestamp(), None,
                           fields_detail({"target": target, "detail": detail}, ("target", "detail")), _actor(actor))
        with self._writing(f"record the action {action}") as conn:
            [seq] = chain.append(conn, [entry])
        return seq

    def record_chained(self, entry: ChainEntry) -> int:
        """Chain one record someone asked for (a ledger consultation, see :mod:`hub.messagelog.ledger`); its number."""
        _actor(entry.actor)
        with self._writing(f"record {entry.status}") as conn:
            [seq] = chain.append(conn, [entry])
        return seq

    def record_purge(self, archive_id: str, name: str, anchor_seq: int, heads: Sequence[tuple[str, int, str]],
                     actor: str) -> int | None:
        """Chain that the payloads of the records up to ``heads`` may go, archive ``archive_id`` holding them.

        Registers the archive beside its chain record; None (nothing written)
        when the archive is registered already. See :mod:`hub.messagelog.retention`.
        """
        detail = walk.purge_detail(name, anchor_seq, heads)
        with self._writing("record the purge") as conn:
            if conn.execute(sa.select(archives.c.chain_seq).where(archives.c.archive_id == archive_id)).first():
                return None
            now = timestamp()
            [seq] = chain.append(conn, [ChainEntry(walk.PURGE_KIND, walk.PURGE_STATUS, now, archive_id, detail,
                                                   _actor(actor))])
            conn.execute(sa.insert(archives), {"archive_id": archive_id, "name": name, "anchor_seq": anchor_seq,
                                               "purged_at": now, "chain_seq": seq})
        return seq

    def replay(self, message_id: str, actor: str, detail: str = "") -> int:
        """Operator action: publish the message again (typically a dead letter)."""
        return self._event(message_id, "replayed", detail, _actor(actor), requeue=True)

    def discard(self, message_id: str, actor: str, detail: str = "") -> int:
        """Operator action: give up on the message; it leaves the outbox if it was there."""
        return self._event(message_id, "discarded", detail, _actor(actor), unqueue=True)

    def _event(self, message_id, status, detail, actor, requeue=False, unqueue=False) -> int:
        check_status(status)
        now = timestamp()
        with self._writing(f"record status {status}") as conn:
            if conn.execute(_EXISTS, {"mid": message_id}).first() is None:
                raise MessageLogError("no such message in the log", message_id=message_id)
            if requeue and conn.execute(_HAS_PAYLOADS, {"mid": message_id}).first() is None:
                raise MessageLogError("its payloads were archived and purged from the log: it cannot be "
                                      "published again", message_id=message_id)
            hop = [(message_id, status, detail, actor)]
            [seq] = chain.append(conn, hop_entries(hop, now))
            set_statuses(conn, hop, now)
            queued = conn.execute(_IN_OUTBOX, {"ids": [message_id]}).first() is not None
            if requeue and not queued:
                conn.execute(_ENQUEUE, {"message_id": message_id, "enqueued_at": now})
            if unqueue and queued:
                conn.execute(_UNQUEUE, {"ids": [message_id]})
        return seq


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise MessageLogError("an operator action needs the operator's name (actor)")
    return actor.strip()
