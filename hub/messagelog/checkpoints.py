"""SQLite's WAL checkpoints, started by a writer once its write is done, never run inside a commit someone waits on.

In WAL mode a commit appends its pages to ``<database>-wal``; a *checkpoint*
copies them into the database file and syncs it, and the next writer then
starts the WAL over from its beginning. SQLite's automatic checkpoint
(``wal_autocheckpoint``) runs inside the COMMIT of whichever write takes the
WAL past its threshold: at 200 visa checks a second that commit took 30–38 ms
instead of 1–2 ms, every 2.65 s, and every caller of that group commit and
every writer queued behind it for the file's writer lock waited for it — most
of the visa path's p99. A thread checkpointing every second instead (tried)
slowed many commits instead of one: its copies and syncs came more often.

So this process counts its commits to each file (:func:`committed`), and
once they reach its budget (about :data:`WAL_PAGES` of WAL) the writer
starts a checkpoint in a thread of its own once its write is done: the
file's writer lock released and, for a group commit, every caller handed
its outcome (the leader calls :func:`run_if_due` then). Run by the leader
itself, it kept the leader's own caller waiting: with one check a commit,
as long as SQLite's had. Its PASSIVE passes wait for nobody: writers go on
appending meanwhile, a second checkpointer (another process's) makes one
return busy at once, and frames a reader still uses are left for the next
checkpoint; only its last pass takes a write turn (see
:func:`_checkpoint_and_catch_up`). SQLite's own checkpoint stays, as a
backstop at :data:`BACKSTOP_PAGES`, far above what the budget lets the WAL
reach, for writers that never checkpoint (an older hub, the ``sqlite3``
shell, the few writes made outside :func:`hub.messagelog.db.write_transaction`).

Durability is unchanged: a commit is in the synced WAL (``synchronous =
FULL``) before it returns, whether or not a checkpoint has copied it yet.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.messagelog.writer_lock import writer_lock

logger = logging.getLogger(__name__)

#: WAL pages (4 KB) a checkpoint finds, about: 64 MB, SQLite's automatic checkpoint's threshold before, so
#: a message's pages written on acceptance and again when it is marked published reach the file once
WAL_PAGES = 16384
#: this process's commits to one file before its first checkpoint there; after each, the count is set
#: (at most doubled) so that the next finds about WAL_PAGES (a visa check's commit writes 24 pages alone,
#: 36 shared by two checks, 81 by eight; and other processes fill the same WAL): started low, as two
#: gateway processes starting at 400 each let the first find 40k pages
COMMITS_PER_CHECKPOINT = 100
#: SQLite's own checkpoint, inside a commit, only past this many WAL pages (256 MB at 4 KB a page;
#: it was 16384): reached only when the writers' checkpoints do not keep up or no writer runs them
BACKSTOP_PAGES = 65536
#: passes at most while the writers go on: each copies what was written during the one before
CONCURRENT_PASSES = 4
#: WAL frames written during a pass (two or so commits) few enough for the last pass to copy in a write turn
FRAMES_LEFT_FOR_TURN = 64
_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class Budget:
    """One file's commits in this process since its last checkpoint here, and what the checkpoints found."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.commits = 0
        self.every = COMMITS_PER_CHECKPOINT
        """Commits between two checkpoints, set after each from the WAL pages it found."""
        self.running = False
        self.checkpoints = 0
        """Checkpoints this process ran on the file (busy ones too)."""
        self.last: tuple[int, int, int] | None = None
        """The last one's (busy, frames in the WAL, frames checkpointed), as SQLite reports them."""

    def count(self) -> None:
        with self._lock:
            self.commits += 1

    def claim(self, commits: int | None = None) -> bool:
        """Whether the caller is to checkpoint now: ``commits`` (:attr:`every`) since the last, nobody here at it."""
        with self._lock:
            if self.running or self.commits < max(self.every if commits is None else commits, 1):
                return False
            self.running, self.commits = True, 0
            return True

    def ran(self, result: tuple[int, int, int] | None, adapt: bool = True) -> None:
        with self._lock:
            self.running = False
            self.checkpoints += 1
            self.last = result
            if adapt and result is not None and not result[0] and result[1] > 0:
                # at most halved or doubled at a time: one checkpoint may have found another's leftovers
                wanted = self.every * WAL_PAGES / result[1]
                self.every = max(1, round(min(max(wanted, self.every / 2), self.every * 2)))


_BUDGETS: dict[str, Budget] = {}
_BUDGETS_GUARD = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child has not the thread of a checkpoint its parent was running, nor its own commits counted."""
    global _BUDGETS_GUARD
    _BUDGETS.clear()
    _BUDGETS_GUARD = threading.Lock()  # another thread of the parent may have held it at the fork


os.register_at_fork(after_in_child=_forget_after_fork)


def budget(engine: Engine) -> Budget | None:
    """The budget of ``engine``'s SQLite file in this process; None for PostgreSQL or an in-memory database."""
    lock = writer_lock(engine.url.database) if engine.dialect.name == "sqlite" else None
    if lock is None:
        return None
    found = _BUDGETS.get(lock.path)
    if found is None:
        with _BUDGETS_GUARD:
            found = _BUDGETS.setdefault(lock.path, Budget())
    return found


def committed(engine: Engine) -> None:
    """Count a commit to ``engine``'s file; start a checkpoint if due, unless this thread's write turn goes on.

    A thread still holding the file's writer lock (a group commit's leader,
    whose callers wait) leaves the checkpoint to :func:`run_if_due`, called
    once they have their outcome.
    """
    found = budget(engine)
    if found is None:
        return
    found.count()
    if not writer_lock(engine.url.database).holding:
        run_if_due(engine)


def run_if_due(engine: Engine, commits: int | None = None, *, wait: bool = False) -> None:
    """A checkpoint, in a thread of its own, once this process made ``commits`` (default: its budget's) since its last.

    Call it with no write turn held and nobody waiting for this thread's
    write; ``wait``: run it in this thread instead (at close). A failure is
    logged, never raised: the writes are committed, and the next write that
    finds a checkpoint due tries again.
    """
    found = budget(engine)
    if found is None or not found.claim(commits):
        return
    run = functools.partial(_run, engine, found, adapt=commits is None)  # one run at close says nothing of the budget
    if wait:
        run()
    else:
        # Not in the writer's thread: a lone caller's group commit, or a relay's marking, would wait for it.
        threading.Thread(target=run, name="rabt-wal-checkpoint", daemon=True).start()


def _run(engine: Engine, found: Budget, adapt: bool) -> None:
    result = None
    try:
        result = _checkpoint_and_catch_up(engine)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        logger.warning("the WAL of %s was not checkpointed, trying again later: %s", engine.url.database, exc)
    finally:
        found.ran(result, adapt=adapt)


def _checkpoint_and_catch_up(engine: Engine) -> tuple[int, int, int]:
    """The WAL copied while the writers go on, again until little is left, then the rest in a write turn.

    SQLite starts the WAL over at the first write after a checkpoint that
    copied every frame, if that writer began after it; a checkpoint racing
    the writers never quite does (one is always in the middle of a write),
    and the file grew until the backstop checkpointed inside a commit. Each
    pass copies what was written during the one before, so they shrink;
    the last holds the writer lock, so no writer is in the middle of one:
    what it copies (one pass's worth of commits, often none) is all the
    writers wait for.
    """
    busy, frames, copied = checkpoint(engine)
    for _ in range(CONCURRENT_PASSES - 1):
        if busy or copied < frames:
            return busy, frames, copied  # another connection checkpointing, or a reader holding frames back
        before = frames
        busy, frames, copied = checkpoint(engine)
        if frames - before <= FRAMES_LEFT_FOR_TURN:
            break  # few written meanwhile (or the WAL started over since): fewer during this pass
    if busy or copied < frames:
        return busy, frames, copied
    with writer_lock(engine.url.database).held():
        return checkpoint(engine)


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """Run a PASSIVE checkpoint of ``engine``'s file now: (busy, frames in the WAL, frames checkpointed)."""
    connection = engine.raw_connection()  # the driver's, in autocommit: a checkpoint cannot run in a transaction
    try:
        busy, frames, copied = connection.driver_connection.execute(_PASSIVE).fetchone()
    finally:
        connection.close()
    return busy, frames, copied


def run_at_close(engine: Engine) -> None:
    """At close: checkpoint what this process wrote since its last checkpoint, if it wrote anything."""
    run_if_due(engine, commits=1, wait=True)
