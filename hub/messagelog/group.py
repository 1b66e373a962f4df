"""Group commit: concurrent writers of the message log share one transaction.

Every write is a durable, hash-chained commit, and the chain lets one writer
in at a time; N gateway threads storing a record each used to queue for the
write lock N times and pay N synced commits. A :class:`GroupCommitter` queues
what the threads want written; the first of them becomes the *leader*, writes
everything queued (up to ``max_group`` jobs) — one :meth:`MessageLog.accept_many`
per ``enqueue`` value, one :meth:`MessageLog.mark_published` for all the
publications — and hands every caller its own outcome. Each caller returns
only once its record is committed, so a receipt is never sent before the
record is durable (the outbox rule).

A leader rather than a writer thread: there is no thread to start, watch and
stop; a lone caller writes at once in its own thread, with no hand-off to
wait for; and under load a group is whatever queued during the previous
commit, so it grows with the load by itself.

Split over several processes, each sees a share of the concurrent callers,
and a commit found the queue holding its leader alone: every record paid a
whole commit. A caller may therefore say a write is on its way
(:meth:`GroupCommitter.coming`, around building the record); a leader that
finds such callers not yet queued waits for them, at most ``linger`` seconds
(idle, the lock released: the callers it waits for use the core meanwhile).
With nobody on the way, a lone caller still writes at once.

A leader whose group made the SQLite file's WAL checkpoint due starts it, in
a thread of its own, after handing every caller its outcome
(:mod:`hub.messagelog.checkpoints`): no caller's commit waits for it.

    committer = GroupCommitter(log)
    message_id = committer.accept(record)         # DuplicateMessageError, ConflictingMessageError as before
    committer.accept(record, answer=receipt)      # with the hub's signed receipt for it, in the same commit
    committer.mark_published([message_id])
    committer.store_sent([question, answer, reply])  # request/reply: stored as published, one write
    with committer.coming():                      # a record is being built: a leader may wait for it
        committer.accept(build_record())
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from hub.errors import MessageLogError, MessageLogUnavailableError
from hub.messagelog import checkpoints, db
from hub.messagelog.log import MessageLog
from hub.messagelog.records import Accepted

#: seconds a leader waits at most for writes announced as on their way (see GroupCommitter.coming)
LINGER_SECONDS = 0.002


class _Job:
    """One caller's write, waiting in the queue until a leader has done it."""

    __slots__ = ("record", "enqueue", "ids", "answer", "wake", "done", "result", "error")

    def __init__(self, wake: threading.Condition, record: Accepted | None = None,
                 enqueue: bool = True, ids: list[str] | None = None, answer: Accepted | None = None) -> None:
        self.record, self.enqueue, self.ids, self.answer, self.wake = record, enqueue, ids, answer, wake
        self.done, self.result, self.error = False, None, None

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class _SentJob(_Job):
    """One caller's records that went out already (:meth:`MessageLog.store_sent`), written together."""

    __slots__ = ("records",)

    def __init__(self, wake: threading.Condition, records: list[Accepted]) -> None:
        super().__init__(wake)
        self.records = records


class GroupCommitter:
    """Lets concurrent :meth:`accept`, :meth:`mark_published` and :meth:`store_sent` calls share one commit.

    Thread-safe; one per process and log (the Hub builds it). Other writers
    of the same log (another process, the relay) still work directly on the
    :class:`MessageLog`: the chain lock orders them as before.
    """

    def __init__(self, log: MessageLog, *, max_group: int = 256, linger: float = LINGER_SECONDS) -> None:
        if not isinstance(max_group, int) or max_group < 1:
            raise MessageLogError(f"max_group must be a positive integer, got {max_group!r}")
        if not isinstance(linger, (int, float)) or not 0 <= linger <= 1:
            raise MessageLogError(f"linger must be between 0 and 1 second, got {linger!r}")
        self.log = log
        self._writer = log.holding()  # one connection for the leaders' writes, who take turns
        self.max_group = max_group
        self.linger = float(linger)
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._closed = False
        self._coming = 0  # callers inside coming() whose write is not queued yet
        self._announced = threading.local()
        self.groups = 0
        """Groups written so far (one or two accept transactions and at most one publication each)."""

    def accept(self, record: Accepted, *, enqueue: bool = True, answer: Accepted | None = None) -> str:
        """:meth:`MessageLog.accept` in a shared commit: the stored id, once it is durable.

        ``answer``, the hub's signed answer about ``record`` (the gateway's
        receipt), is stored as sent in the same commit, only if ``record`` is
        stored (not for a duplicate).

        Raises DuplicateMessageError (with ``first_message_id``) for a repeat,
        also of a record committed in the same group; ConflictingMessageError
        when the id was used for other content (the group is then written
        again record by record, so only that caller fails); MessageLogError for a
        malformed record (only its caller) or the database failing (every
        caller of that group).
        """
        return self._run(_Job(self._wake(), record=record, enqueue=enqueue, answer=answer))

    def mark_published(self, message_ids: Iterable[str]) -> None:
        """:meth:`MessageLog.mark_published` in a shared commit.

        Returns nothing: the group's count of pending messages is not split
        between its callers.
        """
        ids = list(message_ids)
        if ids:
            self._run(_Job(self._wake(), ids=ids))

    def store_sent(self, records: Iterable[Accepted]) -> list[str]:
        """:meth:`MessageLog.store_sent` in a shared commit: the ids stored, once they are durable.

        One caller's records are written in the same transaction, and the
        concurrent callers' with them: a visa check's question, answer and
        reply cost one shared commit. Raises DuplicateMessageError for the
        first of its records stored before; otherwise as :meth:`accept`.
        """
        records = list(records)
        return self._run(_SentJob(self._wake(), records)) if records else []

    def coming(self) -> _Coming:
        """Announce that this thread is building a record it will write through this committer.

        Until its write is queued (or it leaves the block without writing), a
        leader that would commit fewer records waits for it, at most
        :attr:`linger` seconds. Only worth it around work that ends in a
        write: an announced caller that never writes costs a leader that wait.
        """
        return _Coming(self)

    def _wake(self) -> threading.Condition:
        """This thread's condition on the queue's lock, made once: a thread has one write queued at a time, and
        making a Condition cost ~20k instructions (a push's write had one made for it). A wake-up meant for
        its earlier write finds it checking its state again, as any condition's waiter does."""
        wake = getattr(self._announced, "wake", None)
        if wake is None:
            wake = self._announced.wake = threading.Condition(self._lock)
        return wake

    @property
    def waiting(self) -> int:
        """Writes queued or being written now."""
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        """Refuse new writes; those already queued are still written. The log stays open."""
        with self._lock:
            self._closed = True
        self._writer.close()

    def _run(self, job: _Job):
        with self._lock:
            if self._closed:
                raise MessageLogError("the message log's group committer is closed")
            self._queue.append(job)
            if getattr(self._announced, "pending", False):
                self._announced.pending = False
                self._coming -= 1
                self._wake_leader()
            while not job.done and self._queue[0] is not job:
                job.wake.wait()
            if job.done:
                return job.outcome()
            self._linger(job)
        group: list[_Job] = []
        try:
            # The file's turn first (other processes write it too), the group then: whatever queued while
            # the leader waited for the other writers goes in the same commit.
            with db.writers_in_turn(self.log.engine):
                with self._lock:
                    group = list(itertools.islice(self._queue, self.max_group))
                self._write(group)
        finally:
            self._hand_over(group or [job])  # the turn released first: the next leader need not wait for it
        # Every caller has its outcome and the next leader may be writing: a checkpoint now holds up neither.
        checkpoints.run_if_due(self.log.engine)
        return job.outcome()

    def _linger(self, leader: _Job) -> None:
        """Wait (lock held, released while waiting) for announced writes, at most :attr:`linger` seconds."""
        gather(lambda: self._coming > 0 and len(self._queue) < self.max_group, leader.wake.wait, self.linger)

    def _wake_leader(self) -> None:
        """Let a lingering leader look again (lock held): a write it waited for came, or will not."""
        if self._queue:
            self._queue[0].wake.notify()

    def _hand_over(self, group: list[_Job]) -> None:
        """Wake the group's callers and make the next queued job the leader."""
        with self._lock:
            self.groups += 1
            for done in group:
                self._queue.popleft()
                if done.error is None and done.result is None:
                    # the leader was interrupted (KeyboardInterrupt) before this job was written
                    done.error = MessageLogError("the group commit was interrupted before this write")
                done.done = True
                done.wake.notify()
            if self._queue:
                self._queue[0].wake.notify()

    def _write(self, group: list[_Job]) -> None:
        sent = [job for job in group if isinstance(job, _SentJob)]
        if sent:
            self._attempt(sent, self._store_sent)
            group = [job for job in group if not isinstance(job, _SentJob)]
        for enqueue in dict.fromkeys(job.enqueue for job in group if job.ids is None):
            self._attempt([job for job in group if job.ids is None and job.enqueue == enqueue], self._accept)
        publications = [job for job in group if job.ids is not None]
        if publications:
            self._attempt(publications, self._publish)

    def _attempt(self, jobs: list[_Job], write) -> None:
        """``write(jobs)`` together; when one record spoils it, each job again alone."""
        try:
            write(jobs)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, who raise it
            if len(jobs) == 1 or _database_down(exc):
                for job in jobs:
                    job.error = exc
                return
            # A malformed record or reused hub id refuses the whole batch: alone, it fails only its caller.
            for job in jobs:
                self._attempt([job], write)

    def _accept(self, jobs: list[_Job]) -> None:
        answers = {job.record.message_id: job.answer for job in jobs if job.answer is not None}
        result = self._writer.accept_many([job.record for job in jobs], enqueue=jobs[0].enqueue, answers=answers)
        stored = set(result.stored)
        # accept_many lists the duplicates in input order, one per record it did not store
        duplicates = iter(result.duplicates)
        for job in jobs:
            if job.record.message_id in stored:
                job.result = job.record.message_id
            else:
                job.error = next(duplicates)

    def _store_sent(self, jobs: list[_SentJob]) -> None:
        result = self._writer.store_sent([record for job in jobs for record in job.records])
        # the duplicates are listed in input order: each record not stored takes the next one
        stored, duplicates = set(result.stored), iter(result.duplicates)
        for job in jobs:
            repeats = [next(duplicates) for record in job.records if record.message_id not in stored]
            if repeats:
                job.error = repeats[0]
            else:
                job.result = [record.message_id for record in job.records]

    def _publish(self, jobs: list[_Job]) -> None:
        self._writer.mark_published(itertools.chain.from_iterable(job.ids for job in jobs))
        for job in jobs:
            job.result = True  # written; mark_published() returns None to its caller


class _Coming:
    """The block of :meth:`GroupCommitter.coming` (a class: a push enters one, and a generator-based context
    manager's set-up and tear-down cost several times the announcement itself)."""

    __slots__ = ("_committer",)

    def __init__(self, committer: GroupCommitter) -> None:
        self._committer = committer

    def __enter__(self) -> None:
        committer = self._committer
        with committer._lock:
            committer._coming += 1
        committer._announced.pending = True

    def __exit__(self, *exc_info) -> None:
        committer = self._committer
        if getattr(committer._announced, "pending", False):  # announced, not queued: it will not come
            committer._announced.pending = False
            with committer._lock:
                committer._coming -= 1
                committer._wake_leader()


def gather(coming: Callable[[], bool], wait: Callable[[float], object], seconds: float) -> None:
    """A leader's wait for work announced to it: ``wait(timeout)`` (a condition's, its lock held) while
    ``coming()``, at most ``seconds`` in all; nothing is timed when nothing is coming."""
    deadline = None
    while coming():
        now = time.monotonic()
        deadline = deadline or now + seconds
        if now >= deadline:
            return
        wait(deadline - now)


def _database_down(exc: Exception) -> bool:
    """The database, not one record, failed: no point trying the records alone."""
    return isinstance(exc, MessageLogUnavailableError)
