"""Tables of the embedded broker, and the one migration between its layouts.

A message's body lives in ``bodies``, apart from its row in ``messages``: the
body is written once, while the row changes with every claim (lease owner,
deadline, delivery count). Kept in one row, each claim rewrote the whole
record, body and overflow pages included, through the WAL and again at the
checkpoint; the message log keeps its payloads apart for the same reason
(:mod:`hub.messagelog.schema`). A trigger deletes the body with its row, so
every way a message leaves (ack, dead letter, undeclare, reply taken) frees it.

``PRAGMA user_version`` says which layout a file has: 0 is the first one
(bodies in ``messages``), migrated in place when a transport opens it.
"""

from __future__ import annotations

import sqlite3

VERSION = 2

_QUEUES = """
CREATE TABLE IF NOT EXISTS queues(
  name TEXT PRIMARY KEY, exchange TEXT NOT NULL, binding TEXT NOT NULL,
  retry_delays TEXT NOT NULL, max_attempts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  reason TEXT NOT NULL, code TEXT NOT NULL, attempts INTEGER NOT NULL, dead_lettered_at REAL NOT NULL,
  routing_key TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_queue ON dead_letters(queue, id);
CREATE TABLE IF NOT EXISTS consumers(owner TEXT PRIMARY KEY, queue TEXT NOT NULL, seen_at REAL NOT NULL);
"""

_MESSAGES = """
CREATE TABLE messages(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  routing_key TEXT NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1, deliveries INTEGER NOT NULL DEFAULT 0,
  available_at REAL NOT NULL, lease_owner TEXT, reason TEXT, code TEXT);
CREATE INDEX messages_ready ON messages(queue, available_at);
"""

_BODIES = """
CREATE TABLE bodies(id INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TRIGGER messages_body_gone AFTER DELETE ON messages BEGIN DELETE FROM bodies WHERE id = OLD.id; END;
"""

#: the columns of ``messages`` both layouts have, in the order of the first one (less its body)
_KEPT = ("id, queue, message_id, routing_key, headers, correlation_id, reply_to, content_type,"
         " attempt, deliveries, available_at, lease_owner, reason, code")


def ensure(conn: sqlite3.Connection) -> None:
    """Give the file behind ``conn`` the newest layout: create it, or migrate the first one in place.

    In one write transaction taken up front, so processes opening the same
    file at once migrate it once, and a failed migration leaves the old layout.
    """
    if _version(conn) == VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        _upgrade(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _upgrade(conn: sqlite3.Connection) -> None:
    version = _version(conn)  # again: another process may have migrated while we waited for the lock
    if version == VERSION:
        return
    if version > VERSION:
        raise sqlite3.DatabaseError(f"broker file has layout {version}, newer than this hub's ({VERSION})")
    _run(conn, _QUEUES)
    has_messages = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
    if has_messages:
        _split_bodies(conn)
    else:
        _run(conn, _MESSAGES + _BODIES)
    conn.execute(f"PRAGMA user_version = {VERSION}")


def _split_bodies(conn: sqlite3.Connection) -> None:
    """Layout 0 → 2: the bodies into their own table, ``messages`` rebuilt without them."""
    conn.execute("ALTER TABLE messages RENAME TO messages_v0")
    conn.execute("DROP INDEX IF EXISTS messages_ready")
    _run(conn, _MESSAGES + _BODIES)
    conn.execute(f"INSERT INTO messages ({_KEPT}) SELECT {_KEPT} FROM messages_v0")
    conn.execute("INSERT INTO bodies (id, body) SELECT id, body FROM messages_v0")
    # keeps AUTOINCREMENT's promise across the rebuild: ids of deleted messages are never handed out again
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'messages'")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', seq FROM sqlite_sequence"
                 " WHERE name = 'messages_v0'")
    conn.execute("DROP TABLE messages_v0")


def _run(conn: sqlite3.Connection, script: str) -> None:
    # statement by statement: executescript() would commit the transaction we are in
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)
