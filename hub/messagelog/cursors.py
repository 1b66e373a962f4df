"""The driver cursors the write path's statements run on (:mod:`hub.messagelog.prepared`), kept per connection.

A new cursor for each statement, closed after it, cost psycopg about a tenth
of the instructions of a log write on PostgreSQL (a cursor is a Python
object with a transformer and a result set of its own). Each driver
connection therefore keeps its cursors in the pool's ``info`` dictionary of
that connection, which SQLAlchemy discards with the connection: a
connection lost and replaced starts with none.

Two kinds are kept, because in a PostgreSQL pipeline (:func:`hub.messagelog.pipelines.pipelined`)
a statement's result arrives later, set on the cursor that sent it:

* one cursor for the statements whose rows are never read (``execute``,
  ``executemany``, ``BEGIN``): results that replace one another there are
  never looked at, and an error among them is raised by the pipeline whatever
  the cursor;
* spare cursors for statements whose rows are read: one is taken for a
  statement and given back once its rows are read, so a statement sent and
  read later (:func:`prepared.send`) keeps its cursor, and its rows, to itself.
  A spare psycopg cursor holds its last result until its next statement: the
  write path reads a few rows at a time.

After a driver error the connection's cursors are closed and forgotten
(:func:`forget`): a later statement never runs on one left in an unknown state.
A connection is used by one thread at a time, so its cursors are too.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

#: read cursors a connection keeps between statements: a write sends at most a handful before reading them
SPARE_READERS = 8
_KEPT = "rabt_cursors"


class _Kept:
    """A driver connection's cursors: the one for statements without rows, and the spare ones for reads."""

    __slots__ = ("writer", "readers")

    def __init__(self) -> None:
        self.writer = None
        self.readers: list = []


def writer(conn: Connection, info: dict | None = None):
    """The cursor of ``conn``'s driver connection for statements whose rows are not read.

    ``info``: that connection's pool info when the caller has it in hand (see :func:`_kept`).
    """
    kept = _kept(conn, info)
    if kept.writer is None:
        kept.writer = new_cursor(conn)
    return kept.writer


def reader(conn: Connection, info: dict | None = None):
    """A cursor of ``conn``'s driver connection for one statement whose rows are read; :func:`give_back` it after.

    ``info`` as for :func:`writer`.
    """
    readers = _kept(conn, info).readers
    return readers.pop() if readers else new_cursor(conn)


def give_back(conn: Connection, cursor, info: dict | None = None) -> None:
    """Keep ``cursor``, taken with :func:`reader`, for a later read: its statement's rows have been read.

    ``info`` as for :func:`writer`.
    """
    if conn.invalidated:
        return  # its connection is gone: asking for the new one would reconnect
    readers = _kept(conn, info).readers
    if len(readers) < SPARE_READERS:
        readers.append(cursor)
    else:
        cursor.close()


def forget(conn: Connection, failed=None) -> None:
    """Close ``failed`` (the cursor of a statement that failed) and the cursors kept for ``conn``'s connection.

    Called after a driver error: the next statements get new cursors.
    """
    if failed is not None:
        failed.close()
    if conn.invalidated:
        return  # SQLAlchemy drops them with the connection, and asking for it would reconnect
    kept = conn.connection.info.pop(_KEPT, None)
    if kept is not None:
        for cursor in (kept.writer, *kept.readers):
            if cursor is not None and cursor is not failed:
                cursor.close()


def _kept(conn: Connection, info: dict | None = None) -> _Kept:
    """The cursors kept in ``info``, the pool's for ``conn``'s driver connection (discarded with it): asked for
    here when the caller does not have it (a look-up through SQLAlchemy's proxies, ~2k instructions)."""
    if info is None:
        info = conn.connection.info
    kept = info.get(_KEPT)
    if kept is None:
        kept = info[_KEPT] = _Kept()
    return kept


def new_cursor(conn: Connection):
    """A new cursor of ``conn``'s driver connection.

    On PostgreSQL it is psycopg's ``RawCursor``, whose ``$1`` marks go to the
    server as they are: the ``%s`` of a plain cursor were parsed out of every
    statement by psycopg, from scratch for one of over 50 parameters (a
    group's inserts), which cost the hub more CPU than the server's work for it.
    """
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return driver.cursor()
    import psycopg  # only PostgreSQL logs get here

    return psycopg.RawCursor(driver)
