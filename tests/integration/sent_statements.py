"""What an engine's connections send to their database, seen by the driver: statements, rows, waits for the server.

Tests that count statements or round trips read them here, from the drivers'
public seams, whatever cursor or function of the hub sent them:

* sqlite3: connections are made with a ``sqlite3.Connection`` subclass
  (the driver's ``factory`` argument) whose cursors note every ``execute``
  and ``executemany`` (one statement, its rows' count);
* psycopg: libpq's own protocol trace (``PGconn.trace``) of each connection,
  read back: every ``Execute`` (with the text its ``Parse`` gave the
  statement, prepared or not) and every simple ``Query``; a ``Flush`` or
  ``Sync`` the client sends, asking the server to answer now, is a wait, and
  so is a BEGIN, COMMIT or ROLLBACK psycopg sends as a query of its own
  (``control``), which it waits for.

Only connections made after :class:`SentStatements` is attached are seen:
attaching closes the engine's idle pooled connections (``engine.dispose()``),
so attach it before the work to observe checks a connection out. A trace is
read by stopping and restarting it (libpq writes it out then): take what was
sent between the operations observed, not while another thread runs one.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from typing import NamedTuple

import sqlalchemy as sa

#: transaction control psycopg sends by itself (Core's begin and commit), not counted as the hub's statements;
#: in a pipeline psycopg syncs on its BEGIN, a wait of its own, which counts as none either (no statement before it)
_DRIVER_OWN = {"BEGIN", "COMMIT", "ROLLBACK"}
_PARSE = re.compile(r'"([^"]*)" "(.*)" \d+(?: \S+)*$', re.DOTALL)


class Sent(NamedTuple):
    """One statement sent (``rows``: how many rows an executemany ran it for), or a wait (``text`` None)."""

    connection: int
    """Which connection sent it (an id, the same for all of one connection's)."""
    text: str | None
    rows: int = 0
    params: int = 0
    """Parameters sent with it (PostgreSQL; for sqlite3 those of one row)."""
    control: str | None = None
    """A wait for the driver's own BEGIN, COMMIT or ROLLBACK, sent alone (PostgreSQL; ``text`` None)."""


class SentStatements:
    """Statements ``engine``'s connections send from now on, in order per connection; :meth:`close` stops it."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine, self._sqlite = engine, engine.dialect.name == "sqlite"
        self._noted: list[Sent] = []
        self._lock = threading.Lock()
        self._traces: dict[int, _Trace] = {}
        if self._sqlite:
            self._factory = _noting_connection(self._note)
            sa.event.listen(engine, "do_connect", self._with_factory)
        else:
            sa.event.listen(engine, "connect", self._trace)
            sa.event.listen(engine, "close", self._closing)
        engine.dispose()  # idle connections were made unobserved: the next checkout makes a new one

    def take(self) -> list[Sent]:
        """Everything sent since the start or the last take, in order per connection: statements and waits."""
        for trace in list(self._traces.values()):
            for sent in trace.read():
                self._note(sent)
        with self._lock:
            taken, self._noted = self._noted, []
        return taken

    def _note(self, sent: Sent) -> None:
        with self._lock:
            self._noted.append(sent)

    def close(self) -> None:
        if self._sqlite:
            sa.event.remove(self._engine, "do_connect", self._with_factory)
            return
        sa.event.remove(self._engine, "connect", self._trace)
        sa.event.remove(self._engine, "close", self._closing)
        for trace in self._traces.values():
            trace.close()

    def __enter__(self) -> SentStatements:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _with_factory(self, _dialect, _record, _cargs, cparams) -> None:
        cparams["factory"] = self._factory

    def _trace(self, dbapi_connection, _record) -> None:
        self._traces[id(dbapi_connection)] = _Trace(dbapi_connection)

    def _closing(self, dbapi_connection, _record) -> None:
        trace = self._traces.pop(id(dbapi_connection), None)
        if trace is not None:  # what it sent is read now: libpq would not write out what it buffered
            for sent in trace.read():
                self._note(sent)
            trace.close()


def _noting_connection(note):
    """A sqlite3 connection class whose cursors tell ``note`` of every statement they run."""

    class NotingCursor(sqlite3.Cursor):
        def execute(self, sql, parameters=(), /):
            note(Sent(id(self.connection), sql, 1, len(parameters)))
            return super().execute(sql, parameters)

        def executemany(self, sql, seq_of_parameters, /):
            rows = list(seq_of_parameters)
            note(Sent(id(self.connection), sql, len(rows), len(rows[0]) if rows else 0))
            return super().executemany(sql, rows)

    class NotingConnection(sqlite3.Connection):
        def cursor(self, factory=NotingCursor):
            return super().cursor(factory)

    return NotingConnection


def _messages(trace: str) -> list[str]:
    """The trace's messages, one a line but for a statement of several lines (Core writes some), joined back."""
    messages: list[str] = []
    for line in trace.split("\n"):
        if line.startswith(("F\t", "B\t")) or not messages:
            messages.append(line)
        else:
            messages[-1] += "\n" + line
    return messages


class _Trace:
    """libpq's protocol trace of one psycopg connection, into a file of its own, read back as :class:`Sent`."""

    def __init__(self, connection) -> None:
        self._fileno, path = tempfile.mkstemp(prefix="rabt-libpq-trace-")
        os.unlink(path)  # the descriptor is enough, and nothing is left behind
        self._connection, self._offset = connection, 0
        self._names: dict[str, str] = {}  # prepared statement (or "", the unnamed one) -> its text
        self._bound: tuple[str, int] | None = None
        self._start()

    def _start(self) -> None:
        from psycopg import pq

        self._connection.pgconn.trace(self._fileno)
        self._connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def _stop(self) -> None:
        """Have libpq write out what it buffered, and stop (it writes through a stdio stream of its own)."""
        if not self._connection.closed:
            self._connection.pgconn.untrace()

    def close(self) -> None:
        """Stop tracing. The file stays open until the process ends: were its descriptor closed and reused, a
        stream libpq buffered and never wrote out (a connection closed by no pool) would land in another file."""
        self._stop()

    def read(self) -> list[Sent]:
        """What the connection sent since the last read (tracing goes on while it is open)."""
        self._stop()
        end = os.lseek(self._fileno, 0, os.SEEK_END)
        text = os.pread(self._fileno, end - self._offset, self._offset).decode("utf-8", "replace")
        self._offset = end
        if not self._connection.closed:
            self._start()
        return [sent for message in _messages(text) if message.startswith("F\t")
                if (sent := self._message(message.split("\t", 3))) is not None]

    def _message(self, fields: list[str]) -> Sent | None:
        kind, rest = fields[2], fields[3].strip() if len(fields) > 3 else ""
        if kind == "Parse":
            name, text = _PARSE.match(rest).groups()
            self._names[name] = text
        elif kind == "Bind":
            tokens = rest.split(" ")
            formats = int(tokens[2])
            self._bound = (self._names[tokens[1].strip('"')], int(tokens[3 + formats]))
        elif kind == "Execute":
            text, params = self._bound
            return None if text in _DRIVER_OWN else Sent(id(self._connection), text, 1, params)
        elif kind == "Query":
            query = rest.strip('"')
            if query in _DRIVER_OWN:  # psycopg's own, outside a pipeline: sent and waited for alone
                return Sent(id(self._connection), None, control=query)
            return Sent(id(self._connection), query, 1, 0)
        elif kind in ("Flush", "Sync"):
            return Sent(id(self._connection), None)
        return None
