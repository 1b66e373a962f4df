"""10,000 messages through RabbitMQ while every one of our connections is killed mid-stream.

Only this test's connections are closed (found by connection name with
``rabbitmqctl list_connections``, closed with ``rabbitmqctl close_connection``),
so other suites sharing the broker are not disturbed — ``close_all_connections``
would work too but hits everyone. Consumers are idempotent by message id (a
set standing for the application's table keyed by message id): redeliveries
and republished duplicates are expected, losses and double applications are not.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid

import pytest

from tests.conftest import unavailable

from hub.transports import Message, open_transport
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]
TOTAL = 10_000
RUN = uuid.uuid4().hex[:8]


@pytest.fixture
def routes():
    problem = broker_problem(DEFAULT_AMQP_URL) or (None if shutil.which("rabbitmqctl") else "no rabbitmqctl")
    if problem:
        unavailable(problem)
    routes = isolated_routes()
    with open_transport(DEFAULT_AMQP_URL, routes=routes) as admin:
        admin.declare(routes)
    yield routes
    with open_transport(DEFAULT_AMQP_URL, routes=routes) as admin:
        admin.undeclare(routes)


def connections_named(name: str) -> list[str]:
    """Broker pids of the connections whose client properties carry ``name``."""
    listing = subprocess.run(["rabbitmqctl", "list_connections", "pid", "client_properties", "-q",
                              "--no-table-headers"], capture_output=True, text=True, check=True, timeout=30)
    return [line.split("\t", 1)[0] for line in listing.stdout.splitlines() if name in line]


def close_connections(pids: list[str]) -> int:
    """Close them all at once (each rabbitmqctl takes ~0.5 s to start)."""
    closing = [subprocess.Popen(["rabbitmqctl", "close_connection", pid, "test"], stdout=subprocess.DEVNULL)
               for pid in pids]
    assert all(proc.wait(30) == 0 for proc in closing)
    return len(pids)


def kill_when(ledger, thresholds, transports, kills: list[int], stop: threading.Event) -> None:
    """Before each threshold, list our (re)opened connections; at it, close them all."""
    for round_, threshold in enumerate(thresholds, start=1):
        while any(t.generation < round_ for t in transports) and not stop.is_set():
            time.sleep(0.01)  # wait for every transport to have reconnected from the last kill
        pids = connections_named(f"rabt-kill-{RUN}")
        while ledger.deliveries < threshold and not stop.is_set():
            time.sleep(0.002)
        if not stop.is_set():
            kills.append(close_connections(pids))


class Ledger:
    """The application's state: applied once per message id, deliveries counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[str, int] = {}
        self.deliveries = self.redelivered = 0

    def apply(self, delivery) -> None:
        with self.lock:
            self.deliveries += 1
            self.redelivered += delivery.redelivered
            if delivery.message.message_id not in self.applied:  # idempotent consumer
                self.applied[delivery.message.message_id] = 1
        time.sleep(0.001)  # a little work per message, so the stream outlasts rabbitmqctl


def test_every_message_consumed_once_despite_killed_connections(routes):
    queue, ledger, stop = routes.queue_for("licensing"), Ledger(), threading.Event()
    # assertions below show the kills really hit publishes in flight and unacked deliveries
    ids = [f"k{i:05d}-{RUN}" for i in range(TOTAL)]
    body = b"<m>" + b"x" * 2000 + b"</m>"
    consumers = [open_transport(DEFAULT_AMQP_URL, routes=routes, connection_name=f"rabt-kill-{RUN}-c{i}")
                 for i in range(2)]
    threads = [threading.Thread(target=c.consume, args=(queue, ledger.apply), kwargs={"stop": stop})
               for c in consumers]
    for thread in threads:
        thread.start()
    kills: list[int] = []
    with open_transport(DEFAULT_AMQP_URL, routes=routes, connection_name=f"rabt-kill-{RUN}-p") as publisher:
        assert publisher.connection.is_open  # opened now, so the first kill finds it
        killer = threading.Thread(target=kill_when, args=(ledger, (1000, 5000), [publisher, *consumers], kills, stop))
        killer.start()
        for start in range(0, TOTAL, 1000):
            publisher.publish(Message(body, "licensing.Test.police", mid) for mid in ids[start:start + 1000])
            # stay at most ~1,500 ahead of the consumers, so the kills find the publisher mid-stream
            while ledger.deliveries < start - 500 and not stop.is_set():
                time.sleep(0.002)
        reconnects = publisher.generation - 1
    deadline = time.monotonic() + 90
    while len(ledger.applied) < TOTAL and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    for thread in [*threads, killer]:
        thread.join(30)
    for consumer in consumers:
        consumer.close()
    print(f"kills={sum(kills)} publisher reconnects={reconnects} deliveries={ledger.deliveries} "
          f"redelivered={ledger.redelivered} applied={len(ledger.applied)}")
    assert len(kills) == 2 and sum(kills) >= 4, "the consumers' and the publisher's connections should have been killed"
    assert reconnects >= 1 and all(c.generation > 1 for c in consumers)
    assert set(ledger.applied) == set(ids)
    assert all(count == 1 for count in ledger.applied.values())
    assert ledger.deliveries >= TOTAL
