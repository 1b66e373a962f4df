"""Retention: remove from the log the payloads an archive now holds, keeping every chain record.

A purge first chains one record (kind ``purge``) naming the archive — the
SHA-256 of its signed manifest — and every lane head its anchor binds, and
registers the archive in ``archives``; only then are the payloads of the
accepted records up to those heads deleted, a page at a time, each message's
header row noting the archive (``archived_in``). ``rabt audit verify`` then
accepts a missing payload only where a purge record covers it
(:class:`hub.messagelog.walk.PurgeCoverage`): a payload deleted any other
way is still named. Messages still waiting in the outbox keep their bytes
(the relay needs them); running the purge again later takes them, and
finishes a purge a crash interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from hub.errors import MessageLogError
from hub.messagelog import db
from hub.messagelog.anchors import Head
from hub.messagelog.log import MessageLog
from hub.messagelog.schema import anchors, audit_chain, messages, outbox, payloads

_c = audit_chain
_PAGE = 1000
_ACCEPTED = (sa.select(_c.c.lane_seq, _c.c.message_id)
             .where(_c.c.lane == sa.bindparam("lane"), _c.c.lane_seq > sa.bindparam("after"),
                    _c.c.lane_seq <= sa.bindparam("upto"), _c.c.kind == "accepted")
             .order_by(_c.c.lane_seq).limit(_PAGE))
_QUEUED = sa.select(outbox.c.message_id)
_DELETE = sa.delete(payloads).where(payloads.c.message_id.in_(sa.bindparam("ids", expanding=True)),
                                    payloads.c.message_id.not_in(_QUEUED))
_MARK = (sa.update(messages).where(messages.c.message_id.in_(sa.bindparam("ids", expanding=True)),
                                   messages.c.message_id.not_in(_QUEUED), messages.c.archived_in.is_(None))
         .values(archived_in=sa.bindparam("name")))
_ANCHOR_HASH = sa.select(anchors.c.hash).where(anchors.c.anchor_seq == sa.bindparam("seq"))
_QUEUED_IN = sa.select(sa.func.count()).select_from(outbox).where(
    outbox.c.message_id.in_(sa.bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class PurgeResult:
    """What a purge did."""

    archive_id: str
    name: str
    recorded: bool
    """False when the archive's purge was chained by an earlier run (this one only went on deleting)."""

    purged: int
    """Messages whose payloads were deleted now."""

    kept_queued: int
    """Messages covered but still in the outbox: their payloads stay until a later run."""


def purge(log: MessageLog, *, archive_id: str, name: str, anchor_seq: int, anchor_hash: str,
          heads: Sequence[Head], actor: str, after: Sequence[Head] = ()) -> PurgeResult:
    """Purge the payloads of the records after ``after`` up to ``heads`` — those of a verified archive of THIS log.

    ``after`` is the archive's base: the records up to it are in the archive
    before, whose own purge takes them (so purging a later archive first never
    removes payloads that only an earlier archive holds).
    """
    start = {lane_id: seq for lane_id, seq, _hash in after}
    with db.translated("read the archive's anchor"), log.engine.connect() as conn:
        ours = conn.execute(_ANCHOR_HASH, {"seq": anchor_seq}).scalar()
    if ours != anchor_hash:
        raise MessageLogError(f"archive {name} is not of this message log: its anchor {anchor_seq} "
                              f"{'is not here' if ours is None else 'differs from ours'}")
    recorded = log.record_purge(archive_id, name, anchor_seq, heads, actor) is not None
    purged = kept = 0
    for lane_id, seq, _hash in heads:
        done, queued = _purge_lane(log, lane_id, seq, name, start.get(lane_id, 0))
        purged, kept = purged + done, kept + queued
    return PurgeResult(archive_id, name, recorded, purged, kept)


def _purge_lane(log: MessageLog, lane_id: str, upto: int, name: str, after: int = 0) -> tuple[int, int]:
    """Delete the payloads of ``lane_id``'s accepted records after ``after`` up to ``upto``, a page a transaction."""
    purged = kept = 0
    while True:
        with db.translated("purge archived payloads"), db.write_transaction(log.engine) as conn:
            page = conn.execute(_ACCEPTED, {"lane": lane_id, "after": after, "upto": upto}).all()
            if not page:
                return purged, kept
            ids = [row.message_id for row in page]
            conn.execute(_MARK, {"ids": ids, "name": name})
            purged += conn.execute(_DELETE, {"ids": ids}).rowcount
            kept += conn.execute(_QUEUED_IN, {"ids": ids}).scalar_one()
        after = page[-1].lane_seq
