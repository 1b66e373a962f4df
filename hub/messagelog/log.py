"""The message log: every raw payload and signed envelope, stored before it is published.

Accepting a message stores the raw payload, the signed envelope, the header
fields, an outbox row and the acceptance's chain record in ONE transaction:
either all of it is there or none of it. Status changes and operator actions
are chain records too, so the status history cannot be edited unnoticed.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog import accepting, anchors, chain, db, lanes, publishing, search, verify, walk
from hub.messagelog.accepting import BatchResult
from hub.messagelog.anchors import Anchor, AnchorPolicy, AnchorSchedule
from hub.messagelog.chain import REFUSAL_FIELDS, ChainEntry, fields_detail
from hub.messagelog.records import (
    REFUSAL_HEAD_BYTES, Accepted, Event, LogStats, PendingMessage, Refusal, StoredMessage, check_status,
    input_digest, sha256_hex,
)
from hub.messagelog.schema import (
    REFUSAL_DIGEST_COLUMNS, archives, audit_chain, messages, outbox, parse_timestamp, payloads, refused, timestamp,
)
from hub.messagelog.schema import lanes as lane_heads

logger = logging.getLogger(__name__)

_m, _o, _c, _p = messages, outbox, audit_chain, payloads
_EXISTS = sa.select(_m.c.message_id).where(_m.c.message_id == sa.bindparam("mid"))
_HAS_PAYLOADS = sa.select(_p.c.message_id).where(_p.c.message_id == sa.bindparam("mid"))
# A stored message is its header row with its payloads, in StoredMessage's field order.
_COLUMNS = [_m.c[f.name] if f.name in _m.c else _p.c[f.name] for f in dataclasses.fields(StoredMessage)]
# Outer: a purged message keeps its header row and chain records, its payloads are in an archive.
_WITH_PAYLOADS = _m.outerjoin(_p, _p.c.message_id == _m.c.message_id)
_GET = sa.select(*_COLUMNS).select_from(_WITH_PAYLOADS).where(_m.c.message_id == sa.bindparam("mid"))
_SET_STATUS = sa.update(_m).where(_m.c.message_id == sa.bindparam("mid")).values(
    status=sa.bindparam("status"), updated_at=sa.bindparam("at"))
_EVENTS = sa.select(_c.c.seq, _c.c.message_id, _c.c.status, _c.c.at, _c.c.detail, _c.c.actor).where(
    _c.c.message_id == sa.bindparam("mid")).order_by(_c.c.seq)
_IN_OUTBOX = sa.select(_o.c.message_id).where(_o.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_UNQUEUE = sa.delete(_o).where(_o.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_ENQUEUE = sa.insert(_o)


def open_message_log(url: str, *, create: bool = True, anchoring: AnchorPolicy | None = None) -> MessageLog:
    """Open the message log at ``url``, bringing its layout to this version's first.

    A new log is created by the migrations (:mod:`hub.migrations`), as an old
    one is moved forward: on SQLite a log of an earlier layout is upgraded on
    open, on PostgreSQL it is refused until ``rabt db upgrade`` has run (see
    :func:`hub.migrations.open_schema` for why). With ``create=False``
    (read-only tools such as ``rabt audit verify``) nothing is written: a log
    that does not exist or is behind is a MessageLogError. ``anchoring`` says
    how often this process anchors the lanes (see :mod:`hub.messagelog.anchors`).
    """
    # Imported here: hub.migrations uses this package's db helpers.
    from hub.migrations import open_schema
    from hub.migrations.messagelog import MESSAGE_LOG

    engine = db.make_engine(url)
    if not create:
        db.require_database(engine)  # before the layout check, whose connection would create the file
    open_schema(engine, MESSAGE_LOG, create=create, upgrade=create and db.is_sqlite(engine))
    return MessageLog(engine, anchoring or AnchorPolicy())


class MessageLog:
    """Stores messages, their status history and the hash chains over both.

    The first write takes this process's lane (:mod:`hub.messagelog.lanes`);
    every write after that appends there, and anchors the lanes when the
    schedule says so.
    """

    def __init__(self, engine: Engine, anchoring: AnchorPolicy | None = None) -> None:
        self.engine = engine
        self._lane = lanes.Lane(engine)
        self._anchoring = AnchorSchedule(anchoring or AnchorPolicy())
        self._held: db.HeldConnection | None = None

    def holding(self) -> MessageLog:
        """This log, its writes made on one connection kept between them: for one writer at a time.

        The group committer's leaders, who take turns, write through it. It
        shares this log's engine, lane and anchor schedule; its :meth:`close`
        gives the kept connection back and leaves the engine open.
        """
        view = copy.copy(self)
        view._held = db.HeldConnection(self.engine)
        return view

    def close(self) -> None:
        """Release pooled connections (a :meth:`holding` view: its kept connection only)."""
        if self._held is not None:
            self._held.close()
        else:
            self.engine.dispose()

    def __enter__(self) -> MessageLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _writing(self, action: str, *, lock: bool = True) -> Iterator[Connection]:
        """A write transaction bound to the lane; ``lock=False``: the caller locks the lane first itself."""
        with db.translated(action):
            self._lane.lane_id  # noqa: B018 - registers the lane in its own commit, never inside this one
        transaction = self._held.transaction() if self._held else db.write_transaction(self.engine)
        with db.translated(action), transaction as conn:
            conn = self._lane.bind(conn)
            if lock:
                lanes.lock(conn)  # taken first, so this process's writers queue in the same order
            yield conn
        self._anchor_if_due()

    def _anchor_if_due(self) -> None:
        """Anchor after a committed write when due; a failure waits for the next write, never fails this one."""
        try:
            self._anchoring.after_write(self.engine, self._lane.appended)
        except MessageLogError as exc:
            logger.warning("the audit chain was not anchored, trying again after the next write: %s", exc)

    def anchor(self) -> Anchor | None:
        """Bind every lane's head in a new anchor now; None when nothing moved since the newest anchor."""
        return anchors.take(self.engine)

    def accept(self, record: Accepted, *, enqueue: bool = True, answer: Accepted | None = None) -> str:
        """Store ``record`` with status ``received`` and queue it for publishing; its id.

        With ``enqueue=False`` the caller sends the message itself (request/reply):
        it is logged but the relay never sees it, unless :meth:`enqueue` hands it
        over later. Raises DuplicateMessageError (with ``first_message_id``) when
        the agency sent this message id before with the same content, and
        ConflictingMessageError when it used the id for other content; nothing
        new is stored then. ``answer``, the hub's signed answer about ``record``
        (a receipt), is stored as sent in the same transaction when ``record`` is.
        """
        result = self.accept_many([record], enqueue=enqueue, answers={record.message_id: answer} if answer else None)
        if result.duplicates:
            raise result.duplicates[0]
        return record.message_id

    def accept_many(self, records: Sequence[Accepted], *, enqueue: bool = True,
                    answers: Mapping[str, Accepted] | None = None) -> BatchResult:
        """Store a batch (a wage file's records, say) in one transaction.

        Duplicates are left out and reported in the result; a malformed record
        or a reused hub message id refuses the whole batch (MessageLogError),
        and so does an agency id reused for other content (ConflictingMessageError).
        ``answers`` (record id → the hub's signed answer about it, e.g. the
        gateway's receipt) are stored as sent in the same transaction, each
        with its record and never for a duplicate; their ids follow in ``stored``.
        """
        records = list(records)
        if not records:
            return BatchResult()
        terms = search.terms_for(records)
        try:
            with self._writing("store the messages", lock=False) as conn:  # store() locks first
                # a reused hub id is left to the primary key here: one query less on every write
                return accepting.store(conn, records, enqueue, terms, answers=answers, check_taken=False)
        except MessageLogError as exc:
            if not isinstance(exc.__cause__, sa.exc.IntegrityError):
                raise
        # Another process stored the same agency id between our check and our insert (lanes do not
        # wait on each other; the unique key decided), or a hub id was reused: once more, the checks
        # now find it.
        with self._writing("store the messages", lock=False) as conn:  # store() locks first
            return accepting.store(conn, records, enqueue, terms, answers=answers)

    def store_sent(self, records: Sequence[Accepted]) -> BatchResult:
        """Store records that already went out over the exchange that brought them, as published, in one write.

        What :meth:`accept_many` with ``enqueue=False`` then :meth:`mark_published`
        would leave — status ``published``, history *received* then *published*,
        no outbox row — in one transaction instead of two. For request/reply: a
        question with its answer, the gateway's signed reply to a partner.
        Duplicates and refusals as in :meth:`accept_many`.
        """
        records = list(records)
        if not records:
            return BatchResult()
        terms = search.terms_for(records)
        with self._writing("store the messages sent", lock=False) as conn:  # store() locks first
            return accepting.store(conn, records, False, terms, sent=True)

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

    def refuse(self, raw: bytes | str, agency: str | None, reason: str, *,
               input_sha256: str | None = None, input_size: int | None = None) -> str:
        """Record refused input (unparseable, bad signature…) with the reason; its refusal id.

        Only a bounded digest is kept, never the whole input: its SHA-256, its
        size and its first :data:`REFUSAL_HEAD_BYTES` bytes, so a flood of big
        hostile requests cannot grow the log by their size. A caller that no
        longer holds the whole input (a big file) passes its digest and size
        with the first bytes as ``raw``.
        """
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        head = data[:REFUSAL_HEAD_BYTES]
        input_sha256, input_size = input_digest(data, input_sha256, input_size)
        values = {"refusal_id": str(uuid.uuid4()), "agency": agency or "unknown", "reason": str(reason),
                  "raw": head, "raw_sha256": sha256_hex(head), "received_at": timestamp(),
                  "input_sha256": input_sha256, "input_size": input_size}
        # The whole input's digest is in the chained detail, so it is as tamper-evident as the reason.
        entry = ChainEntry("refused", "refused", values["received_at"], values["refusal_id"],
                           fields_detail(values, (*REFUSAL_FIELDS, *REFUSAL_DIGEST_COLUMNS)),
                           raw_sha256=values["raw_sha256"])
        with self._writing("store the refused input") as conn:
            [seq] = chain.append(conn, [entry])
            conn.execute(sa.insert(refused), {**values, "chain_seq": seq})
        return values["refusal_id"]

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
        entries = [ChainEntry("event", status, now, mid, str(detail), actor) for mid, status, detail, actor in hops]
        with self._writing("record hops") as conn:
            seqs = chain.append(conn, entries)
            conn.execute(_SET_STATUS, [{"mid": mid, "status": status, "at": now} for mid, status, _d, _a in hops])
        return seqs

    def store_report(self, record: Accepted, hops: Sequence[tuple[str, str, str, str | None]]) -> BatchResult:
        """Store a party's report (a delivery receipt) and the hops it tells of, in one transaction.

        Stored as sent (it came to the hub and goes nowhere). A repeat of a
        report stored before is a duplicate in the result and adds no hop,
        so a report sent twice is chained once.
        """
        for _mid, status, _detail, _actor in hops:
            check_status(status)
        terms = search.terms_for([record])
        with self._writing("store a report and its hops") as conn:
            result = accepting.store(conn, [record], False, terms, sent=True)
            if result.stored and hops:
                now = timestamp()
                chain.append(conn, [ChainEntry("event", status, now, mid, str(detail), actor)
                                    for mid, status, detail, actor in hops])
                conn.execute(_SET_STATUS, [{"mid": mid, "status": status, "at": now} for mid, status, _d, _a in hops])
        return result

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

    def actions(self, limit: int = 100) -> list[Event]:
        """Operator actions in the chain (anything with an actor), newest first."""
        query = (sa.select(_c.c.seq, _c.c.message_id, _c.c.status, _c.c.at, _c.c.detail, _c.c.actor)
                 .where(_c.c.actor.is_not(None)).order_by(_c.c.seq.desc()).limit(max(1, int(limit))))
        with db.translated("read operator actions"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Event(r.seq, r.message_id, r.status, parse_timestamp(r.at), r.detail, r.actor) for r in rows]

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
            [seq] = chain.append(conn, [ChainEntry("event", status, now, message_id, str(detail), actor)])
            conn.execute(_SET_STATUS, {"mid": message_id, "status": status, "at": now})
            queued = conn.execute(_IN_OUTBOX, {"ids": [message_id]}).first() is not None
            if requeue and not queued:
                conn.execute(_ENQUEUE, {"message_id": message_id, "enqueued_at": now})
            if unqueue and queued:
                conn.execute(_UNQUEUE, {"ids": [message_id]})
        return seq

    def unpublished(self, limit: int = 500) -> list[PendingMessage]:
        """Up to ``limit`` stored messages not yet confirmed by the broker, oldest first."""
        with db.translated("read the outbox"), db.reading(self.engine) as conn:
            return publishing.pending(conn, limit)

    def mark_published(self, message_ids: Iterable[str]) -> int:
        """Record that the broker confirmed these messages; how many were still pending.

        Pending means in the outbox, or logged with ``enqueue=False`` and not
        sent yet (status ``received``). Others (already marked, discarded) are
        skipped, so a relay that re-publishes after a crash does not double the history.
        """
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return 0
        now = timestamp()
        with self._writing("mark messages published") as conn:
            return len(publishing.mark_published(conn, ids, now))

    def get(self, message_id: str) -> StoredMessage | None:
        """The stored message, or None when the log does not have it."""
        with db.translated("read a message"), self.engine.connect() as conn:
            row = conn.execute(_GET, {"mid": message_id}).first()
        return None if row is None else _stored(row)

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

    def refusals(self, agency: str | None = None, limit: int = 100) -> list[Refusal]:
        """Refused inputs, newest first."""
        query = sa.select(refused).order_by(refused.c.received_at.desc()).limit(max(1, int(limit)))
        if agency is not None:
            query = query.where(refused.c.agency == agency)
        with db.translated("read refused input"), self.engine.connect() as conn:
            return [Refusal(r.refusal_id, r.agency, r.reason, r.raw, parse_timestamp(r.received_at),
                            r.input_sha256, r.input_size) for r in conn.execute(query)]

    def stats(self) -> LogStats:
        """Message counts by status, outbox backlog, refusals, chain size and last activity."""
        with db.translated("compute statistics"), self.engine.connect() as conn:
            by_status = dict(conn.execute(sa.select(_m.c.status, sa.func.count()).group_by(_m.c.status)).all())
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


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise MessageLogError("an operator action needs the operator's name (actor)")
    return actor.strip()


def _stored(row) -> StoredMessage:
    values = dict(row._mapping)
    for name in ("created_at", "received_at", "published_at", "updated_at"):
        values[name] = parse_timestamp(values[name])
    return StoredMessage(**values)
