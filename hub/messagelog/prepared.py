"""The write path's hot statements as SQL text, run on the driver's cursor.

A push writes about ten statements. Through SQLAlchemy Core each paid about
0.3 ms on top of the driver's own execute (the compiled-cache lookup,
processing every parameter, event dispatch, building a result), more than
SQLite spends running it. The statements of the write path are therefore
plain SQL written once, the same on SQLite and PostgreSQL but for the
parameter mark (``?`` for sqlite3, ``%s`` for psycopg) and row locks, and
run on the DBAPI cursor of the Core connection whose transaction they are
part of: SQLAlchemy still begins, commits and rolls back, so durability and
isolation are the Core path's.

Driver errors come out as SQLAlchemy's own classes (IntegrityError,
OperationalError…) with ``connection_invalidated`` set when the connection
was lost, exactly what Core raises: :func:`hub.messagelog.db.translated`,
the retry on a unique-key race and the outage handling see no difference.

    rows = fetch(conn, "SELECT seq, hash FROM lanes WHERE lane_id = ?", (lane_id,))
    execute_many(conn, insert_sql(outbox, ("message_id", "enqueued_at")), [(mid, now)])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection


#: rows per multi-row INSERT on PostgreSQL (at most 65,535 parameters per statement; a wage file's
#: batch of thousands goes in a few statements, each prepared once as psycopg sees it repeat)
ROWS_PER_INSERT = 256


def insert_sql(table: sa.Table, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns…) VALUES (?, …)``: every named column must be one of ``table``'s."""
    missing = [name for name in columns if name not in table.c]
    if missing:
        raise ValueError(f"table {table.name} has no column {', '.join(missing)}")
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def marks(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list of ``count`` values (at least one)."""
    return ", ".join("?" * max(1, count))


def among(conn: Connection, column: str, values: Sequence) -> tuple[str, tuple]:
    """``column IN (?, …)`` for ``values`` (at least one), and its parameters; on PostgreSQL ``column = ANY(?)``.

    PostgreSQL takes the list as one array parameter, so the statement's text
    is the same whatever the count: the server and psycopg prepare it once,
    not once per list length (lengths that churned psycopg's prepared statements).
    """
    if conn.dialect.name == "sqlite":
        return f"{column} IN ({marks(len(values))})", tuple(values)
    return f"{column} = ANY(?)", (list(values),)


def locking(conn: Connection) -> str:
    """`` FOR UPDATE`` where the database has row locks; SQLite's write transaction already holds the whole file."""
    return "" if conn.dialect.name == "sqlite" else " FOR UPDATE"


def fetch(conn: Connection, sql: str, params: Sequence = ()) -> list[tuple]:
    """The rows ``sql`` (written with ``?`` marks) answers inside ``conn``'s transaction."""
    return _run(conn, sql, params, many=False, rows=True)


def send(conn: Connection, sql: str, params: Sequence = ()) -> Callable[[], list[tuple]]:
    """Send ``sql`` now; the returned function reads its rows (once).

    Inside :func:`pipelined` on PostgreSQL the statements sent before the
    first of them is read share one round trip. SQLite runs in-process: its
    rows are read at once, as :func:`fetch` reads them.
    """
    if conn.dialect.name == "sqlite" or not _pipelines_supported():
        found = fetch(conn, sql, params)
        return lambda: found
    text = _for_driver(sql, conn.dialect.paramstyle)
    cursor = driver_cursor(conn)
    try:
        cursor.execute(text, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        cursor.close()
        raise _translated(conn, exc, text, params, cursor) from exc

    def rows() -> list[tuple]:
        try:
            return cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(conn, exc, text, params, cursor) from exc
        finally:
            cursor.close()

    return rows


def execute(conn: Connection, sql: str, params: Sequence = ()) -> None:
    """Run one statement that returns no rows."""
    _run(conn, sql, params, many=False)


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence]) -> None:
    """Run one statement for each of ``rows`` (the driver's executemany: psycopg pipelines them).

    On PostgreSQL an :func:`insert_sql` statement goes as one ``INSERT … VALUES
    (…), (…)`` per :data:`ROWS_PER_INSERT` rows: psycopg's executemany sends
    and reads back each row as a query of its own, and a push's few rows in
    five tables cost more in that bookkeeping than in the inserts.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return
    if len(rows) == 1 or conn.dialect.name == "sqlite" or not sql.endswith(")") or " VALUES (" not in sql:
        _run(conn, sql, rows, many=True)
        return
    head, values = sql.rsplit(" VALUES ", 1)
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        _run(conn, _multi_row(head, values, len(chunk)), tuple(value for row in chunk for value in row), many=False)


@lru_cache(maxsize=256)
def _multi_row(head: str, values: str, count: int) -> str:
    return f"{head} VALUES {', '.join([values] * count)}"


def _run(conn: Connection, sql: str, params, *, many: bool, rows: bool = False) -> list[tuple] | None:
    """Every statement of this module goes here: one cursor, closed after, driver errors translated."""
    text = _for_driver(sql, conn.dialect.paramstyle)
    cursor = driver_cursor(conn)
    try:
        if many:
            cursor.executemany(text, params)
        else:
            cursor.execute(text, params)
        return cursor.fetchall() if rows else None
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, exc, text, params, cursor) from exc
    finally:
        cursor.close()


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, send the statements run inside together: one round trip up to each fetch, one at the end.

    Only statements of this module may run inside (Core reads a result at
    once, which a pipeline has not yet received). A statement that fails is
    raised at the next fetch or at the end, translated as any other; the
    transaction is then aborted, as it would be without the pipeline.
    SQLite runs in-process, with no round trips to save.
    """
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite" or not _pipelines_supported():
        yield
        return
    try:
        with driver.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, exc, "(statements sent in one pipeline)", (), None) from exc


def begin(conn: Connection, statement: str) -> None:
    """Send ``statement`` (``BEGIN``, ``BEGIN IMMEDIATE``) from a ``begin`` event, errors as Core raises them.

    Core does not wrap what an event handler raises, so a database locked
    past the busy timeout is translated here.
    """
    _run(conn, statement, (), many=False)


def driver_cursor(conn: Connection):
    """A new cursor of the driver's connection under ``conn``, which every statement here runs on.

    Core's events do not see these statements; a test that counts what a
    write sends wraps this function.
    """
    return conn.connection.driver_connection.cursor()


@lru_cache(maxsize=1)
def _pipelines_supported() -> bool:
    import psycopg  # only PostgreSQL logs get here: SQLite-only installs need not have it

    return psycopg.Pipeline.is_supported()  # libpq 14 or later


@lru_cache(maxsize=512)
def _for_driver(sql: str, paramstyle: str) -> str:
    # The statements here hold no literal '?' or '%', so the marks are the only ones to change.
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def _translated(conn: Connection, exc: Exception, statement: str, params, cursor) -> sa.exc.DBAPIError:
    """``exc`` as the SQLAlchemy exception Core would raise, the connection invalidated when it was lost."""
    dialect = conn.dialect
    # An invalidated connection (lost earlier in a pipeline) must not be asked for again: that would reconnect.
    lost = conn.invalidated or dialect.is_disconnect(exc, conn.connection.driver_connection, cursor)
    if lost and not conn.invalidated:
        conn.invalidate(exc)  # as Core does: the pool must not hand this connection out again
    return sa.exc.DBAPIError.instance(statement, params, exc, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=dialect,
                                      ismulti=isinstance(params, list))
