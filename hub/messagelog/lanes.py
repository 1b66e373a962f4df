"""Lanes: each writing process appends to a hash chain of its own.

One chain for the whole log made every writer lock its one head row for the
length of a commit: on PostgreSQL every gateway, watcher and worker process
queued behind that lock, so more processes added no throughput. A lane is
taken by a process the first time it writes (a random id, with its host, pid
and start recorded in ``lanes``); its writers lock only their lane's row, so
processes never wait on each other. Threads of one process share its lane
and queue on its row, as they did on the one head before.

A lane's first record follows the lane's own genesis hash, derived from its
id, so a record cannot be moved into another lane unnoticed. The chain
written before lanes existed is the lane ``legacy``, whose genesis is the old
chain's (64 zeros): its records keep their hashes.

The anchors (:mod:`hub.messagelog.anchors`) bind every lane's head from time
to time, so a lane's deleted tail is caught by the next anchor that bound a
later head.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog import db, prepared
from hub.messagelog.schema import RECORD_NUMBERS, audit_chain, lanes, timestamp

#: the lane of the chain written before lanes existed (revision 0004 moved it there)
LEGACY_LANE = "legacy"
#: previous hash of the legacy lane's first record (the single chain's genesis)
LEGACY_GENESIS = "0" * 64
#: the execution option that carries a write transaction's lane to the chain
LANE_OPTION = "rabt_lane"
#: the execution option that keeps the head a write transaction locked (see :func:`lock`)
HEAD_OPTION = "rabt_lane_head"

# Run on the driver's cursor (see hub.messagelog.prepared): every write locks and moves the head.
_LOCK = f"SELECT seq, hash FROM {lanes.name} WHERE lane_id = ?"
# PostgreSQL: the lock and the write's record numbers in one statement (see chain.numbers_later for the form)
_LOCK_NUMBERED = (f"SELECT seq, hash, ARRAY(SELECT nextval('{RECORD_NUMBERS.name}') "
                  f"FROM unnest(array_fill(0, ARRAY[?::integer]))) FROM {lanes.name} WHERE lane_id = ?")
# SQLite: the lock and the newest record's number in one statement (numbers are max + 1 there: the write
# transaction holds the whole file, so the newest read with the lock is still the newest when appending)
_LOCK_NEWEST = (f"SELECT seq, hash, (SELECT coalesce(max(seq), 0) FROM {audit_chain.name}) "
                f"FROM {lanes.name} WHERE lane_id = ?")
_MOVE = f"UPDATE {lanes.name} SET seq = ?, hash = ? WHERE lane_id = ?"


def genesis(lane_id: str) -> str:
    """Previous hash of lane ``lane_id``'s first record: binds the lane's records to its id."""
    if lane_id == LEGACY_LANE:
        return LEGACY_GENESIS
    return hashlib.sha256(f"rabt lane {lane_id}".encode()).hexdigest()


class Lane:
    """This process's lane of one log: registered on first use, taken anew after a fork.

    Thread-safe. ``appended`` counts the records written through it (the
    anchor schedule reads it).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._lane_id: str | None = None
        self._pid: int | None = None
        self.appended = 0

    @property
    def lane_id(self) -> str:
        """The lane's id, registering the lane first (and again in a forked child).

        Registering is a commit of its own, so it must happen before the
        caller's write transaction begins (on SQLite it would wait on it).
        """
        with self._lock:
            if self._lane_id is None or self._pid != os.getpid():
                self._lane_id, self._pid = self._register(), os.getpid()
                self.appended = 0
            return self._lane_id

    def _register(self) -> str:
        lane_id = uuid.uuid4().hex
        values = {"lane_id": lane_id, "host": socket.gethostname()[:255], "pid": os.getpid(),
                  "opened_at": timestamp(), "seq": 0, "hash": genesis(lane_id)}
        with db.write_transaction(self._engine) as conn:  # driver errors: the writer translates them
            conn.execute(sa.insert(lanes), values)
        return lane_id

    def bind(self, conn: Connection) -> Connection:
        """``conn`` carrying this lane, for :func:`lock` and :func:`hub.messagelog.chain.append`, its head not
        read yet: called as each write transaction begins."""
        options = conn.get_execution_options()
        head = options.get(HEAD_OPTION)
        if head is not None and options.get(LANE_OPTION) is self:
            # A connection kept between writes (hub.messagelog.db.HeldConnection) carries this lane already:
            # setting the options again, to forget the head, cost ~9k instructions (an event dispatched, the
            # options merged) on every write.
            head.value = None
            return conn
        return conn.execution_options(**{LANE_OPTION: self, HEAD_OPTION: _Head()})


class _Head:
    """The lane's head as this transaction locked and moved it: read from the database once per transaction."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: tuple[str, int, str] | None = None


def current(conn: Connection) -> Lane:
    """The lane a write transaction appends to (see :meth:`Lane.bind`)."""
    lane = conn.get_execution_options().get(LANE_OPTION)
    if lane is None:
        raise MessageLogError("a chain record can only be appended in a write transaction bound to a lane")
    return lane


def lock(conn: Connection) -> tuple[str, int, str]:
    """Lock the transaction's lane head until it ends; (lane id, seq, hash).

    Only this process's writers share the row, so other processes never wait
    here; on SQLite the write transaction (BEGIN IMMEDIATE) already holds the
    database lock.
    """
    return lock_later(conn)()


def lock_later(conn: Connection, numbers: int = 0) -> Callable[[], tuple[str, int, str]]:
    """:func:`lock`, its statement sent now and its answer read when the returned function is called.

    In a pipeline (:func:`hub.messagelog.prepared.send`) the lock then shares
    a round trip with the statements sent after it, before it is read. With
    ``numbers`` the same statement takes that many record numbers (a statement
    less, see :func:`hub.messagelog.chain.lock_and_numbers_later`) — from the
    sequence on PostgreSQL, the newest record's number onward on SQLite — and
    the returned function's ``numbers`` reads them, ascending; otherwise it is None.
    """
    held = conn.get_execution_options().get(HEAD_OPTION)
    if held is not None and held.value is not None:
        value = held.value  # locked earlier in this transaction: the row cannot have moved but by us
        return _Locked(lambda: value)
    lane_id = current(conn).lane_id
    sqlite = conn.dialect.name == "sqlite"
    found = _send_lock(conn, lane_id, numbers, sqlite)
    read: list = []  # the head, then the numbers if taken: the row is read once, by whichever asks first

    def locked() -> tuple[str, int, str]:
        if read:
            return read[0]
        rows = found()
        if not rows:
            raise MessageLogError(f"lane {lane_id} of the audit chain is missing from the log")
        [(seq, hash_, *extra)] = rows
        read.append((lane_id, seq, hash_))
        if extra:  # SQLite: the newest record's number; PostgreSQL: the numbers the sequence gave
            read.append(list(range(extra[0] + 1, extra[0] + 1 + numbers)) if sqlite else sorted(extra[0]))
        if held is not None:
            held.value = (lane_id, seq, hash_)
        return lane_id, seq, hash_

    def record_numbers() -> list[int]:
        locked()
        return read[1]

    return _Locked(locked, record_numbers if numbers > 0 else None)


def _send_lock(conn: Connection, lane_id: str, numbers: int, sqlite: bool) -> Callable[[], list[tuple]]:
    """The lane's lock sent, with what gives ``numbers`` record numbers if any (see :func:`lock_later`)."""
    if numbers <= 0:
        return prepared.send(conn, _LOCK + prepared.locking(conn), (lane_id,))
    if sqlite:
        return prepared.send(conn, _LOCK_NEWEST, (lane_id,))
    return prepared.send(conn, _LOCK_NUMBERED + prepared.locking(conn), (numbers, lane_id))


class _Locked:
    """The head :func:`lock_later` read, when called; ``numbers``: the record numbers its statement took, or None."""

    __slots__ = ("_read", "numbers")

    def __init__(self, read: Callable[[], tuple[str, int, str]],
                 numbers: Callable[[], list[int]] | None = None) -> None:
        self._read, self.numbers = read, numbers

    def __call__(self) -> tuple[str, int, str]:
        return self._read()


def move_head(conn: Connection, lane_id: str, seq: int, hash_: str) -> None:
    """Record the lane's new newest record (inside the appending transaction)."""
    prepared.execute(conn, _MOVE, (seq, hash_, lane_id))
    held = conn.get_execution_options().get(HEAD_OPTION)
    if held is not None:
        held.value = (lane_id, seq, hash_)
