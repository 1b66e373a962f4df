"""The writers of one SQLite database, in every process, take turns through a lock file, not SQLite's sleeps.

SQLite lets one writer in at a time. A writer that finds the file taken
waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 ms …
and then 100 ms at a time before it looks again, whether or not the file
came free meanwhile. Two gateway processes writing one log (``rabt serve``
starts one per core) met there on every other commit: at 200 visa checks a
second, a group commit waited up to half a second behind commits of 2 ms,
holding every check of its group, and the gateway's bulkhead answered Busy
to the checks that came meanwhile.

So a write transaction first takes an exclusive ``flock`` on a file beside
the database (``<database>.writer-lock``), waiting for it in the kernel: the
next writer is woken when the last one's commit closes the file, and costs
no CPU meanwhile (trying again every half millisecond instead, each try a
hand-over of the GIL, cost a gateway process CPU on every contended commit).
SQLite's lock is taken after it, as before: a writer that does not use this
file (an older hub, the ``sqlite3`` shell) is still kept out by SQLite, and
waited for in its busy handler.

The wait has no deadline: a writer holding the file is inside a write
transaction, which SQLite's busy timeout, the disk and the process bound;
one that dies lets go with its open files. Only a process frozen while it
writes (SIGSTOP, a debugger) keeps the others waiting until it goes on or
goes away, where SQLite's busy timeout made each of their writes fail after
30 s.

    with writer_lock("/var/lib/rabt/log.sqlite3").held():
        ...  # BEGIN IMMEDIATE, the statements, COMMIT
"""

from __future__ import annotations

import fcntl
import os
import threading

SUFFIX = ".writer-lock"


class WriterLock:
    """An exclusive lock on ``<database>.writer-lock``, one per write transaction, in any thread or process.

    ``flock`` locks belong to an open file, so each holding opens the file
    anew: two threads of one process exclude each other as two processes do.
    A thread that holds it already (a write inside a write) does not take it again.
    """

    def __init__(self, database: str) -> None:
        self.path = database + SUFFIX
        self._local = threading.local()

    @property
    def holding(self) -> bool:
        """Whether this thread holds the lock now."""
        return getattr(self._local, "holding", False)

    def held(self) -> _Holding:
        """Hold the lock for the block, waiting for it as long as another writer holds it."""
        return _Holding(self)

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None  # a folder we may not write in: SQLite's own lock and busy handler still order the writers


class _Holding:
    """One holding of a :class:`WriterLock` (a context manager; a class, as every write of the log takes one or
    two, where a generator's set-up and tear-down cost several times the lock's own calls)."""

    __slots__ = ("_lock", "_descriptor", "_taken")

    def __init__(self, lock: WriterLock) -> None:
        self._lock, self._descriptor, self._taken = lock, None, False

    def __enter__(self) -> None:
        local = self._lock._local
        if getattr(local, "holding", False):
            return  # a write inside a write: held already
        descriptor = self._lock._open()
        try:
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)  # the GIL let go while it waits
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor, self._taken = descriptor, True
        local.holding = True

    def __exit__(self, *exc_info) -> None:
        if not self._taken:
            return
        self._taken = False
        self._lock._local.holding = False
        if self._descriptor is not None:
            os.close(self._descriptor)  # releases the lock


# Under the name an engine gives (every write looks it up, without a path walk) and under the absolute
# path, so that every spelling of one file finds one lock object.
_LOCKS: dict[str, WriterLock] = {}
_LOCKS_GUARD = threading.Lock()


def writer_lock(database: str | None) -> WriterLock | None:
    """The lock of the SQLite file ``database``; None for an in-memory database (one connection, no other writer)."""
    lock = _LOCKS.get(database) if database else None
    if lock is not None:
        return lock
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = os.path.abspath(database)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(path) or WriterLock(path)
        _LOCKS[path] = _LOCKS[database] = lock
        return lock
