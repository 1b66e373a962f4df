"""SQL for the embedded broker: schema, claims with leases, row ↔ message.

Safety with several worker processes rests on three things: WAL (readers do
not block the writer), ``BEGIN IMMEDIATE`` around every claim (one writer at a
time, so two consumers never claim the same row), and a lease: a claimed row
becomes claimable again once ``available_at`` (claim time + visibility
timeout) passes, so a crashed consumer's messages come back by themselves.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from hub.transports.base import Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues(
  name TEXT PRIMARY KEY, exchange TEXT NOT NULL, binding TEXT NOT NULL,
  retry_delays TEXT NOT NULL, max_attempts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  routing_key TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1, deliveries INTEGER NOT NULL DEFAULT 0,
  available_at REAL NOT NULL, lease_owner TEXT, reason TEXT, code TEXT);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(queue, available_at);
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  reason TEXT NOT NULL, code TEXT NOT NULL, attempts INTEGER NOT NULL, dead_lettered_at REAL NOT NULL,
  routing_key TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_queue ON dead_letters(queue, id);
CREATE TABLE IF NOT EXISTS consumers(owner TEXT PRIMARY KEY, queue TEXT NOT NULL, seen_at REAL NOT NULL);
"""

MESSAGE_COLUMNS = "message_id, routing_key, body, headers, correlation_id, reply_to, content_type"


def connect(path: str, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) with WAL on."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL survives process crashes (not power loss) at a fraction of FULL's fsyncs
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front, so read-then-update cannot race."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def message_row(message: Message) -> tuple:
    """The MESSAGE_COLUMNS values of ``message``."""
    return (
        message.message_id,
        message.routing_key,
        bytes(message.body),
        json.dumps(dict(message.headers)),
        message.correlation_id,
        message.reply_to,
        message.content_type,
    )


def row_message(row: tuple) -> Message:
    """Inverse of :func:`message_row` (row in MESSAGE_COLUMNS order)."""
    message_id, key, body, headers, correlation_id, reply_to, content_type = row
    return Message(bytes(body), key, message_id, correlation_id, reply_to, json.loads(headers), content_type)


def claim(conn: sqlite3.Connection, queue: str, owner: str, limit: int, lease: float) -> list[tuple]:
    """Lease up to ``limit`` ready rows: (id, attempt, deliveries_before, *MESSAGE_COLUMNS)."""
    now = time.time()
    # A plain read first: an idle loop polls often, and an empty claim must not take the write lock
    # (every poll would queue behind the publishers' writes, and they behind it).
    # fetchall() steps the statement to its end, so no read snapshot stays open into the write below.
    ready = conn.execute("SELECT 1 FROM messages WHERE queue = ? AND available_at <= ? LIMIT 1", (queue, now))
    if not ready.fetchall():
        return []
    with immediate(conn):
        rows = conn.execute(
            f"SELECT id, attempt, deliveries, {MESSAGE_COLUMNS} FROM messages"
            " WHERE queue = ? AND available_at <= ? ORDER BY available_at, id LIMIT ?",
            (queue, now, limit),
        ).fetchall()
        conn.executemany(
            "UPDATE messages SET available_at = ?, lease_owner = ?, deliveries = deliveries + 1 WHERE id = ?",
            [(now + lease, owner, row[0]) for row in rows],
        )
    return rows
