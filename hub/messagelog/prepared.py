"""The write path's hot statements as SQL text, run on the driver's cursor.

A push writes about ten statements. Through SQLAlchemy Core each paid about
0.3 ms on top of the driver's own execute (the compiled-cache lookup,
processing every parameter, event dispatch, building a result), more than
SQLite spends running it. The statements of the write path are therefore
plain SQL written once, the same on SQLite and PostgreSQL but for the
parameter mark (``?`` for sqlite3, ``%s`` for psycopg) and row locks, and
run on a DBAPI cursor (kept with the driver connection, see
:mod:`hub.messagelog.cursors`) of the Core connection whose transaction they are
part of: SQLAlchemy still begins, commits and rolls back, so durability and
isolation are the Core path's.

Driver errors come out as SQLAlchemy's own classes (IntegrityError,
OperationalError…) with ``connection_invalidated`` set when the connection
was lost, exactly what Core raises: :func:`hub.messagelog.db.translated`,
the retry on a unique-key race and the outage handling see no difference.

On PostgreSQL psycopg prepares a statement server-side once its text has
come five times on a connection; the statements here keep their text
whatever the number of rows or ids (see :func:`execute_many` and
:func:`among`), so the server parses and plans each once per connection.

    rows = fetch(conn, "SELECT seq, hash FROM lanes WHERE lane_id = ?", (lane_id,))
    execute_many(conn, insert_sql(outbox, ("message_id", "enqueued_at")), [(mid, now)])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.messagelog import cursors


#: rows per INSERT of several rows on PostgreSQL (a wage file's batch of thousands goes in a few statements)
ROWS_PER_INSERT = 256
# The type a column's values are written as in a VALUES list, where no column gives the parameters a type
# (PostgreSQL casts each to the column's own type on insert).
_VALUE_TYPES = ((sa.LargeBinary, "bytea"), (sa.Integer, "bigint"), (sa.String, "text"))


class InsertSql(str):
    """``INSERT INTO table (columns…) VALUES (?, …)`` (see :func:`insert_sql`), and how to write rows of it padded."""

    head: str
    """``INSERT INTO table (columns…)``."""
    typed: str | None
    """``(?::text, ?::bigint, …)``: a row whose marks say their types; None when the first column may be NULL."""


def insert_sql(table: sa.Table, columns: Sequence[str]) -> InsertSql:
    """``INSERT INTO table (columns…) VALUES (?, …)``: every named column must be one of ``table``'s."""
    missing = [name for name in columns if name not in table.c]
    if missing:
        raise ValueError(f"table {table.name} has no column {', '.join(missing)}")
    sql = InsertSql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})")
    sql.head = f"INSERT INTO {table.name} ({', '.join(columns)})"
    # A padding row is all NULL: told from the real rows by a first column that is never NULL in them.
    sql.typed = None if table.c[columns[0]].nullable else \
        f"({', '.join(f'?::{_value_type(table.c[name])}' for name in columns)})"
    return sql


def _value_type(column: sa.Column) -> str:
    for kind, name in _VALUE_TYPES:
        if isinstance(column.type, kind):
            return name
    raise ValueError(f"column {column.table.name}.{column.name} of type {column.type} has no value type here")


def marks(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list of ``count`` values (at least one)."""
    return ", ".join("?" * max(1, count))


def among(conn: Connection, column: str, values: Sequence) -> tuple[str, tuple]:
    """``column IN (?, …)`` for ``values`` (at least one), and its parameters; on PostgreSQL ``column = ANY(?)``.

    PostgreSQL takes the list as one array parameter, so the statement's text
    is the same whatever the count. It is planned for each list all the same
    (not prepared, see :func:`_driver_statement`): a plan kept for any list, made
    while the table was small (a new log), scanned the table or an index
    without the list once the table had grown.
    """
    if conn.dialect.name == "sqlite":
        return f"{column} IN ({marks(len(values))})", tuple(values)
    return f"{column}{_ANY}", (list(values),)


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
    text, options = _driver_statement(sql, conn.dialect.paramstyle)
    cursor = cursors.reader(conn)  # its own until its rows are read: later statements do not replace them
    try:
        if options:
            cursor.execute(text, params, **options)
        else:
            cursor.execute(text, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, exc, text, params, cursor) from exc
    return _rows_of(conn, cursor, text, params)


def _rows_of(conn: Connection, cursor, text: str, params) -> Callable[[], list[tuple]]:
    """A function reading the rows of the statement ``cursor`` was sent, once; the cursor goes back after."""
    read = False

    def rows() -> list[tuple]:
        nonlocal read
        if read:  # the cursor went back to the connection for other statements
            raise RuntimeError(f"the rows of {text!r} were read already: send() answers once")
        read = True
        try:
            found = cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translated(conn, exc, text, params, cursor) from exc
        cursors.give_back(conn, cursor)
        return found

    return rows


def execute(conn: Connection, sql: str, params: Sequence = ()) -> None:
    """Run one statement that returns no rows."""
    _run(conn, sql, params, many=False)


def changed(conn: Connection, sql: str, params: Sequence = ()) -> int:
    """Run one INSERT, UPDATE or DELETE; how many rows it changed (the driver's ``rowcount``).

    What a ``RETURNING`` or a ``SELECT changes()`` after it would tell, on any
    SQLite version, without a second statement or reading rows back. Not
    inside :func:`pipelined` on PostgreSQL: there the count arrives later.
    """
    return _run(conn, sql, params, many=False, count=True)


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence]) -> None:
    """Run one statement for each of ``rows`` (the driver's executemany: psycopg pipelines them).

    On PostgreSQL several rows go as one ``INSERT … VALUES (…), (…)`` per
    :data:`ROWS_PER_INSERT` rows: psycopg's executemany sends and reads back
    each row as a query of its own, and a push's few rows in five tables cost
    more in that bookkeeping than in the inserts. An :func:`insert_sql`
    statement's rows are padded with rows of NULLs, left out by the statement,
    to a power of two: a handful of texts whatever the group, each prepared
    once (with the group's own row count in its text, nearly every group's
    statements were parsed and planned again).
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return
    if len(rows) == 1 or conn.dialect.name == "sqlite" or not sql.endswith(")") or " VALUES (" not in sql:
        _run(conn, sql, rows, many=True)
        return
    padded = isinstance(sql, InsertSql) and sql.typed is not None
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        params = [value for row in chunk for value in row]
        # a real row with no first value would be left out with the padding: unpadded, the server refuses it
        if padded and all(row[0] is not None for row in chunk):
            shape = 1 << (len(chunk) - 1).bit_length()
            params.extend([None] * (len(chunk[0]) * (shape - len(chunk))))
            _run(conn, _padded_rows(sql, shape), tuple(params), many=False)
        else:
            head, values = sql.rsplit(" VALUES ", 1)
            _run(conn, _multi_row(head, values, len(chunk)), tuple(params), many=False)


@lru_cache(maxsize=256)
def _multi_row(head: str, values: str, count: int) -> str:
    return f"{head} VALUES {', '.join([values] * count)}"


@lru_cache(maxsize=256)
def _padded_rows(sql: InsertSql, count: int) -> str:
    """``sql`` for ``count`` rows, those whose first value is NULL left out (the first row's marks give the types)."""
    plain = sql[len(sql.head) + len(" VALUES "):]
    values = ", ".join([sql.typed] + [plain] * (count - 1))
    return f"{sql.head} SELECT * FROM (VALUES {values}) AS v WHERE column1 IS NOT NULL"


def _run(conn: Connection, sql: str, params, *, many: bool, rows: bool = False,
         count: bool = False) -> list[tuple] | int | None:
    """Every statement of this module goes here, on a cursor kept with the connection; driver errors translated."""
    text, options = _driver_statement(sql, conn.dialect.paramstyle)
    cursor = cursors.reader(conn) if rows else cursors.writer(conn)
    try:
        if many:
            cursor.executemany(text, params)
        elif options:
            cursor.execute(text, params, **options)
        else:
            cursor.execute(text, params)
        if not rows:
            return cursor.rowcount if count else None
        found = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _translated(conn, exc, text, params, cursor) from exc
    cursors.give_back(conn, cursor)
    return found


@contextmanager
def pipelined(conn: Connection, *, commit: bool = False) -> Iterator[None]:
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
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite" or not _pipelines_supported():
        yield
        return
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
        raise _translated(conn, exc, "(statements sent in one pipeline)", (), None) from exc
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


def begin(conn: Connection, statement: str) -> None:
    """Send ``statement`` (``BEGIN``, ``BEGIN IMMEDIATE``) from a ``begin`` event, errors as Core raises them.

    Core does not wrap what an event handler raises, so a database locked
    past the busy timeout is translated here.
    """
    _run(conn, statement, (), many=False)


@lru_cache(maxsize=1)
def _pipelines_supported() -> bool:
    import psycopg  # only PostgreSQL logs get here: SQLite-only installs need not have it

    return psycopg.Pipeline.is_supported()  # libpq 14 or later


_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
#: psycopg's ``TransactionStatus.INTRANS``: a transaction is open and no statement of it is running
_IN_TRANSACTION = 2
#: set in a driver connection's pool info while a pipeline, not psycopg, begins its transactions
_BEGUN_HERE = "rabt_begun_in_pipeline"
#: how :func:`among` writes a list on PostgreSQL; a statement holding it is planned for its list
_ANY = " = ANY(?)"
_NOT_PREPARED = {"prepare": False}


@lru_cache(maxsize=512)
def _driver_statement(sql: str, paramstyle: str) -> tuple[str, dict | None]:
    """``sql`` as the driver takes it, and the driver's options for it (None: none).

    The marks: ``?`` as they are (sqlite3), or ``$1, $2, …`` (psycopg's
    RawCursor); the statements here hold no literal '?', so the marks are the
    only ones to change. A statement with an :func:`among` list is not
    prepared, so the server plans it for its list; any other psycopg
    prepares once its text has come five times.
    """
    if paramstyle == "qmark":
        return sql, None
    parts = sql.split("?")
    text = "".join(f"{part}${number}" for number, part in enumerate(parts[:-1], 1)) + parts[-1]
    return text, (_NOT_PREPARED if _ANY in sql else None)


def _translated(conn: Connection, exc: Exception, statement: str, params, cursor) -> sa.exc.DBAPIError:
    """``exc`` as the SQLAlchemy exception Core would raise, the connection invalidated when it was lost."""
    dialect = conn.dialect
    # An invalidated connection (lost earlier in a pipeline) must not be asked for again: that would reconnect.
    lost = conn.invalidated or dialect.is_disconnect(exc, conn.connection.driver_connection, cursor)
    if lost and not conn.invalidated:
        conn.invalidate(exc)  # as Core does: the pool must not hand this connection out again
    cursors.forget(conn, cursor)  # none is used again after an error
    return sa.exc.DBAPIError.instance(statement, params, exc, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=dialect,
                                      ismulti=isinstance(params, list))
