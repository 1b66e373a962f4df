"""The message log: every raw payload and signed envelope, stored before it is published.

Accepting a message stores the raw payload, the signed envelope, the header
fields, an outbox row and the acceptance's chain record in ONE transaction:
either all of it is there or none of it. Status changes and operator actions
are chain records too, so the status history cannot be edited unnoticed.

This module opens the log and holds its write transaction and the writes of
new input and of publishing; the records after acceptance are in
:mod:`hub.messagelog.history`, the reads in :mod:`hub.messagelog.reading`.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog import accepting, anchors, chain, checkpoints, db, lanes, publishing, search
from hub.messagelog.accepting import BatchResult
from hub.messagelog.anchors import Anchor, AnchorPolicy, AnchorSchedule
from hub.messagelog.chain import REFUSAL_FIELDS, ChainEntry, fields_detail
from hub.messagelog.history import History
from hub.messagelog.reading import Reading
from hub.messagelog.records import REFUSAL_HEAD_BYTES, Accepted, input_digest, sha256_hex
from hub.messagelog.schema import REFUSAL_DIGEST_COLUMNS, refused, timestamp

logger = logging.getLogger(__name__)


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


class MessageLog(Reading, History):
    """Stores messages, their status history and the hash chains over both.

    The first write takes this process's lane (:mod:`hub.messagelog.lanes`);
    every write after that appends there, and anchors the lanes when the
    schedule says so. Here: opening, the write transaction and the writes of
    new input (accept, refuse) and of publishing; the status changes and
    operator actions after that are in :class:`~hub.messagelog.history.History`,
    the reads in :class:`~hub.messagelog.reading.Reading`.
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
            checkpoints.run_at_close(self.engine)  # another process may keep the file open: SQLite would not
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
        return self._stored("store the messages", lambda conn, check_taken: accepting.store(
            conn, records, enqueue, terms, answers=answers, check_taken=check_taken, ends=True))

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
        return self._stored("store the messages sent", lambda conn, check_taken: accepting.store(
            conn, records, False, terms, sent=True, check_taken=check_taken, ends=True))

    def _stored(self, what: str, store: Callable[[Connection, bool], BatchResult]) -> BatchResult:
        """``store(conn, check_taken)`` in a write, first without looking for reused hub ids.

        A reused hub id is left to the primary key: one query less on every
        write. If a unique key refuses the write — another process stored the
        same agency id between our check and our insert (lanes do not wait on
        each other; the key decided), or a hub id was reused — it is written
        once more with every check, which now finds it. ``store`` is the write's last work (it commits in
        its pipeline on PostgreSQL, see :func:`hub.messagelog.accepting.store`).
        """
        try:
            with self._writing(what, lock=False) as conn:  # store() locks first
                return store(conn, False)
        except MessageLogError as exc:
            if not isinstance(exc.__cause__, sa.exc.IntegrityError):
                raise
        with self._writing(what, lock=False) as conn:
            return store(conn, True)

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
        with self._writing("mark messages published", lock=False) as conn:  # mark_published() locks first
            return len(publishing.mark_published(conn, ids, now, ends=True))
