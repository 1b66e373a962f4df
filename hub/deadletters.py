"""Dead letters kept in the hub's own database, so looking at one never touches the broker.

A dead letter on RabbitMQ can only be read by getting it; on 4.x quorum queues
every get-and-requeue counts towards the delivery limit, and a dead letter
viewed often enough would be dropped. So the hub moves dead letters off the
broker as it finds them (:meth:`DeadLetterDesk.collect`: stored here first,
then acked or deleted there) and lists, searches, replays, discards and purges
them from the table ``kept_dead_letters`` in the message log's database — the
same on RabbitMQ (any version) and on the embedded SQLite broker. The table is
the message log's migrations' to create (revision 0007), like every other.

Moving a letter records its ``dead-lettered`` hop in the message log, and
every operator action on one is a chain record with the operator's name, also
when the log never stored the message (a query the licensing system published).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.errors import InputError, RabtError
from hub.messagelog import MessageLog, db
from hub.transports.base import DeadLetter, DeadLetterNotFoundError, Message, Transport

#: the tables below as this code reads them; the message log's revisions create them
metadata = sa.MetaData()

#: the dead letters the hub took off the broker; ``origin`` makes a repeated move a no-op
kept_dead_letters = sa.Table(
    "kept_dead_letters", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(400), nullable=False, unique=True),
    sa.Column("queue", sa.String(255), nullable=False, index=True),
    sa.Column("message_id", sa.String(200), nullable=False, index=True),
    sa.Column("correlation_id", sa.String(200), index=True),
    sa.Column("routing_key", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("dead_lettered_at", sa.Float, nullable=False, index=True),
    sa.Column("reply_to", sa.String(255)),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)
_k = kept_dead_letters

#: letters moved per broker round trip
MOVE_BATCH = 500


@dataclass(frozen=True)
class LetterFilter:
    """Which kept dead letters an operator means (every field optional)."""

    queue: str | None = None
    agency: str | None = None  # the message's source agency (``source-agency`` header)
    message_type: str | None = None
    since: float | None = None  # unix time, dead-lettered at or after
    until: float | None = None

    def where(self, query: sa.Select) -> sa.Select:
        """``query`` restricted to the letters this filter matches."""
        if self.queue:
            query = query.where(_k.c.queue == self.queue)
        if self.since is not None:
            query = query.where(_k.c.dead_lettered_at >= self.since)
        if self.until is not None:
            query = query.where(_k.c.dead_lettered_at <= self.until)
        # routing keys read destination.type.agency (see hub.transports.base.Message)
        if self.message_type:
            query = query.where(_k.c.routing_key.like(f"%.{_escape(self.message_type)}.%", escape="\\"))
        if self.agency:
            query = query.where(_k.c.routing_key.like(f"%.{_escape(self.agency)}", escape="\\"))
        return query


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DeadLetterStore:
    """The ``kept_dead_letters`` table: keep, list, get, remove."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def keep(self, letters: Iterable[DeadLetter]) -> list[DeadLetter]:
        """Store ``letters`` (ones kept before are skipped); the newly kept, with the hub's ids."""
        rows = {_origin(d): _row(d) for d in letters}
        with db.translated("keep dead letters"), db.write_transaction(self.engine) as conn:
            held = set(conn.execute(sa.select(_k.c.origin).where(_k.c.origin.in_(list(rows)))).scalars())
            fresh = [row for origin, row in rows.items() if origin not in held]
            if fresh:
                conn.execute(sa.insert(_k), fresh)
                kept = conn.execute(sa.select(_k).where(_k.c.origin.in_([r["origin"] for r in fresh]))
                                    .order_by(_k.c.id)).all()
                return [_letter(row) for row in kept]
        return []

    def list(self, which: LetterFilter = LetterFilter(), limit: int = 100) -> list[DeadLetter]:
        """Kept letters matching ``which``, oldest first."""
        query = which.where(sa.select(_k)).order_by(_k.c.id).limit(max(1, int(limit)))
        with db.translated("list dead letters"), self.engine.connect() as conn:
            return [_letter(row) for row in conn.execute(query)]

    def find(self, term: str, limit: int = 10) -> list[DeadLetter]:
        """Kept letters whose message id or correlation id is ``term``."""
        query = sa.select(_k).where(sa.or_(_k.c.message_id == term, _k.c.correlation_id == term))
        with db.translated("find dead letters"), self.engine.connect() as conn:
            return [_letter(row) for row in conn.execute(query.order_by(_k.c.id).limit(limit))]

    def get(self, letter_id: str) -> DeadLetter:
        """The kept letter ``letter_id``; DeadLetterNotFoundError when there is none."""
        if not str(letter_id).isdigit():
            raise DeadLetterNotFoundError(f"no such dead letter {letter_id!r}")
        with db.translated("read a dead letter"), self.engine.connect() as conn:
            row = conn.execute(sa.select(_k).where(_k.c.id == int(letter_id))).first()
        if row is None:
            raise DeadLetterNotFoundError(f"no such dead letter {letter_id!r} (already replayed or discarded?)")
        return _letter(row)

    def remove(self, letter_ids: Iterable[str]) -> int:
        """Delete these kept letters; how many were still there."""
        ids = [int(i) for i in letter_ids]
        with db.translated("remove dead letters"), db.write_transaction(self.engine) as conn:
            return conn.execute(sa.delete(_k).where(_k.c.id.in_(ids))).rowcount if ids else 0

    def counts(self) -> dict[str, int]:
        """Work queue → how many of its dead letters are kept."""
        query = sa.select(_k.c.queue, sa.func.count()).group_by(_k.c.queue)
        with db.translated("count dead letters"), self.engine.connect() as conn:
            return dict(conn.execute(query).all())


class DeadLetterDesk:
    """What operators (console, CLI) do with dead letters, each action chained with their name.

    ``on_broker(work)`` runs ``work(transport)`` on a broker connection: the
    console's shared one, or the CLI's own.
    """

    def __init__(self, store: DeadLetterStore, log: MessageLog,
                 on_broker: Callable[[Callable[[Transport], object]], object]) -> None:
        self.store = store
        self.log = log
        self.on_broker = on_broker

    def collect(self) -> int:
        """Move every dead letter off the broker into the store; how many moved."""
        moved = 0
        while (batch := self.on_broker(lambda t: t.move_dead_letters(self._keep, MOVE_BATCH))) > 0:
            moved += batch
            if batch < MOVE_BATCH:
                break
        return moved

    def _keep(self, letters: list[DeadLetter]) -> None:
        kept = self.store.keep(letters)
        # the dead-lettered hop, one transaction for the whole batch
        self.log.record_hops([(d.message_id, "dead-lettered", _why(d), None) for d in kept])

    def letters(self, which: LetterFilter = LetterFilter(), limit: int = 100) -> list[DeadLetter]:
        """Dead letters matching ``which`` (after collecting new ones), oldest first."""
        self.collect()
        return self.store.list(which, limit)

    def replay(self, letter_id: str, actor: str) -> DeadLetter:
        """Put the letter back on its work queue as a first attempt, then forget it; chained."""
        letter = self.store.get(letter_id)
        # chained before the message is back on the queue: a worker may take it at once, and its
        # delivered/failed hops must follow the replay in the trail; if the log cannot be written,
        # nothing happens unrecorded
        self.log.record_hops([(letter.message_id, "replayed",
                               f"dead letter {letter.id} put back on {letter.queue}", actor)])
        try:
            self.on_broker(lambda t: t.requeue(letter.queue, letter.message))
        except RabtError as exc:
            self.log.record_hops([(letter.message_id, "failed",
                                   f"replay of dead letter {letter.id} failed, still kept: {exc}", actor)])
            raise
        self.store.remove([letter.id])
        return letter

    def discard(self, letter_id: str, actor: str, reason: str = "") -> DeadLetter:
        """Forget the letter for good; chained with the reason."""
        letter = self.store.get(letter_id)
        self.store.remove([letter.id])
        detail = f"dead letter {letter.id} of {letter.queue} discarded: {reason}".strip().removesuffix(":")
        self.log.record_hops([(letter.message_id, "discarded", detail, actor)])
        return letter

    def purge(self, queue: str, actor: str, confirm: str) -> int:
        """Discard every dead letter of ``queue``; ``confirm`` must repeat the queue's name."""
        if not queue or confirm != queue:
            raise InputError(f"to purge, confirm by typing the queue's name ({queue!r})")
        self.collect()
        letters = self.store.list(LetterFilter(queue=queue), limit=1_000_000)
        self.store.remove([d.id for d in letters])
        self.log.record_hops([(d.message_id, "discarded", f"dead letter {d.id} purged from {queue}", actor)
                              for d in letters])
        self.log.record_action("purged", queue, f"{len(letters)} dead letter(s) discarded", actor)
        return len(letters)


def _why(letter: DeadLetter) -> str:
    when = datetime.fromtimestamp(letter.dead_lettered_at, timezone.utc).isoformat(timespec="seconds")
    return (f"dead letter {letter.id} on {letter.queue} after {letter.attempts} attempt(s) at {when}: "
            f"[{letter.code}] {letter.reason}")


def _origin(letter: DeadLetter) -> str:
    # the broker's id alone could repeat (an embedded broker's file started afresh)
    return f"{letter.id}|{letter.message_id}|{letter.dead_lettered_at!r}"[:400]


def _row(letter: DeadLetter) -> dict:
    m = letter.message
    return {"origin": _origin(letter), "queue": letter.queue, "message_id": letter.message_id,
            "correlation_id": m.correlation_id, "routing_key": m.routing_key, "reason": letter.reason,
            "code": letter.code, "attempts": letter.attempts, "dead_lettered_at": letter.dead_lettered_at,
            "reply_to": m.reply_to, "content_type": m.content_type, "headers": json.dumps(dict(m.headers)),
            "body": bytes(m.body)}


def _letter(row) -> DeadLetter:
    message = Message(bytes(row.body), row.routing_key, row.message_id, row.correlation_id, row.reply_to,
                      json.loads(row.headers), row.content_type)
    return DeadLetter(str(row.id), row.queue, row.message_id, row.reason, row.code, row.attempts,
                      row.dead_lettered_at, message)
