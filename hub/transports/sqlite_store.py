"""SQL for the embedded broker: schema, claims with leases, row ↔ message.

The tables are in :mod:`hub.transports.sqlite_schema`. Safety with several
worker processes rests on three things: WAL (readers do not block the
writer), ``BEGIN IMMEDIATE`` around every claim (one writer at a time, so two
consumers never claim the same row), and a lease: a claimed row
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

MESSAGE_COLUMNS = "message_id, routing_key, body, headers, correlation_id, reply_to, content_type"
#: MESSAGE_COLUMNS of a message, its body from ``bodies`` (see :mod:`sqlite_schema`), in ``FROM_MESSAGES``
JOINED_COLUMNS = "m.message_id, m.routing_key, b.body, m.headers, m.correlation_id, m.reply_to, m.content_type"
FROM_MESSAGES = "messages m JOIN bodies b ON b.id = m.id"


def connect(path: str, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) with WAL on."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL survives process crashes (not power loss) at a fraction of FULL's fsyncs
    conn.execute(f"PRAGMA synchronous={synchronous}")
    # Builds with SECURE_DELETE on (Debian's) zero every freed page: each ack wrote the message's body
    # a second time, through the WAL and again at the checkpoint. FAST still zeroes what is deleted
    # from b-tree pages that are written anyway; freed overflow pages keep their bytes until reused.
    # The broker holds envelopes only in transit: the message log keeps the same bytes (and purges them).
    conn.execute("PRAGMA secure_delete=FAST")
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


def insert(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Store ``rows`` of (queue, *MESSAGE_COLUMNS, available_at); call inside a write transaction.

    Each row's id is chosen here, after the highest ever handed out (what
    AUTOINCREMENT would pick; the write lock keeps it ours), so its body
    can be stored under the same id without asking for it row by row.
    """
    last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    first = (last[0] if last else 0) + 1
    conn.executemany(
        "INSERT INTO messages (id, queue, message_id, routing_key, headers, correlation_id, reply_to,"
        " content_type, available_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(first + i, row[0], row[1], row[2], *row[4:]) for i, row in enumerate(rows)],
    )
    conn.executemany("INSERT INTO bodies (id, body) VALUES (?, ?)",
                     [(first + i, row[3]) for i, row in enumerate(rows)])


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
            f"SELECT m.id, m.attempt, m.deliveries, {JOINED_COLUMNS} FROM {FROM_MESSAGES}"
            " WHERE m.queue = ? AND m.available_at <= ? ORDER BY m.available_at, m.id LIMIT ?",
            (queue, now, limit),
        ).fetchall()
        conn.executemany(
            "UPDATE messages SET available_at = ?, lease_owner = ?, deliveries = deliveries + 1 WHERE id = ?",
            [(now + lease, owner, row[0]) for row in rows],
        )
    return rows
