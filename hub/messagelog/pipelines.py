"""PostgreSQL pipelines: a write's statements, its BEGIN and its COMMIT in as few round trips as the reads allow.

psycopg sends each statement of a pipeline as it is executed and reads the
answers only when a result is asked for (a fetch) or the pipeline ends, so a
write transaction whose reads come first pays one round trip up to its last
read and one for everything after it. The statements run inside are
:mod:`hub.messagelog.prepared`'s; SQLite runs in-process, with no round trips
to save, and passes straight through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy.engine import Connection

from hub.messagelog import cursors
from hub.messagelog.prepared import as_core_error, pipelines_supported

_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
#: psycopg's ``TransactionStatus.INTRANS``: a transaction is open and no statement of it is running
_IN_TRANSACTION = 2
#: set in a driver connection's pool info while a pipeline, not psycopg, begins its transactions
_BEGUN_HERE = "rabt_begun_in_pipeline"


def pipelined(conn: Connection, *, commit: bool = False) -> AbstractContextManager[None]:
    """On PostgreSQL, send the statements run inside together: one round trip up to each fetch, one at the end.

    Only statements of this module may run inside (Core reads a result at
    once, which a pipeline has not yet received). A statement that fails is
    raised at the next fetch or at the end, translated as any other; the
    transaction is then aborted, as it would be without the pipeline.
    SQLite runs in-process, with no round trips to save.

    With ``commit`` the block is the last work of its write transaction: a
    block that ends without an exception sends the COMMIT after its
    statements, in the round trip at the end, instead of Core's commit
    costing one more (Core's commit then finds the transaction ended and
    sends nothing). A statement that fails before it aborts the transaction
    and the server skips the COMMIT: the statement's error is raised and
    Core rolls back, as without the pipeline. A COMMIT that fails is raised
    here, translated: the write is never reported as done. A statement run
    after the block would be a transaction of its own (the driver begins
    one again), which Core's commit or rollback ends.
    """
    if conn.dialect.name == "sqlite" or not pipelines_supported():
        return _IN_PROCESS  # every write of a SQLite log comes here: no generator made and run for nothing
    return _pipelined(conn, commit)


#: what :func:`pipelined` is on SQLite: nothing (one object for every write, not a new one each)
_IN_PROCESS = nullcontext()


@contextmanager
def _pipelined(conn: Connection, commit: bool) -> Iterator[None]:
    """:func:`pipelined` on PostgreSQL."""
    driver = conn.connection.driver_connection
    begin = _begins_here(conn, driver)
    commit = commit and (begin or driver.info.transaction_status == _IN_TRANSACTION)
    try:
        with driver.pipeline():
            if begin:
                cursors.writer(conn).execute(_BEGIN, prepare=False)
            yield
            if commit:  # on a cursor of its own: the writer's state after an executemany is not reset
                ender = cursors.reader(conn)
                ender.execute(_COMMIT, prepare=False)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise as_core_error(conn, exc, "(statements sent in one pipeline)", (), None) from exc
    if commit:
        cursors.give_back(conn, ender)  # its answer came with the pipeline's last
        implicit_begin(conn.connection.info, driver)  # ended: a statement after it is in a transaction again


def _begins_here(conn: Connection, driver) -> bool:
    """Whether the transaction's BEGIN is to go first in the pipeline: no statement of it has run yet.

    psycopg sends its own BEGIN at a transaction's first statement and, in a
    pipeline, waits for the server's answer to it alone: a round trip on every
    write. The connection is therefore put in autocommit (psycopg then sends
    no BEGIN of its own; allowed only between transactions, which the driver
    is in here: IDLE is status 0) and the pipeline begins the transaction
    itself, with the statements. The commit or rollback Core makes ends it as
    before (psycopg sends it whenever a transaction is open); the write
    transactions of :mod:`hub.messagelog.db` then turn autocommit off again
    (:func:`implicit_begin`), and so does the pool when the connection comes back.
    """
    if driver.autocommit or driver.info.transaction_status:
        return False
    driver.autocommit = True
    conn.connection.info[_BEGUN_HERE] = True
    return True


def implicit_begin(info: dict, driver) -> None:
    """Once a transaction a pipeline began (see :func:`_begins_here`) has ended: the driver begins the
    connection's next ones itself again. ``info`` is the pool's dictionary of the driver connection."""
    # (no driver: the pool hands in None for a connection it invalidated, which is never used again)
    if info.get(_BEGUN_HERE) and driver is not None and not driver.closed and not driver.info.transaction_status:
        del info[_BEGUN_HERE]
        driver.autocommit = False
