"""Engines for the message log and for consumers' own databases.

One place decides how a URL becomes an engine, so SQLite and PostgreSQL
behave alike where it matters:

* ``postgresql://`` is rewritten to the psycopg v3 driver;
* SQLite runs in WAL mode (readers never block the writer) with a busy
  timeout, and a connection opened with :func:`write_transaction` starts with
  ``BEGIN IMMEDIATE`` so writers queue up instead of failing half-way;
* library errors are translated to :class:`~hub.errors.MessageLogError`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError, MessageLogUnavailableError
from hub.messagelog import checkpoints, pipelines, prepared
from hub.messagelog.writer_lock import writer_lock

#: seconds a SQLite writer waits for another writer before giving up
SQLITE_BUSY_TIMEOUT = 30.0
#: seconds a pooled server connection may sit unused before it is tested on checkout
IDLE_PING_SECONDS = 1.0
_WRITE = "rabt_write"
#: driver errors that may say the database, not one statement, failed (refused, connection lost, locked)
_DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
#: SQLite raises OperationalError for a bad statement too; these are the ones about the file itself
_SQLITE_DOWN = ("database is locked", "unable to open database", "disk i/o error", "database is full")


def database_down(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether ``exc`` means the database cannot be used now (try again later), not that a statement is wrong."""
    if getattr(exc, "connection_invalidated", False):
        return True
    if not isinstance(exc, _DATABASE_DOWN):
        return False
    driver_error = getattr(exc, "orig", None)
    if type(driver_error).__module__.startswith("sqlite3"):
        return any(phrase in str(driver_error).lower() for phrase in _SQLITE_DOWN)
    return True


def normalise_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: PostgreSQL goes through psycopg v3."""
    if not url or not isinstance(url, str):
        raise MessageLogError(f"database URL must be a non-empty string, got {url!r}")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise MessageLogError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


def make_engine(url: str) -> Engine:
    """A pooled engine for ``url`` (``sqlite:///…`` or ``postgresql://…``)."""
    normalised = normalise_url(url)
    try:
        engine = sa.create_engine(normalised)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise MessageLogError(f"cannot use database URL {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)  # a SQLite file has no server to lose: nothing to test on checkout
    else:
        _ping_when_idle(engine, IDLE_PING_SECONDS)
        _compress_with_lz4(engine)
    return engine


def _compress_with_lz4(engine: Engine) -> None:
    """Have the server compress the values this engine writes with lz4 where it can (PostgreSQL 14 and later).

    Every push stores a signed envelope and its payload, a few KB each, which
    the server compresses (TOAST) before storing; its default, pglz, spent
    about twice lz4's CPU on a 4 KB envelope, the biggest part of storing a
    push. Values written before keep their compression; reading either is
    the same. A server without lz4 refuses the setting and keeps pglz.
    """
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        try:
            dbapi_connection.execute("SET default_toast_compression = lz4")
        except engine.dialect.loaded_dbapi.Error:
            dbapi_connection.rollback()  # older server, or built without lz4: pglz as before
        else:
            dbapi_connection.commit()  # a SET is undone by the rollback the pool does next otherwise


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection on checkout only when it sat unused longer than ``idle_seconds``.

    A server may have dropped a pooled connection (restart, idle timeout). Testing
    every checkout (``pool_pre_ping``) cost a round trip and about a quarter of a
    millisecond of CPU on every write of the log; a connection used a moment ago
    is alive but for a failure in that moment, which the write then reports as an
    outage (MessageLogUnavailableError) and the pool drops, as when the server
    fails in the middle of a write.
    """
    clock = time.monotonic

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record) -> None:
        record.info["rabt_idle_since"] = clock()
        pipelines.implicit_begin(record.info, dbapi_connection)  # after a write a pipeline began, if any

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("rabt_idle_since")
        if since is None or clock() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool discards this connection and checks out (or opens) another
            raise sa.exc.DisconnectionError(f"pooled connection lost while idle: {exc}") from exc


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded database (whose locking differs from PostgreSQL's)."""
    return engine.dialect.name == "sqlite"


def _tune_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take BEGIN out of pysqlite's hands so we can choose DEFERRED or IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed message survives a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous = FULL")
        # The writers checkpoint after their writes (hub.messagelog.checkpoints), every few
        # tens of MB of WAL; SQLite's own checkpoint, inside a commit, only as a far backstop.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {checkpoints.BACKSTOP_PAGES}")
        # The WAL cut back when it starts over, so that its size tells every process how far it goes.
        cursor.execute(f"PRAGMA journal_size_limit = {checkpoints.size_limit()}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: Core's exec_driver_sql cost more than the BEGIN on every write.
        immediate = conn.get_execution_options().get(_WRITE, False)
        prepared.begin(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement on SQLite.

    Without IMMEDIATE, two SQLite writers that both read first would deadlock
    on the upgrade to a write lock; with it the second simply waits, in line
    for the file's writer lock (:mod:`hub.messagelog.writer_lock`).
    """
    with writers_in_turn(engine), engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with _transaction(conn):
            yield conn
    checkpoints.committed(engine)  # the write turn let go: a checkpoint now keeps no writer waiting


def _transaction(conn: Connection):
    """``conn``'s write transaction (see :func:`_ended` on PostgreSQL)."""
    return conn.begin() if is_sqlite(conn.engine) else _ended(conn)


@contextmanager
def _ended(conn: Connection) -> Iterator[None]:
    """``conn``'s transaction; once it has ended, the driver begins the next one itself again if a pipeline
    began this one (see :func:`hub.messagelog.pipelines.pipelined`), before anything else runs on the connection."""
    try:
        with conn.begin():
            yield
    finally:
        if not conn.invalidated and not conn.closed:
            pipelines.implicit_begin(conn.connection.info, conn.connection.driver_connection)


def writers_in_turn(engine: Engine):
    """Around a write transaction: on a SQLite file, its writer lock (see :mod:`hub.messagelog.writer_lock`)."""
    lock = writer_lock(engine.url.database) if is_sqlite(engine) else None
    return lock.held() if lock is not None else _NO_LOCK


#: what :func:`writers_in_turn` is where no lock file orders the writers (PostgreSQL, an in-memory database)
_NO_LOCK = nullcontext()


class HeldConnection:
    """One pooled connection kept between write transactions, for one writer at a time.

    Checking a connection out of the pool, setting its options and handing it
    back cost more CPU than the statements of a small write; the group
    committer's leaders, one at a time, write through one of these instead.
    A connection that sat unused longer than :data:`IDLE_PING_SECONDS`, or was
    lost (invalidated) in a write, goes back to the pool and another is checked
    out for the next write, tested as any checkout is: a database that went
    away is noticed and reconnected as on the pooled path. After :meth:`close`
    every write checks a connection out and gives it back, as
    :func:`write_transaction` does.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = os.getpid()
        self._used_at = 0.0
        self._closed = False

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, as :func:`write_transaction`'s, on the kept connection."""
        with self._lock:
            if self._closed:
                with write_transaction(self._engine) as conn:
                    yield conn
                return
            conn = self._connection()
            try:
                with writers_in_turn(self._engine), _transaction(conn):
                    yield conn
            finally:
                self._used_at = time.monotonic()
                if conn.invalidated:
                    self._release()
        checkpoints.committed(self._engine)  # after the kept connection is free for the next writer

    def close(self) -> None:
        """Give the connection back to the pool (after a write running now); later writes keep none."""
        with self._lock:
            self._closed = True
            self._release()

    def _connection(self) -> Connection:
        if self._pid != os.getpid():
            # a forked child must not use its parent's socket or file handle, nor close it
            self._conn, self._pid = None, os.getpid()
        if self._conn is not None and time.monotonic() - self._used_at > IDLE_PING_SECONDS:
            self._release()  # idle: the pool tests the connection on the next checkout
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(**{_WRITE: True})
        return self._conn

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A pooled connection for reads; on PostgreSQL its transaction ends with a COMMIT, not Core's ROLLBACK.

    psycopg forgets every statement it prepared on a connection when a
    transaction is rolled back there (and has the server drop them), and Core
    rolls back a connection given back with its transaction open: the relay's
    read of the outbox, every round, made its connection's statements (the
    read, and the marking that follows) parsed and planned again each time.
    A read that fails still rolls back.
    """
    with engine.connect() as conn:
        if is_sqlite(engine):
            yield conn
            return
        with conn.begin():  # committed on the way out (statements run on the driver's cursor begin none in Core)
            yield conn


class translated:  # noqa: N801 - used as the function it was: with translated("store the messages")
    """Turn database driver errors into a MessageLogError saying what failed.

    A class, not a generator-based context manager: every write of the log enters two, and a generator's
    set-up and tear-down cost several times what this does.
    """

    __slots__ = ("action",)

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, traceback) -> None:
        if exc is None or not isinstance(exc, sa.exc.SQLAlchemyError):
            return
        detail = getattr(exc, "orig", None) or exc
        # the database, not this statement, failed: the caller may try again once it is back
        error = MessageLogUnavailableError if database_down(exc) else MessageLogError
        raise error(f"message log could not {self.action}: {detail}") from exc


def require_database(engine: Engine) -> None:
    """MessageLogError unless a SQLite database file exists: a read-only open must not create one."""
    database = engine.url.database
    if is_sqlite(engine) and database and database != ":memory:" and not os.path.exists(database):
        where = engine.url.render_as_string(hide_password=True)
        raise MessageLogError(f"no message log at {where}: file {database} does not exist")


def make_folder(engine: Engine) -> None:
    """Create the folder of a SQLite database file (as the SQLite broker does): a first run starts from nothing."""
    database = engine.url.database if is_sqlite(engine) else None
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MessageLogError(f"cannot create the folder of the database {database}: {exc}") from exc
