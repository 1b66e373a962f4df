"""A stored message's status: set to its newest hop's, in as few UPDATEs as there are statuses.

A receipt's hops, an operator's action and a report's outcomes all end here,
inside the transaction that chains them (:mod:`hub.messagelog.history`,
:func:`hub.messagelog.accepting.store`). The UPDATE changes no indexed column
of ``messages`` (revision 0012), so on PostgreSQL it stays on the row's page.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from hub.messagelog import prepared
from hub.messagelog.chain import ChainEntry
from hub.messagelog.schema import messages

#: a hop as the log takes it: (message id, status, detail, actor)
Hop = tuple[str, str, str, str | None]
_SET_STATUSES = f"UPDATE {messages.name} SET status = ?, updated_at = ? WHERE {{ids}}"
#: message ids per UPDATE of :func:`set_statuses`: within the smallest bound SQLite builds have on parameters (999)
IDS_PER_UPDATE = 500


def hop_entries(hops: Sequence[Hop], now: str) -> list[ChainEntry]:
    """Each hop as the chain records it: an ``event`` setting its message's status."""
    return [ChainEntry("event", status, now, mid, str(detail), actor) for mid, status, detail, actor in hops]


def set_statuses(conn: Connection, hops: Sequence[Hop], now: str) -> None:
    """Each hop's message takes its last hop's status: one UPDATE per status (and IDS_PER_UPDATE ids).

    A receipt's hundreds of hops were as many UPDATE statements, each its own
    bookkeeping in SQLAlchemy and the driver (and on PostgreSQL its own query
    in the pipeline); they are nearly all one status.
    """
    last = {mid: status for mid, status, _detail, _actor in hops}
    by_status: dict[str, list[str]] = {}
    for mid, status in last.items():
        by_status.setdefault(status, []).append(mid)
    for status, mids in by_status.items():
        for start in range(0, len(mids), IDS_PER_UPDATE):
            ids, params = prepared.among(conn, "message_id", mids[start:start + IDS_PER_UPDATE])
            prepared.execute(conn, _SET_STATUSES.format(ids=ids), (status, now, *params))
