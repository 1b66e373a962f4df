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

The budget is the ``-wal`` file's size, which every process writing the
file sees alike (``os.stat``, one system call after a commit): each
process counting only its own commits let two or three writing processes
take the WAL 1.3-1.6 times past it. A WAL that starts over is overwritten
from its beginning and keeps its size; ``journal_size_limit`` (set on
every connection, :func:`size_limit`) has the first commit after the
start cut it to half the budget, so its size says how far the current
WAL goes once past that half. Once it reaches :meth:`Budget.start_at`
(the budget less what the writers added during this process's last
checkpoint), the writer that finds it starts a checkpoint in a thread of
its own once its write is done: the file's writer lock released and,
for a group commit, every caller handed its outcome (the leader calls
:func:`run_if_due` then). Run by the leader itself, it kept the leader's
own caller waiting: with one check a commit, as long as SQLite's had.
Its PASSIVE passes wait for nobody: writers go on appending meanwhile, a
second checkpointer (another process's) makes one return busy at once,
and frames a reader still uses are left for the next checkpoint; only its
last pass takes a write turn (see :func:`_checkpoint_and_catch_up`).
SQLite's own checkpoint stays, as a backstop at :data:`BACKSTOP_PAGES`,
far above what the budget lets the WAL reach, for writers that never
checkpoint (an older hub, the ``sqlite3`` shell, the few writes made
outside :func:`hub.messagelog.db.write_transaction`).

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

from hub.messagelog.writer_lock import SUFFIX, writer_lock

logger = logging.getLogger(__name__)

#: the WAL's budget in pages (4 KB): 64 MB, SQLite's automatic checkpoint's threshold before, so that a
#: message's pages written on acceptance and again when it is marked published reach the file once
WAL_PAGES = 16384
PAGE_BYTES = 4096
#: SQLite's own checkpoint, inside a commit, only past this many WAL pages (256 MB at 4 KB a page;
#: it was 16384): reached only when the writers' checkpoints do not keep up or no writer runs them
BACKSTOP_PAGES = 65536
#: passes at most while the writers go on: each copies what was written during the one before
CONCURRENT_PASSES = 4
#: WAL frames written during a pass (two or so commits) few enough for the last pass to copy in a write turn
FRAMES_LEFT_FOR_TURN = 64
_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"
_WAL_HEADER, _FRAME_HEADER = 32, 24


def budget_bytes() -> int:
    """The WAL's budget in bytes (read when asked: a benchmark sets :data:`WAL_PAGES` before it opens a log)."""
    return WAL_PAGES * PAGE_BYTES


def size_limit() -> int:
    """``journal_size_limit``: what the first commit after the WAL starts over cuts the file to, half the budget.

    Below it the file's size is what some earlier WAL reached, not this one;
    a checkpoint never starts below it. Not smaller: a commit past the file's
    end makes the sync record the file's new size too (20-30% more system
    time per commit measured here than one overwriting).
    """
    return budget_bytes() // 2


def wal_size(database: str) -> int:
    """The size of ``database``'s ``-wal`` file, 0 when there is none (no connection open, or not yet written)."""
    try:
        return os.stat(database + "-wal").st_size
    except OSError:
        return 0


def wal_bytes(frames: int) -> int:
    """The length of a WAL of ``frames`` frames: a 32-byte header, then each page after 24 bytes of its own
    (sqlite.org/fileformat2.html, "WAL file format")."""
    return _WAL_HEADER + frames * (_FRAME_HEADER + PAGE_BYTES)


class Budget:
    """When this process starts a checkpoint of one file: what its WAL's size was and what the checkpoints found."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._lock = threading.Lock()
        self.commits = 0
        """This process's commits since its last checkpoint here (one at close only if it wrote)."""
        self.headroom = budget_bytes() // 4
        """What the writers may add while a checkpoint runs, as the last few checkpoints found."""
        self.start_at = budget_bytes() - self.headroom
        """The WAL's size that starts a checkpoint: the budget less the headroom."""
        self.floor = 0
        """The WAL's size after this process's last checkpoint, until it starts over: retried only past it."""
        self.running = False
        self.checkpoints = 0
        """Checkpoints this process ran on the file (busy ones too)."""
        self.last: tuple[int, int, int] | None = None
        """The last one's (busy, frames in the WAL, frames checkpointed), as SQLite reports them."""

    def count(self) -> None:
        with self._lock:
            self.commits += 1

    def claim(self, at_close: bool = False) -> int | None:
        """The WAL's size if the caller is to checkpoint now, else None; ``at_close``: if this process wrote."""
        size = wal_size(self.database)
        with self._lock:
            if size < self.floor:
                self.floor = 0  # the WAL started over and was cut to the size limit
            due = self.commits > 0 if at_close else size >= max(self.start_at, self.floor + budget_bytes() // 16)
            if self.running or not due:
                return None
            self.running, self.commits = True, 0
            return size

    def ran(self, result: tuple[int, int, int] | None, started: int | None = None) -> None:
        """A checkpoint over; ``started``: the WAL's size when it began (None: one at close, which sets nothing)."""
        with self._lock:
            self.running = False
            self.checkpoints += 1
            self.last = result
            if started is None:
                return
            found = result is not None and not result[0]
            # the WAL as the last pass found it: the file may be cut already, a writer having started it over
            ended = wal_bytes(result[1]) if found else wal_size(self.database)
            self.floor = ended  # not again before the WAL starts over, or grows by a sixteenth of the budget
            if found:
                self._started_earlier_than(ended - started)

    def _started_earlier_than(self, grown: int) -> None:
        """The next checkpoint started so that what the writers add meanwhile ends it within the budget.

        What they added varies from one checkpoint to the next (the writers'
        pace, the final pass's wait for the writer lock): the headroom is the
        most seen lately, forgotten by an eighth at each checkpoint. Not below
        the size limit, where the file's size says nothing of the current WAL.
        """
        self.headroom = max(grown * 5 // 4, self.headroom * 7 // 8)
        lowest = size_limit() + budget_bytes() // 16
        self.start_at = min(max(budget_bytes() - self.headroom, lowest), budget_bytes() * 15 // 16)


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
            found = _BUDGETS.setdefault(lock.path, Budget(lock.path.removesuffix(SUFFIX)))
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


def run_if_due(engine: Engine, *, at_close: bool = False) -> None:
    """A checkpoint, in a thread of its own, once the WAL reached :attr:`Budget.start_at` (any process's writes).

    Call it with no write turn held and nobody waiting for this thread's
    write; ``at_close``: instead, if this process wrote since its last
    checkpoint, run one in this thread. A failure is logged, never raised:
    the writes are committed, and the next write that finds a checkpoint
    due tries again.
    """
    found = budget(engine)
    started = found.claim(at_close) if found is not None else None
    if started is None:
        return
    run = functools.partial(_run, engine, found, None if at_close else started)  # one at close says nothing
    if at_close:
        run()
    else:
        # Not in the writer's thread: a lone caller's group commit, or a relay's marking, would wait for it.
        threading.Thread(target=run, name="rabt-wal-checkpoint", daemon=True).start()


def _run(engine: Engine, found: Budget, started: int | None) -> None:
    result = None
    try:
        result = _checkpoint_and_catch_up(engine)
    except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
        logger.warning("the WAL of %s was not checkpointed, trying again later: %s", engine.url.database, exc)
    finally:
        found.ran(result, started)


def _checkpoint_and_catch_up(engine: Engine) -> tuple[int, int, int]:
    """The WAL copied while the writers go on, again until little is left, then the rest in a write turn.

    SQLite starts the WAL over at the first write after a checkpoint that
    copied every frame, if that writer began after it; a checkpoint racing
    the writers never quite does (one is always in the middle of a write),
    and the file grew until the backstop checkpointed inside a commit. Each
    pass copies what was written during the one before, so they shrink;
    the last holds the writer lock, so no writer is in the middle of one:
    what it copies (one pass's worth of commits, often none) is all the
    writers wait for. Once a pass finds the WAL at the budget, the last
    pass follows at once: writers faster than the passes (12 going flat
    out on a loaded machine) took it to 1.5 budgets and more otherwise.
    """
    busy, frames, copied = checkpoint(engine)
    for _ in range(CONCURRENT_PASSES - 1):
        if busy or copied < frames:
            return busy, frames, copied  # another connection checkpointing, or a reader holding frames back
        if wal_bytes(frames) >= budget_bytes():
            break  # the writers outran it to the budget: they wait while the last pass copies what is left
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
    run_if_due(engine, at_close=True)
