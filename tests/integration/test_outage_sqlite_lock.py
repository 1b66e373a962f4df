"""The embedded broker's file locked for a while: the relay and a consumer wait it out and lose nothing.

Another process holding SQLite's write lock past the busy timeout makes every
write fail with "database is locked"; the transport says
BrokerUnavailableError, and the loops treat it as any broker outage: wait, try
again, say so once when it begins and once when it ends. The busy timeout is
shortened for the test so that a 3 s lock outlasts it many times over.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from datetime import datetime, timezone

import pytest

from hub.messagelog import Accepted, open_message_log
from hub.outage import Pause, Watch, keep_consuming
from hub.outbox import OutboxRelay
from hub.routing import load_routes
from hub.transports import open_transport, sqlite_store

pytestmark = pytest.mark.timeout(60)

COUNT = 300


def record(n: int) -> Accepted:
    return Accepted(message_id=f"lock-{n:04d}", message_type="WorkerArrival", source_agency="police",
                    destination="licensing", routing_key="licensing.WorkerArrival.police",
                    raw=f"<arrival n='{n}'/>".encode(), envelope=f"<Envelope n='{n}'/>".encode(),
                    correlation_id=f"c-{n}", source_message_id=f"border-{n}",
                    created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_relay_and_consumer_outlive_the_broker_file_locked_past_its_busy_timeout(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sqlite_store, "connect", functools.partial(sqlite_store.connect, busy_timeout=0.2))
    url, routes = f"sqlite:///{tmp_path / 'broker.sqlite3'}", load_routes()
    handled: list[str] = []
    stop = threading.Event()
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log, \
            open_transport(url, routes=routes) as relay_transport, open_transport(url, routes=routes) as consumer:
        relay_transport.declare(routes)
        queue = routes.queue_for("licensing")
        relay = OutboxRelay(log, relay_transport, batch_size=20, max_backoff=0.5)
        watch = Watch("licensing", "broker", pause=Pause(0.1, 0.5))
        loops = [threading.Thread(target=relay.run, args=(stop, 0.05)),
                 threading.Thread(target=keep_consuming, args=(consumer, lambda: consumer.consume(
                     queue, lambda delivery: handled.append(delivery.message.message_id), stop=stop), stop, watch))]
        with caplog.at_level(logging.INFO, logger="hub.outage"):
            relay_loop, consumer_loop = loops
            relay_loop.start()
            for n in range(COUNT // 3):
                log.accept(record(n))
            deadline = time.monotonic() + 30
            while log.stats().outbox_backlog and time.monotonic() < deadline:
                time.sleep(0.05)  # the first third waits in the broker's queue
            locker = sqlite3.connect(tmp_path / "broker.sqlite3", isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")  # every other writer now waits, then gives up
            # the consumer finds messages ready (reading is never locked out in WAL mode) but cannot lease them
            consumer_loop.start()
            for n in range(COUNT // 3, COUNT):
                log.accept(record(n))  # the gateway goes on storing meanwhile
            time.sleep(3)
            assert all(loop.is_alive() for loop in loops)
            locker.execute("COMMIT")
            locker.close()
            deadline = time.monotonic() + 30
            while len(handled) < COUNT and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            for loop in loops:
                loop.join(10)
        assert log.stats().outbox_backlog == 0
    assert sorted(set(handled)) == [f"lock-{n:04d}" for n in range(COUNT)] and len(handled) == COUNT
    said = [r.getMessage() for r in caplog.records]
    for loop in ("outbox", "licensing"):
        began = [line for line in said if line.startswith(f"{loop}: broker unreachable: ")]
        ended = [line for line in said if line.startswith(f"{loop}: broker reachable again after ")]
        assert len(began) == 1 and len(ended) == 1 and "database is locked" in began[0], said
