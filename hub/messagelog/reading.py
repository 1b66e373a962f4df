"""The message log's read side: stored messages, their history, refusals, actions, counts, the chain check.

    get / find        stored messages, by id or by header filters
    destinations      where each of some messages goes
    events            the status history of one message
    actions           operator actions in the chain
    refusals          refused inputs
    unpublished       the relay's pending messages
    stats             counts by status, backlog, refusals, chain size, last activity
    verify_chain      the whole chain and every stored payload re-checked

These are methods of :class:`hub.messagelog.MessageLog`, kept here as the
mixin :class:`Reading` because none of them writes: each reads through the
log's engine (``engine``) and takes no lane.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.messagelog import chain, db, publishing, verify
from hub.messagelog.records import Event, LogStats, PendingMessage, Refusal, StoredMessage
from hub.messagelog.schema import audit_chain, messages, outbox, parse_timestamp, payloads, raw_payload, refused
from hub.messagelog.schema import lanes as lane_heads

_m, _o, _c, _p = messages, outbox, audit_chain, payloads
# A stored message is its header row with its payloads, in StoredMessage's field order.
_COLUMNS = [_m.c[f.name] if f.name in _m.c else raw_payload.label("raw") if f.name == "raw" else _p.c[f.name]
            for f in dataclasses.fields(StoredMessage)]
# Outer: a purged message keeps its header row and chain records, its payloads are in an archive.
_WITH_PAYLOADS = _m.outerjoin(_p, _p.c.message_id == _m.c.message_id)
_GET = sa.select(*_COLUMNS).select_from(_WITH_PAYLOADS).where(_m.c.message_id == sa.bindparam("mid"))
_EVENTS = sa.select(_c.c.seq, _c.c.message_id, _c.c.status, _c.c.at, _c.c.detail, _c.c.actor).where(
    _c.c.message_id == sa.bindparam("mid")).order_by(_c.c.seq)


class Reading:
    """The read side of :class:`hub.messagelog.MessageLog` (a mixin: the log holds the engine)."""

    engine: Engine

    def get(self, message_id: str) -> StoredMessage | None:
        """The stored message, or None when the log does not have it."""
        with db.translated("read a message"), self.engine.connect() as conn:
            row = conn.execute(_GET, {"mid": message_id}).first()
        return None if row is None else _stored(row)

    def find(self, *, correlation_id: str | None = None, message_type: str | None = None,
             source_agency: str | None = None, status: str | None = None, limit: int = 100) -> list[StoredMessage]:
        """Messages matching every given filter, newest first."""
        query = sa.select(*_COLUMNS).select_from(_WITH_PAYLOADS)
        for column, value in ((_m.c.correlation_id, correlation_id), (_m.c.message_type, message_type),
                              (_m.c.source_agency, source_agency), (_m.c.status, status)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(_m.c.received_at.desc(), _m.c.message_id).limit(max(1, min(int(limit), 10_000)))
        with db.translated("search messages"), self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def destinations(self, message_ids: Sequence[str]) -> dict[str, str]:
        """Destination of each of ``message_ids`` the log stores (the others are absent)."""
        query = sa.select(_m.c.message_id, _m.c.destination).where(_m.c.message_id.in_(list(message_ids)))
        with db.translated("read the destinations of messages"), self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def events(self, message_id: str) -> list[Event]:
        """The status history of ``message_id``, oldest first."""
        with db.translated("read the status history"), self.engine.connect() as conn:
            rows = conn.execute(_EVENTS, {"mid": message_id}).all()
        return [Event(r.seq, r.message_id, r.status, parse_timestamp(r.at), r.detail, r.actor) for r in rows]

    def actions(self, limit: int = 100) -> list[Event]:
        """Operator actions in the chain (anything with an actor), newest first."""
        query = (sa.select(_c.c.seq, _c.c.message_id, _c.c.status, _c.c.at, _c.c.detail, _c.c.actor)
                 .where(_c.c.actor.is_not(None)).order_by(_c.c.seq.desc()).limit(max(1, int(limit))))
        with db.translated("read operator actions"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Event(r.seq, r.message_id, r.status, parse_timestamp(r.at), r.detail, r.actor) for r in rows]

    def refusals(self, agency: str | None = None, limit: int = 100) -> list[Refusal]:
        """Refused inputs, newest first."""
        query = sa.select(refused).order_by(refused.c.received_at.desc()).limit(max(1, int(limit)))
        if agency is not None:
            query = query.where(refused.c.agency == agency)
        with db.translated("read refused input"), self.engine.connect() as conn:
            return [Refusal(r.refusal_id, r.agency, r.reason, r.raw, parse_timestamp(r.received_at),
                            r.input_sha256, r.input_size) for r in conn.execute(query)]

    def unpublished(self, limit: int = 500) -> list[PendingMessage]:
        """Up to ``limit`` stored messages not yet confirmed by the broker, oldest first."""
        with db.translated("read the outbox"), db.reading(self.engine) as conn:
            return publishing.pending(conn, limit)

    def stats(self, *, by_status: bool = True) -> LogStats:
        """Message counts by status, outbox backlog, refusals, chain size and last activity.

        The counts by status read every header row (no index on ``status``, see revision 0012): a caller
        sampling the rest every few seconds (the metrics' gauges) passes ``by_status=False`` and gets none.
        """
        with db.translated("compute statistics"), self.engine.connect() as conn:
            by_status = dict(conn.execute(sa.select(_m.c.status, sa.func.count()).group_by(_m.c.status)).all()
                             ) if by_status else {}
            backlog = conn.execute(sa.select(sa.func.count()).select_from(_o)).scalar_one()
            refusals = conn.execute(sa.select(sa.func.count()).select_from(refused)).scalar_one()
            records = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(lane_heads.c.seq), 0))).scalar_one()
            newest = conn.execute(chain.HEAD).scalar_one()
            last = conn.execute(sa.select(_c.c.at).where(_c.c.seq == newest)).scalar()
        return LogStats(by_status, backlog, refusals, int(records), parse_timestamp(last))

    def verify_chain(self, progress: verify.Progress | None = None, *, every: int = 10_000,
                     raise_on_error: bool = True) -> verify.ChainReport:
        """Recompute the chain and re-hash every stored payload (see :mod:`hub.messagelog.verify`).

        ``progress(checked, total)`` is called every ``every`` records. Raises
        AuditChainError naming the first broken record unless ``raise_on_error``
        is false, in which case the report says it.
        """
        with db.translated("verify the audit chain"):
            report = verify.verify(self.engine, progress, every)
        return report.raise_for_error() if raise_on_error else report


def _stored(row) -> StoredMessage:
    values = dict(row._mapping)
    for name in ("created_at", "received_at", "published_at", "updated_at"):
        values[name] = parse_timestamp(values[name])
    return StoredMessage(**values)
