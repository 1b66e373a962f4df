"""One pooled connection kept for licensing's hot read, the licence a visa check asks about.

Every visa check reads its licence once. Checked out of the pool and given
back per check, that read cost about twice the query itself (0.11 ms against
0.05 ms per check on a loaded two-core machine): the checkout, its events,
the reset on return. The consumer threads take turns on this one connection
instead; a read lasts tens of microseconds, so they barely wait.

What a read sees does not change: on SQLite each statement runs on its own
(the driver begins no transaction for a ``SELECT``) and sees every commit
before it; on PostgreSQL the read's transaction ends with a COMMIT as soon as
its rows are in (as :func:`hub.messagelog.db.reading` ends one: a rollback would
make psycopg forget the statement it prepared), so no snapshot is held
between checks. As :class:`hub.messagelog.db.HeldConnection` does for
writes, a connection unused for :data:`~hub.messagelog.db.IDLE_PING_SECONDS`
goes back to the pool (which tests it on the next checkout), one that failed
is given back (the pool drops a lost one) and a forked child keeps none of
its parent's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from hub.messagelog import prepared
from hub.messagelog.db import IDLE_PING_SECONDS, is_sqlite


class HeldReader:
    """``fetch(sql, params)`` on one kept connection, for one thread at a time. Thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = os.getpid()
        self._used_at = 0.0

    def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows of ``sql`` (``?`` marks, :mod:`hub.messagelog.prepared`); SQLAlchemy's errors as raised."""
        with self._lock:
            conn = self._connection()
            try:
                if self._sqlite:
                    return prepared.fetch(conn, sql, params)
                with conn.begin():  # committed once the rows are in
                    return prepared.fetch(conn, sql, params)
            except BaseException:
                self._release()  # back to the pool, which rolls back or drops it
                raise
            finally:
                self._used_at = time.monotonic()

    def close(self) -> None:
        """Give the connection back to the pool; the next read checks one out again."""
        with self._lock:
            self._release()

    def _connection(self) -> Connection:
        if self._pid != os.getpid():  # a forked child must not use its parent's socket or file handle
            self._conn, self._pid = None, os.getpid()
        if self._conn is not None and (self._conn.invalidated or
                                       time.monotonic() - self._used_at > IDLE_PING_SECONDS):
            self._release()  # idle (or lost): the pool tests the connection on the next checkout
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
