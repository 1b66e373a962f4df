"""The embedded broker: RabbitMQ's semantics in one SQLite file.

Durable across restarts, safe with several worker processes (see
``sqlite_store`` for how), delayed retries by ``available_at``, a dead-letter
table, and request/reply through a private reply queue per requester.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hub.errors import BrokerUnavailableError, ConfigError, PublishError, ReplyTimeoutError, TransportError
from hub.routing import Routes, load_routes, topic_matches
from hub.transports import sqlite_schema
from hub.transports import sqlite_store as store
from hub.transports.base import (
    DeadLetter,
    DeadLetterNotFoundError,
    Delivery,
    Handler,
    Message,
    QueueStats,
    Transport,
    classify,
)
from hub.transports.sqlite_consumer import ConsumeLoop


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path`` or ``sqlite:////abs/path`` → the file path."""
    parts = urlsplit(url)
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigError(f"sqlite broker URL {url!r} names no file (sqlite:///path/to/broker.sqlite3)")
    return path


class SqliteTransport(Transport):
    """The ``sqlite://`` transport; one file holds queues, leases and dead letters."""

    connection_errors = (sqlite3.OperationalError,)

    def __init__(self, url: str, *, routes: Routes | None = None, visibility_timeout: float | None = None,
                 poll_interval: float = 0.05, synchronous: str = "NORMAL") -> None:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
        self.path = sqlite_path(url)
        self.routes = routes or load_routes()
        self.visibility_timeout = float(visibility_timeout or query.get("visibility_timeout", 30.0))
        self.poll_interval = poll_interval
        self._synchronous = synchronous
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._reply_queue = f"reply.{uuid.uuid4().hex}"
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            sqlite_schema.ensure(self._conn())
            self._sweep_replies()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise ConfigError(f"cannot open the sqlite broker {self.path}: {exc}") from exc

    def _sweep_replies(self) -> None:
        # replies nobody waits for any more (requester gone or timed out) would pile up forever
        with store.immediate(self._conn()) as conn:
            conn.execute("DELETE FROM messages WHERE queue >= 'reply.' AND queue < 'reply/' AND available_at < ?",
                         (time.time() - 3600,))

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise TransportError("sqlite transport is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # one connection per thread: sqlite3 connections must not be shared mid-transaction
            conn = self._local.conn = store.connect(self.path, synchronous=self._synchronous)
            with self._lock:
                self._connections.append(conn)
        return conn

    def connect(self) -> None:
        # the write lock, not a read: a file another process holds locked still reads fine
        try:
            with store.immediate(self._conn()):
                pass
        except sqlite3.Error as exc:  # unreadable file, locked past the busy timeout, I/O error
            raise BrokerUnavailableError(f"sqlite broker {self.path}: {exc}") from exc

    def declare(self, routes: Routes) -> None:
        self.routes = routes
        rows = [(q.name, routes.exchange, q.binding, json.dumps(routes.retry_delays), routes.max_attempts)
                for q in routes.queues]
        with store.immediate(self._conn()) as conn:
            conn.executemany("INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?)", rows)

    def undeclare(self, routes: Routes) -> None:
        """Forget the queues of ``routes``, with their messages and dead letters."""
        names = [(q.name,) for q in routes.queues]
        with store.immediate(self._conn()) as conn:
            for table, column in (("messages", "queue"), ("dead_letters", "queue"), ("queues", "name")):
                conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", names)

    def _bindings(self) -> list[tuple[str, str]]:
        return self._conn().execute(
            "SELECT name, binding FROM queues WHERE exchange = ?", (self.routes.exchange,)
        ).fetchall()

    def publish(self, messages: Iterable[Message]) -> None:
        bindings, now, rows, unroutable = self._bindings(), time.time(), [], []
        routed: dict[str, list[str]] = {}  # a relay's batch holds a few routing keys: each matched once
        for message in messages:
            queues = routed.get(message.routing_key)
            if queues is None:
                queues = routed[message.routing_key] = [name for name, pattern in bindings
                                                        if topic_matches(pattern, message.routing_key)]
            unroutable += [] if queues else [message.message_id]
            rows += [(queue, *store.message_row(message), now) for queue in queues]
        self._insert(rows)
        if unroutable:
            raise PublishError(f"unroutable (no queue bound on {self.routes.exchange}): {', '.join(unroutable)}",
                               failed_ids=unroutable)

    def _insert(self, rows: list[tuple]) -> None:
        try:
            with store.immediate(self._conn()) as conn:
                store.insert(conn, rows)
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, I/O error: none stored, try later
            raise BrokerUnavailableError(f"sqlite broker {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            ids = sorted({row[1] for row in rows})  # one transaction: none of them was stored
            raise PublishError(f"could not store messages {', '.join(ids)}: {exc}", failed_ids=ids) from exc

    def queue_policy(self, queue: str) -> tuple[tuple[float, ...], int]:
        """(retry_delays, max_attempts) of a declared queue, as stored by declare()."""
        row = self._conn().execute("SELECT retry_delays, max_attempts FROM queues WHERE name = ?", (queue,)).fetchone()
        if row is None:
            raise ConfigError(f"queue {queue!r} is not declared in {self.path}")
        return tuple(json.loads(row[0])), int(row[1])

    def consume(self, queue: str, handler: Handler, *, prefetch: int = 64, max_messages: int | None = None,
                idle_timeout: float | None = None, stop: threading.Event | None = None) -> int:
        delays, max_attempts = self.queue_policy(queue)
        loop = ConsumeLoop(self._conn(), queue, handler, delays, max_attempts,
                           lease=self.visibility_timeout, poll=self.poll_interval,
                           classify=lambda exc: classify(exc, self.connection_errors))
        try:
            return loop.run(prefetch=prefetch, max_messages=max_messages, idle_timeout=idle_timeout, stop=stop)
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, I/O error
            raise BrokerUnavailableError(f"sqlite broker {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise TransportError(f"sqlite broker {self.path}: {exc}") from exc

    def request(self, message: Message, *, timeout: float) -> Message:
        correlation_id = message.correlation_id or message.message_id
        sent = Message(message.body, message.routing_key, message.message_id, correlation_id,
                       self._reply_queue, message.headers, message.content_type)
        self.publish([sent])
        deadline, pause = time.monotonic() + timeout, 0.002
        while True:
            # a pause first: no responder answers the instant its question is stored
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            found = self._take_reply(correlation_id)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise ReplyTimeoutError(f"no reply within {timeout}s", message_id=message.message_id)
            pause = min(pause * 2, self.poll_interval)

    def _take_reply(self, correlation_id: str) -> Message | None:
        # A plain read: a poll that finds nothing (most of them) takes no write lock and
        # commits nothing; in WAL it never waits for the writers either.
        conn = self._conn()
        row = conn.execute(
            f"SELECT {store.JOINED_COLUMNS} FROM {store.FROM_MESSAGES} WHERE m.queue = ? AND m.correlation_id = ?",
            (self._reply_queue, correlation_id),
        ).fetchone()
        if row is None:
            return None
        # one statement, atomic in autocommit; replies to requests that already timed out go with this one
        conn.execute("DELETE FROM messages WHERE queue = ?", (self._reply_queue,))
        return store.row_message(row)

    def reply(self, request: Delivery, message: Message) -> None:
        target = request.message.reply_to
        if not target:
            raise PublishError("request has no reply_to", message_id=request.message.message_id)
        correlation_id = request.message.correlation_id or request.message.message_id
        answer = Message(message.body, message.routing_key, message.message_id, correlation_id,
                         None, message.headers, message.content_type)
        self._insert([(target, *store.message_row(answer), time.time())])

    def queue_stats(self) -> list[QueueStats]:
        conn, now = self._conn(), time.time()
        names = [row[0] for row in conn.execute("SELECT name FROM queues WHERE exchange = ? ORDER BY name",
                                                (self.routes.exchange,))]
        return [self._stats(conn, name, now) for name in names]

    @staticmethod
    def _stats(conn: sqlite3.Connection, name: str, now: float) -> QueueStats:
        unacked, total = conn.execute(
            "SELECT COUNT(CASE WHEN lease_owner IS NOT NULL AND available_at > ? THEN 1 END), COUNT(*)"
            " FROM messages WHERE queue = ?", (now, name)).fetchone()
        consumers = conn.execute("SELECT COUNT(*) FROM consumers WHERE queue = ? AND seen_at > ?",
                                 (name, now - 60)).fetchone()[0]
        dead = conn.execute("SELECT COUNT(*) FROM dead_letters WHERE queue = ?", (name,)).fetchone()[0]
        return QueueStats(name, total - unacked, unacked, consumers, dead)

    def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        sql = ("SELECT id, queue, reason, code, attempts, dead_lettered_at, "
               f"{store.MESSAGE_COLUMNS} FROM dead_letters")
        args: tuple = ()
        if queue is not None:
            sql, args = sql + " WHERE queue = ?", (queue,)
        rows = self._conn().execute(sql + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [self._dead_letter(row) for row in rows]

    @staticmethod
    def _dead_letter(row: tuple) -> DeadLetter:
        message = store.row_message(row[6:])
        return DeadLetter(str(row[0]), row[1], message.message_id, row[2], row[3], row[4], row[5], message)

    def replay(self, dead_letter_id: str) -> None:
        with store.immediate(self._conn()) as conn:
            row = self._take_dead(conn, dead_letter_id)
            self._put(conn, row[0], row[1:])

    @staticmethod
    def _put(conn: sqlite3.Connection, queue: str, message_row: tuple) -> None:
        store.insert(conn, [(queue, *message_row, time.time())])

    def requeue(self, queue: str, message: Message) -> None:
        with store.immediate(self._conn()) as conn:
            if conn.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is None:
                raise PublishError(f"no queue {queue!r} to put the message back on", message_id=message.message_id)
            self._put(conn, queue, store.message_row(message))

    def move_dead_letters(self, keep, limit: int = 500) -> int:
        letters = self.dead_letters(None, limit)
        if letters:
            keep(letters)  # before the delete: if keeping fails, the letters stay here
            with store.immediate(self._conn()) as conn:
                conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(d.id,) for d in letters])
        return len(letters)

    def discard(self, dead_letter_id: str) -> None:
        with store.immediate(self._conn()) as conn:
            self._take_dead(conn, dead_letter_id)

    @staticmethod
    def _take_dead(conn: sqlite3.Connection, dead_letter_id: str) -> tuple:
        row = conn.execute(f"SELECT queue, {store.MESSAGE_COLUMNS} FROM dead_letters WHERE id = ?",
                           (str(dead_letter_id),)).fetchone()
        if row is None:
            raise DeadLetterNotFoundError(f"no dead letter with id {dead_letter_id!r}")
        conn.execute("DELETE FROM dead_letters WHERE id = ?", (str(dead_letter_id),))
        return row

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.ProgrammingError:
                pass  # closed from its own thread already
