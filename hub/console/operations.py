"""Operator actions on queues and dead letters, as plain data for the pages and the API.

Dead letters are read from the hub's own table (:mod:`hub.deadletters`), never
peeked on the broker, and a queue is peeked from the message log: so looking
changes no message's delivery count on any RabbitMQ version. Every action that
changes something is a chain record in the message log with the operator's
name (the trail shows it), and also a line in the console's action log, which
keeps what the chain cannot: refused and failed attempts.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.console import queries
from hub.console.actions import ActionLog
from hub.console.broker import BrokerView
from hub.console.users import Principal
from hub.deadletters import DeadLetterDesk, DeadLetterStore, LetterFilter
from hub.errors import InputError, MessageLogError, RabtError
from hub.messagelog import MessageLog
from hub.messagelog.schema import parse_timestamp
from hub.routing import Routes
from hub.transports.base import DeadLetter, DeadLetterNotFoundError

#: the most dead letters one filtered replay puts back
REPLAY_MOST = 10_000
#: statuses of a message that may still sit in its queue (published, not known to be settled)
_IN_FLIGHT = ("published", "replayed", "retried")


class Operations:
    """Dead letters, purges, filtered replays and peeks, each audited."""

    def __init__(self, log: MessageLog, broker: BrokerView, actions: ActionLog, routes: Routes) -> None:
        self.log = log
        self.actions = actions
        self.routes = routes
        self.broker = broker
        self.desk = DeadLetterDesk(DeadLetterStore(log.engine), log, broker.run)

    def dead_letters(self, which: LetterFilter = LetterFilter(), limit: int = 100) -> list[DeadLetter]:
        """Dead letters matching ``which``, oldest first (collected off the broker first)."""
        return self.desk.letters(which, limit)

    def collect_quietly(self) -> None:
        """Move new dead letters off the broker, if it answers (what is kept already stays true if not)."""
        try:
            self.desk.collect()
        except RabtError:
            pass

    def dead_letter_counts(self) -> dict[str, int]:
        """Work queue → dead letters kept, after collecting new ones (the broker's DLQs stay empty)."""
        self.collect_quietly()
        return self.desk.store.counts()

    def replay(self, ids: list[str], who: Principal) -> list[dict]:
        """Put dead letters back on their queues; one result per id."""
        return [self._one("replay", i, who, lambda: self.desk.replay(i, who.name)) for i in dict.fromkeys(ids)]

    def discard(self, ids: list[str], who: Principal, reason: str = "") -> list[dict]:
        """Remove dead letters for good; one result per id."""
        return [self._one("discard", i, who, lambda: self.desk.discard(i, who.name, reason))
                for i in dict.fromkeys(ids)]

    def replay_matching(self, which: LetterFilter, who: Principal) -> list[dict]:
        """Replay every dead letter ``which`` matches (agency, type, time range, queue)."""
        ids = [d.id for d in self.desk.letters(which, REPLAY_MOST)]
        if not ids:
            self.actions.record(who.name, who.role, "replay-filtered", _describe(which), "none-matched")
        return self.replay(ids, who)

    def purge(self, queue: str, confirm: str, who: Principal) -> dict:
        """Discard every dead letter of ``queue``; ``confirm`` must repeat its name."""
        if queue not in {q.name for q in self.routes.queues}:
            raise InputError(f"no work queue {queue!r}")
        try:
            count = self.desk.purge(queue, who.name, confirm)
        except InputError as exc:
            self.actions.record(who.name, who.role, "purge", queue, "refused", exc.reason)
            raise
        self.actions.record(who.name, who.role, "purge", queue, "ok", f"{count} dead letter(s) discarded")
        return {"queue": queue, "purged": count}

    def peek(self, queue: str, limit: int = 20) -> dict:
        """The first ``limit`` messages probably waiting in ``queue``, from the message log.

        The broker is not asked for them (a get would count as a delivery):
        of the messages the hub published to the queue's destination and
        never saw settled, the newest ``depth`` are the ones still queued
        (queues are first in, first out), and the oldest of those come first.
        Competing consumers and retries make this close, not exact: it says so.
        Only messages published within the log's newest records are looked at
        (:func:`hub.console.queries.in_flight`), so a peek never reads the whole log.
        """
        route = next((q for q in self.routes.queues if q.name == queue), None)
        if route is None:
            raise InputError(f"no work queue {queue!r}")
        depth = next((s.ready for s in self.broker.run(lambda t: t.queue_stats()) if s.name == queue), 0)
        destination = route.binding.removesuffix(".#")
        rows = list(reversed(queries.in_flight(self.log.engine, destination, _IN_FLIGHT, depth)))[:limit] \
            if depth else []
        return {"queue": queue, "depth": depth, "source": "message log", "exact": False,
                "messages": [{**row._mapping, "published_at": _iso(row.published_at)} for row in rows]}

    def _one(self, action: str, letter_id: str, who: Principal, work: Callable[[], DeadLetter]) -> dict:
        try:
            letter = work()
        except DeadLetterNotFoundError as exc:
            self.actions.record(who.name, who.role, action, letter_id, "not-found", exc.reason)
            return {"id": letter_id, "ok": False, "error": exc.reason}
        except (InputError, MessageLogError) as exc:
            self.actions.record(who.name, who.role, action, letter_id, "failed", exc.reason)
            return {"id": letter_id, "ok": False, "error": exc.reason}
        except RabtError as exc:
            self.actions.record(who.name, who.role, action, letter_id, "failed", str(exc))
            return {"id": letter_id, "ok": False, "error": str(exc)}
        self.actions.record(who.name, who.role, action, letter_id, "ok", f"message {letter.message_id}")
        return {"id": letter_id, "ok": True, "message_id": letter.message_id, "note": None}


def _describe(which: LetterFilter) -> str:
    return ", ".join(f"{k}={v}" for k, v in vars(which).items() if v is not None) or "all"


def _iso(text: str | None) -> str | None:
    moment = parse_timestamp(text)
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
