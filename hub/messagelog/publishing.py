"""The outbox side of the log: what waits for the broker, and marking what it confirmed.

The relay reads a batch and marks it published every round, so these
statements run on the driver's cursor (:mod:`hub.messagelog.prepared`), as
the acceptance's do. A confirm recorded twice (two relays, or one that
re-publishes after a crash) adds no second history record: the rows still
pending are locked, in one order, and only those are marked.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from hub.messagelog import chain, pipelines, prepared
from hub.messagelog.chain import ChainEntry
from hub.messagelog.records import PendingMessage
from hub.messagelog.schema import messages, outbox, payloads

_m, _o, _p = messages.name, outbox.name, payloads.name
_PENDING = (f"SELECT m.message_id, m.routing_key, m.correlation_id, m.message_type, m.source_agency, p.envelope "
            f"FROM {_o} o JOIN {_m} m ON o.message_id = m.message_id JOIN {_p} p ON p.message_id = o.message_id "
            "ORDER BY o.id LIMIT ?")
# Writers of other lanes do not wait on ours: two relays marking the same messages lock their rows,
# in one order, so the second sees them published and adds no second record.
_QUEUED = f"SELECT message_id FROM {_o} WHERE {{ids}} ORDER BY message_id"
# logged with enqueue=False and not sent yet. A message in the outbox is left to _QUEUED, whose lock on its outbox
# row already orders two relays: locking its header row too wrote a WAL record more per message on PostgreSQL.
_UNSENT = (f"SELECT message_id FROM {_m} m WHERE {{ids}} AND status = 'received' "
           f"AND NOT EXISTS (SELECT 1 FROM {_o} o WHERE o.message_id = m.message_id) ORDER BY message_id")
_UNQUEUE = f"DELETE FROM {_o} WHERE {{ids}}"
# A hop recorded meanwhile by another party (a destination's receipt saying it applied the message, which
# can arrive before the relay's confirm batch is written) stays the status: a confirm never sets it back.
_PUBLISHED = (f"UPDATE {_m} SET status = CASE WHEN status IN ('received', 'replayed') THEN 'published' "
              "ELSE status END, published_at = ?, updated_at = ? WHERE {ids}")


def pending(conn: Connection, limit: int) -> list[PendingMessage]:
    """Up to ``limit`` messages in the outbox, oldest first."""
    return [PendingMessage(*row) for row in prepared.fetch(conn, _PENDING, (max(1, int(limit)),))]


def mark_published(conn: Connection, message_ids: Sequence[str], now: str, *, ends: bool = False) -> list[str]:
    """Chain and mark as published those of ``message_ids`` (distinct) still pending; those, in input order.

    The lane's lock, the look-ups of what is still pending and the record
    numbers are sent together (one round trip on PostgreSQL), then the
    writes after them (one more); the numbers of ids found already marked go
    unused (a gap, see :func:`hub.messagelog.chain.numbers_later`). With ``ends`` the transaction ends
    here: its COMMIT goes with the writes (see :func:`hub.messagelog.pipelines.pipelined`).
    """
    ids, params = prepared.among(conn, "message_id", message_ids)
    lock = prepared.locking(conn)
    with pipelines.pipelined(conn, commit=ends):
        head, numbers = chain.lock_and_numbers_later(conn, len(message_ids))
        queued = prepared.send(conn, _QUEUED.format(ids=ids) + lock, params)
        unsent = prepared.send(conn, _UNSENT.format(ids=ids) + lock, params)
        head()
        still = {mid for (mid,) in queued()}
        still.update(mid for (mid,) in unsent())
        marked = [mid for mid in message_ids if mid in still]
        if not marked:
            numbers()  # read all the same: its cursor is closed once read
            return marked
        chain.append(conn, [ChainEntry("event", "published", now, mid) for mid in marked], numbers)
        ids, params = prepared.among(conn, "message_id", marked)
        prepared.execute(conn, _UNQUEUE.format(ids=ids), params)
        prepared.execute(conn, _PUBLISHED.format(ids=ids), (now, now, *params))
    return marked
