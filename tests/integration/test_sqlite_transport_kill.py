"""10,000 messages through the embedded broker while a consumer process is SIGKILLed mid-stream.

The killed worker's leased messages come back after the visibility timeout,
marked redelivered, and another worker finishes the stream. The application
(a separate SQLite table keyed by message id) applies each message once.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time

import pytest

from hub import lifeline
from hub.transports import Message, open_transport
from hub.transports.testing import isolated_routes

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(180)]
TOTAL = 10_000


def _app(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS applied(message_id TEXT PRIMARY KEY, worker TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS deliveries(message_id TEXT, worker TEXT, redelivered INT, attempt INT)")
    return conn


def _worker(url: str, routes, app_path: str, name: str, stall_after: int | None = None) -> None:
    """Consume and apply; with ``stall_after``, stop inside the handler after that many, holding its leases."""
    lifeline.die_with(multiprocessing.parent_process().pid)  # a stalled one would wait for ever otherwise
    app = _app(app_path)
    seen = [0]

    def apply(delivery) -> None:
        if stall_after is not None and seen[0] >= stall_after:
            time.sleep(3600)  # killed here, with this delivery (and the rest of its batch) leased and unacked
        seen[0] += 1
        mid = delivery.message.message_id
        with app:  # one transaction: the delivery log and the idempotent application
            app.execute("BEGIN IMMEDIATE")
            app.execute("INSERT INTO deliveries VALUES (?, ?, ?, ?)",
                        (mid, name, delivery.redelivered, delivery.attempt))
            app.execute("INSERT INTO applied VALUES (?, ?) ON CONFLICT DO NOTHING", (mid, name))
        time.sleep(0.0002)

    with open_transport(url, routes=routes, visibility_timeout=1.0) as transport:
        transport.consume(routes.queue_for("licensing"), apply, prefetch=32, idle_timeout=3.0)


def _count(app: sqlite3.Connection, sql: str) -> int:
    return app.execute(sql).fetchone()[0]


def test_killed_consumer_process_loses_nothing(tmp_path):
    url, app_path, routes = f"sqlite:///{tmp_path / 'broker.sqlite3'}", str(tmp_path / "app.sqlite3"), isolated_routes()
    app = _app(app_path)
    ids = [f"s{i:05d}" for i in range(TOTAL)]
    with open_transport(url, routes=routes) as transport:
        transport.declare(routes)
        for start in range(0, TOTAL, 1000):
            transport.publish(Message(b"<m/>", "licensing.Test.police", mid) for mid in ids[start:start + 1000])
    spawn = multiprocessing.get_context("spawn")
    victim = spawn.Process(target=_worker, args=(url, routes, app_path, "victim", 1500))
    steady = spawn.Process(target=_worker, args=(url, routes, app_path, "steady"))
    victim.start()
    steady.start()
    deadline = time.monotonic() + 60
    while _count(app, "SELECT COUNT(*) FROM deliveries WHERE worker = 'victim'") < 1500:
        assert time.monotonic() < deadline and victim.is_alive(), "victim never got going"
        time.sleep(0.01)
    victim.kill()  # SIGKILL mid-handler: no finally, no ack flush, leases left behind
    victim.join(10)
    late = spawn.Process(target=_worker, args=(url, routes, app_path, "late"))
    late.start()
    for worker in (steady, late):
        worker.join(90)
    applied = {row[0] for row in app.execute("SELECT message_id FROM applied")}
    deliveries = _count(app, "SELECT COUNT(*) FROM deliveries")
    redelivered = _count(app, "SELECT COUNT(*) FROM deliveries WHERE redelivered")
    print(f"deliveries={deliveries} redelivered={redelivered} applied={len(applied)}")
    assert victim.exitcode == -9
    assert applied == set(ids)
    assert _count(app, "SELECT COUNT(*) FROM applied") == TOTAL  # primary key: once each
    assert redelivered >= 1, "the victim's leased messages should have come back marked redelivered"
    with open_transport(url, routes=routes) as transport:
        stats = {s.name: s for s in transport.queue_stats()}
        assert stats[routes.queue_for("licensing")].ready == 0 and not transport.dead_letters()
