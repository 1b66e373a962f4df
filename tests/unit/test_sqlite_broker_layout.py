"""The embedded broker's layout: a body is written once, and files of the first layout keep working."""

from __future__ import annotations

import os
import sqlite3

from threads import failures_in_threads

from hub.routing import load_routes
from hub.transports.base import Message
from hub.transports.sqlite import SqliteTransport

BIG = os.urandom(200_000)  # random: no page of it compresses or repeats; ~50 overflow pages

#: the first layout (user_version 0), as every broker file written before layout 2 has it
FIRST_LAYOUT = """
CREATE TABLE queues(
  name TEXT PRIMARY KEY, exchange TEXT NOT NULL, binding TEXT NOT NULL,
  retry_delays TEXT NOT NULL, max_attempts INTEGER NOT NULL);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  routing_key TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1, deliveries INTEGER NOT NULL DEFAULT 0,
  available_at REAL NOT NULL, lease_owner TEXT, reason TEXT, code TEXT);
CREATE INDEX messages_ready ON messages(queue, available_at);
CREATE TABLE dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
  reason TEXT NOT NULL, code TEXT NOT NULL, attempts INTEGER NOT NULL, dead_lettered_at REAL NOT NULL,
  routing_key TEXT NOT NULL, body BLOB NOT NULL, headers TEXT NOT NULL,
  correlation_id TEXT, reply_to TEXT, content_type TEXT NOT NULL);
CREATE INDEX dead_letters_queue ON dead_letters(queue, id);
CREATE TABLE consumers(owner TEXT PRIMARY KEY, queue TEXT NOT NULL, seen_at REAL NOT NULL);
"""


def wal_bytes(path) -> int:
    wal = f"{path}-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


def ready(transport, queue: str) -> int:
    return next(s.ready for s in transport.queue_stats() if s.name == queue)


def checkpoint(path) -> None:
    """Copy the WAL into the file and empty it, from a connection of its own."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    assert wal_bytes(path) == 0


def test_a_claim_and_an_ack_write_the_row_not_the_body(tmp_path):
    routes, path = load_routes().with_prefix("layout."), tmp_path / "broker.sqlite3"
    written: dict[str, int] = {}

    def handler(delivery):
        written["claim"] = wal_bytes(path)  # the claim committed before the handler runs
        assert delivery.message.body == BIG
        checkpoint(path)

    with SqliteTransport(f"sqlite:///{path}", routes=routes) as transport:
        transport.declare(routes)
        transport.publish([Message(BIG, "licensing.WageReport.x", "big-1")])
        checkpoint(path)
        assert transport.consume("layout.licensing", handler, max_messages=1) == 1
        written["ack"] = wal_bytes(path)
        assert ready(transport, "layout.licensing") == 0
    # a few pages (row, index, sequence); the body alone is 200 KB, which a rewrite or a zeroing would add
    assert written["claim"] < 40_000, written
    assert written["ack"] < 40_000, written
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 0  # freed with its row


def _first_layout_file(path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(FIRST_LAYOUT)
        conn.execute("INSERT INTO queues VALUES ('old.licensing', 'old.rabt', 'licensing.#', '[1.0]', 3)")
        row = "INSERT INTO messages (id, queue, message_id, routing_key, body, headers, content_type, available_at)" \
              " VALUES (?, 'old.licensing', ?, 'licensing.WageReport.x', ?, '{\"h\": \"1\"}', 'application/xml', 0)"
        conn.execute(row, (6, "waiting", BIG))
        conn.execute(row, (7, "acked-before", b"gone"))
        conn.execute("DELETE FROM messages WHERE id = 7")  # its id must never be handed out again
        conn.execute("INSERT INTO dead_letters (queue, message_id, reason, code, attempts, dead_lettered_at,"
                     " routing_key, body, headers, content_type) VALUES ('old.licensing', 'dead', 'r', 'c', 3, 0,"
                     " 'licensing.WageReport.x', x'00ff', '{}', 'application/xml')")


def test_a_file_of_the_first_layout_is_migrated_with_its_messages(tmp_path):
    path = tmp_path / "broker.sqlite3"
    _first_layout_file(path)
    routes = load_routes().with_prefix("old.")
    got = []
    with SqliteTransport(f"sqlite:///{path}", routes=routes) as transport:
        transport.declare(routes)
        transport.publish([Message(b"<new/>", "licensing.WageReport.x", "new")])
        assert transport.consume("old.licensing", lambda d: got.append(d.message), max_messages=2) == 2
        [dead] = transport.dead_letters("old.licensing")
    assert [(m.message_id, m.body) for m in got] == [("waiting", BIG), ("new", b"<new/>")]
    assert got[0].headers == {"h": "1"}
    assert (dead.message_id, dead.message.body) == ("dead", b"\x00\xff")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()[0] == 8
        columns = [row[1] for row in conn.execute("PRAGMA table_info(messages)")]
        assert "body" not in columns
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_v0'").fetchone()[0] == 0


def test_opening_a_migrated_file_again_changes_nothing(tmp_path):
    path = tmp_path / "broker.sqlite3"
    _first_layout_file(path)
    routes = load_routes().with_prefix("old.")
    SqliteTransport(f"sqlite:///{path}", routes=routes).close()
    with sqlite3.connect(path) as conn:
        schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    with SqliteTransport(f"sqlite:///{path}", routes=routes) as transport:
        transport.declare(routes)
        assert ready(transport, "old.licensing") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema


def test_transports_opening_a_first_layout_file_at_once_migrate_it_once(tmp_path):
    path = tmp_path / "broker.sqlite3"
    _first_layout_file(path)
    routes = load_routes().with_prefix("old.")
    assert failures_in_threads(lambda: SqliteTransport(f"sqlite:///{path}", routes=routes).close(), 4) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(LENGTH(body)) FROM bodies").fetchone() == (1, len(BIG))
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
