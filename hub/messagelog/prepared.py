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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.messagelog import combined, cursors


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

    Inside :func:`hub.messagelog.pipelines.pipelined` on PostgreSQL the statements sent before the
    first of them is read share one round trip. SQLite runs in-process: its
    rows are read at once, as :func:`fetch` reads them.
    """
    if conn.dialect.name == "sqlite" or not pipelines_supported():
        found = fetch(conn, sql, params)
        return lambda: found
    info = conn.connection.info
    held = info.get(_TOGETHER)
    if held:
        _send_held(conn, held)
    text, options = _driver_statement(sql, conn.dialect.paramstyle)
    cursor = cursors.reader(conn, info)  # its own until its rows are read: later statements do not replace them
    try:
        if options:
            cursor.execute(text, params, **options)
        else:
            cursor.execute(text, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise as_core_error(conn, exc, text, params, cursor) from exc
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
            raise as_core_error(conn, exc, text, params, cursor) from exc
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


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence]) -> int | None:
    """Run one statement for each of ``rows`` (the driver's executemany: psycopg pipelines them); how many rows
    they changed in all (the drivers' ``rowcount``), None inside :func:`together` where they are held.

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
        return 0
    if len(rows) == 1 or conn.dialect.name == "sqlite" or not sql.endswith(")") or " VALUES (" not in sql:
        return _run(conn, sql, rows, many=True, count=True)
    padded = isinstance(sql, InsertSql) and sql.typed is not None
    counts = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        params = [value for row in chunk for value in row]
        # a real row with no first value would be left out with the padding: unpadded, the server refuses it
        if padded and all(row[0] is not None for row in chunk):
            shape = 1 << (len(chunk) - 1).bit_length()
            params.extend([None] * (len(chunk[0]) * (shape - len(chunk))))
            counts.append(_run(conn, _padded_rows(sql, shape), tuple(params), many=False, count=True))
        else:
            head, values = sql.rsplit(" VALUES ", 1)
            counts.append(_run(conn, _multi_row(head, values, len(chunk)), tuple(params), many=False, count=True))
    return None if None in counts else sum(counts)


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
    info = conn.connection.info  # asked for once: the cursors are kept there too
    held = info.get(_TOGETHER)
    if held is not None:  # inside together(): a write is held, anything else first sends what is held
        if not rows and (not many or len(params) == 1):
            held.append((sql, tuple(params[0] if many else params)))
            return None
        _send_held(conn, held)
    text, options = _driver_statement(sql, conn.dialect.paramstyle)
    cursor = cursors.reader(conn, info) if rows else cursors.writer(conn, info)
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
        raise as_core_error(conn, exc, text, params, cursor) from exc
    cursors.give_back(conn, cursor, info)
    return found


def together(conn: Connection) -> AbstractContextManager[None]:
    """On PostgreSQL, the write statements run inside sent as one statement at the end (see :mod:`combined`).

    Only writes that need not see each other's rows may run inside; a read
    (or several rows of a statement run one by one) first sends the writes
    held so far, so statements still run in their order. Nothing is sent
    when the block raises. SQLite runs each statement as before.
    """
    if conn.dialect.name == "sqlite" or _TOGETHER in conn.connection.info:
        return _AS_THEY_COME  # every write of a SQLite log comes here: no generator made and run for nothing
    return _together(conn)


#: what :func:`together` is where the writes run as they come (SQLite, or inside another together())
_AS_THEY_COME = nullcontext()


@contextmanager
def _together(conn: Connection) -> Iterator[None]:
    """:func:`together` on PostgreSQL: the writes held in the driver connection's pool info until the end."""
    info = conn.connection.info
    held = info[_TOGETHER] = []
    try:
        yield
    finally:
        del info[_TOGETHER]
    _send_held(conn, held)


def _send_held(conn: Connection, held: list[tuple[str, tuple]]) -> None:
    """Send the writes ``held`` (then none is); inside together() its list stays, for the writes after."""
    info = conn.connection.info
    holding = info.pop(_TOGETHER, None)  # so that _run sends the combined statements
    parts = held[:]
    held.clear()
    try:
        for sql, params in combined.statements(parts):
            _run(conn, sql, params, many=False)
    finally:
        if holding is not None:
            info[_TOGETHER] = holding


def begin(conn: Connection, statement: str) -> None:
    """Send ``statement`` (``BEGIN``, ``BEGIN IMMEDIATE``) from a ``begin`` event, errors as Core raises them.

    Core does not wrap what an event handler raises, so a database locked
    past the busy timeout is translated here.
    """
    _run(conn, statement, (), many=False)


@lru_cache(maxsize=1)
def pipelines_supported() -> bool:
    """Whether the installed libpq can pipeline (14 or later)."""
    import psycopg  # only PostgreSQL logs get here: SQLite-only installs need not have it

    return psycopg.Pipeline.is_supported()  # libpq 14 or later


#: set in a driver connection's pool info while :func:`together` holds its writes (the list of them)
_TOGETHER = "rabt_writes_together"
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


def as_core_error(conn: Connection, exc: Exception, statement: str, params, cursor) -> sa.exc.DBAPIError:
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
