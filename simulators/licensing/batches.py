"""Applying canonical messages in windows: one commit for every message waiting, each applied once.

A commit on the licensing database is a synced write (SQLite ``synchronous =
FULL``, a WAL flush on PostgreSQL); paid once per message it bounds the
consumer at a few hundred messages a second whatever the CPU. Here every
message is still a unit applied all or nothing — its "seen" mark
(``processed_messages``, as :class:`hub.idempotency.IdempotentConsumer`
keeps it) with its change — but the units waiting at one moment share one
transaction and one commit:

* a message already applied (redelivered, or twice in the same window)
  changes nothing;
* a message whose change fails rolls back alone; its caller gets the
  exception (so the transport retries or dead-letters that one), and the
  rest of the window commits;
* a commit that fails fails every unit of the window, recoverably: nothing
  was applied, so the redeliveries apply it.

How one window is applied in its transaction (a few statements for all of
it, a savepoint per message only after a failure) is :mod:`window_apply`'s;
this module decides which units go together and who applies them.

Why callers wait for the commit instead of buffering: the transport acks a
delivery as soon as its handler returns, so a handler that returned before
its change was durable could lose it in a crash. :class:`WindowApplier`
therefore works like the message log's group committer: concurrent
:meth:`~WindowApplier.apply_once` calls (one per consumer thread, each with
its own transport and prefetch window) queue; one waiting caller becomes the
leader and applies everything queued in one transaction; each caller returns
once its own unit is committed. Alone, a caller commits at once.

A caller whose transport holds the ack until told the change is durable
(:attr:`hub.transports.base.Delivery.ack_after_settle`) need not wait at all:
it queues its unit (:meth:`~WindowApplier.submit`), goes on to its next
delivery, and waits for its units just before the ack
(:meth:`~WindowApplier.settle`) — once per ack, which the transport holds for
up to 0.2 s, not once per message: one synced commit for them all. Whoever
waits leads, so a unit whose owner does not wait is applied with the next
window anyone needs.

Deliveries come one by one (a visa check every 5 ms at 200/s), so a leader
would mostly commit alone while another thread is a millisecond from queueing
its unit. A consumer thread says so (:meth:`~WindowApplier.coming`) from the
start of a delivery until its unit is queued, and a leader waits for such
units, at most :data:`GATHER_SECONDS` and only while one is on its way (as
PostgreSQL's ``commit_delay`` waits only for ``commit_siblings``): one synced
commit less per unit gathered. What waits is the ack, never an answer.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog.db import HeldConnection
from hub.messagelog.group import gather
from simulators.licensing.window_apply import (  # noqa: F401 - WindowCommitError: the callers' name for it here
    Apply, Outcome, UnitFailed, WindowCommitError, WindowRolledBackError, apply_each, apply_gathered,
)

log = logging.getLogger(__name__)

#: Longest a leader waits for units on their way (:meth:`WindowApplier.coming`) before it takes the window:
#: a visa check's delivery reaches its window about 1 ms after it arrived (verified, answered, sent), and the
#: commit it joins saves one synced write, about 0.3 ms of CPU on SQLite.
GATHER_SECONDS = 0.003

class Unit:
    """One message, queued until a leader has applied it; ``outcome`` is set once ``done``."""

    __slots__ = ("message_id", "apply", "wake", "done", "outcome", "waited")

    def __init__(self, message_id: str, apply: Apply) -> None:
        self.message_id, self.apply = message_id, apply
        # made by its first waiter (lock held): most units' owners never wait for them (another thread's
        # window applies them first), and a Condition on a plain lock costs three caught AttributeErrors
        self.wake: threading.Condition | None = None
        self.done, self.waited = False, False
        self.outcome: Outcome | None = None


class WindowApplier:
    """Applies each message id at most once for ``consumer``, many messages per commit. Thread-safe."""

    def __init__(self, engine: Engine, consumer: str, *, max_window: int = 256) -> None:
        if not isinstance(max_window, int) or max_window < 1:
            raise MessageLogError(f"max_window must be a positive integer, got {max_window!r}")
        self.engine, self.consumer, self.max_window = engine, consumer, max_window
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise MessageLogError(f"the licensing database must be SQLite or PostgreSQL, not {engine.dialect.name}")
        self._lock = threading.Lock()
        self._queue: deque[Unit] = deque()
        self._leading = False  # a window is being applied
        self._coming = 0  # units on their way to apply_once (:meth:`coming`)
        self._on_way = threading.local()  # whether this thread's unit is counted in _coming
        self._arrived = threading.Condition(self._lock)  # a unit came, or one on its way will not
        self._on_its_way = _Coming(self)
        self.gather = GATHER_SECONDS
        """Longest a leader waits for units on their way before it takes the window."""
        # leaders take turns: one connection kept between windows spares each a pool checkout and checkin
        self._held = HeldConnection(engine)
        self.commits = 0
        """Windows committed so far (a measure of how much the windows shared)."""
        self.on_settled: Callable[[list[tuple[str, Outcome]]], None] | None = None
        """Told each window's ``(message id, outcome)`` once it is settled (after the commit); must not block."""
        self.record: Callable[[Connection, list[tuple[str, Outcome]]], None] | None = None
        """Given each window's ``(message id, outcome)`` on its connection before the commit: what it writes
        commits with the window, or not at all."""

    @property
    def waiting(self) -> int:
        """Messages queued or being applied now."""
        with self._lock:
            return len(self._queue)

    def coming(self) -> _Coming:
        """Around the handling of a delivery whose unit may reach :meth:`apply_once`: while it is on its way,
        a leader waits for it (at most ``gather`` seconds) instead of committing without it."""
        return self._on_its_way

    def _announce(self) -> None:
        with self._lock:
            self._coming += 1
        self._on_way.value = True

    def _withdraw(self) -> None:
        if self._on_way.value:  # it never reached apply_once: a leader waits for it no longer
            self._on_way.value = False
            with self._lock:
                self._coming -= 1
                self._wake_gathering_leader()

    def apply_once(self, message_id: str, apply: Apply) -> bool:
        """Run ``apply(connection)`` once per message id, in a commit shared with concurrent callers.

        True once it is committed, False when the message was applied before;
        raises what ``apply`` raised (only this message rolled back), or
        :class:`WindowCommitError` when the shared commit failed.
        """
        unit = self.submit(message_id, apply)
        self.settle([unit])
        if isinstance(unit.outcome, BaseException):
            raise unit.outcome
        return bool(unit.outcome)

    def submit(self, message_id: str, apply: Apply) -> Unit:
        """Queue ``apply`` for the next window and return at once; :meth:`settle` waits for it.

        A caller that returns before its unit is committed must not let its
        delivery be acked until :meth:`settle` has returned for it.
        """
        _check_id(message_id)
        unit = Unit(message_id, apply)
        arriving = getattr(self._on_way, "value", False)
        self._on_way.value = False
        with self._lock:
            self._queue.append(unit)
            if arriving:
                self._coming -= 1
            self._wake_gathering_leader()
        return unit

    def _wake_gathering_leader(self) -> None:  # (lock held)
        if self._leading:  # only a gathering leader waits: else a notify's lock probing on every delivery for none
            self._arrived.notify_all()

    def settle(self, units: Sequence[Unit]) -> None:
        """Return once every one of ``units`` is settled (its ``outcome`` set), leading windows while no one else
        does: a unit's owner need not wait for it, so whoever waits applies what is queued."""
        for unit in units:
            while window := self._turn(unit):
                self._lead(window)

    def _turn(self, unit: Unit) -> list[Unit]:
        """Wait until ``unit`` is settled (then []) or no window is being applied: then the window to lead."""
        with self._lock:
            while not unit.done and self._leading:
                unit.waited = True
                if unit.wake is None:
                    unit.wake = threading.Condition(self._lock)
                unit.wake.wait()
            if unit.done:
                return []
            self._leading = True
            try:
                self._gather()
            except BaseException:  # interrupted while gathering: another waiter leads
                self._pass_lead()
                raise
            return list(itertools.islice(self._queue, self.max_window))

    def _lead(self, window: list[Unit]) -> None:
        try:
            for done, outcome in zip(window, self.apply_window([(u.message_id, u.apply) for u in window])):
                done.outcome = outcome
        finally:
            self._hand_over(window)

    def _gather(self) -> None:
        """The leader (lock held): wait while units are on their way, at most ``gather`` seconds."""
        gather(lambda: self._coming > 0 and len(self._queue) < self.max_window, self._arrived.wait, self.gather)

    def apply_window(self, work: Sequence[tuple[str, Apply]]) -> list[Outcome]:
        """Apply ``(message_id, apply)`` pairs in one transaction, each once and on its own; their outcomes."""
        try:
            try:
                outcomes = self._in_transaction(apply_gathered, work)
            except UnitFailed:  # rolled back whole: again, each message in a savepoint of its own
                outcomes = self._in_transaction(apply_each, work)
        except sa.exc.SQLAlchemyError as exc:
            return self._rolled_back(work, exc)
        with self._lock:
            self.commits += 1
        self._tell([message_id for message_id, _ in work], outcomes)
        return outcomes

    def _in_transaction(self, apply: Callable, work: Sequence[tuple[str, Apply]]) -> list[Outcome]:
        with self._held.transaction() as conn:
            outcomes = apply(conn, self.consumer, work)
            self._record(conn, work, outcomes)
        return outcomes

    def _rolled_back(self, work: Sequence[tuple[str, Apply]], exc: sa.exc.SQLAlchemyError) -> list[Outcome]:
        self._renew_connection()
        detail = getattr(exc, "orig", None) or exc
        failed = WindowRolledBackError(f"consumer {self.consumer} could not commit {len(work)} message(s): {detail}")
        failed.__cause__ = exc
        self._tell([message_id for message_id, _ in work], [failed] * len(work))
        return [failed] * len(work)

    def _record(self, conn: Connection, work: Sequence[tuple[str, Apply]], outcomes: list[Outcome]) -> None:
        if self.record is not None:
            self.record(conn, [(message_id, outcome) for (message_id, _), outcome in zip(work, outcomes)])

    def close(self) -> None:
        """Give the kept connection back to the pool; later windows check one out each."""
        self._held.close()

    def _renew_connection(self) -> None:
        """After a failed window: the kept connection goes back to the pool, whose reset rolls back what the
        failure left open (SQLite keeps a transaction whose COMMIT failed), and the next window keeps another."""
        held, self._held = self._held, HeldConnection(self.engine)
        held.close()

    def _tell(self, message_ids: list[str], outcomes: list[Outcome]) -> None:
        """Hand a settled window to ``on_settled``; its failure is logged, never the window's."""
        if self.on_settled is None:
            return
        try:
            self.on_settled(list(zip(message_ids, outcomes)))
        except Exception:  # noqa: BLE001 - the window is committed; a listener's bug must not fail it
            log.exception("the listener of settled windows failed; the window itself is committed")

    def _hand_over(self, window: list[Unit]) -> None:
        """Wake the window's waiting owners and the first waiter left, who leads the next window."""
        with self._lock:
            for unit in window:
                self._queue.popleft()
                if unit.outcome is None:  # the leader was interrupted before this unit was applied
                    unit.outcome = WindowCommitError("the window was interrupted before this message was applied")
                unit.done = True
                if unit.wake is not None:
                    unit.wake.notify()
            self._pass_lead()

    def _pass_lead(self) -> None:
        """(lock held) No window is being applied now: the first caller waiting for a queued unit leads the next."""
        self._leading = False
        waiter = next((unit for unit in self._queue if unit.waited), None)
        if waiter is not None:
            waiter.wake.notify()


class _Coming:
    """The context :meth:`WindowApplier.coming` returns, one per applier (its state is the thread's): around
    every delivery, where a generator-made context manager cost more than the announcement itself."""

    __slots__ = ("_applier",)

    def __init__(self, applier: WindowApplier) -> None:
        self._applier = applier

    def __enter__(self) -> None:
        self._applier._announce()

    def __exit__(self, *_exc) -> None:
        self._applier._withdraw()


def _check_id(message_id: str) -> None:
    if not isinstance(message_id, str) or not message_id:
        raise MessageLogError(f"message id must be a non-empty string, got {message_id!r}")
