"""During an outage the log says so once, and once when it is over — not a traceback per retry.

A 60 s RabbitMQ outage once wrote 1,365 ERROR/Traceback lines to the hub's log.
Here the broker goes away for real: the relay talks to RabbitMQ through a TCP
relay that these tests switch off (every connection cut, nothing listening) and
on again; the licensing consumer is pointed at a port where nothing listens.
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from hub import lifeline
from hub.logs import configure_logging
from hub.messagelog import Accepted, open_message_log
from hub.outbox import OutboxRelay
from hub.transports.amqp import AmqpTransport
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes
from tests.conftest import unavailable

pytestmark = pytest.mark.timeout(120)


class SwitchableLink:
    """A TCP forwarder to RabbitMQ on a fixed local port that can be cut (``down``) and restored (``up``)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self.up()

    def up(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen()
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def down(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close() alone would not
        self._listener.close()
        for each in self._sockets:
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            each.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # switched off
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except (OSError, ValueError):
            return


@pytest.fixture
def captured_logs():
    """The process's log records as JSON lines, the way ``rabt serve --log-format json`` writes them."""
    root = logging.getLogger()
    handlers, level, pika_level = list(root.handlers), root.level, logging.getLogger("pika").level
    stream = io.StringIO()
    configure_logging("relay", "json", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("pika").setLevel(pika_level)


def _accepted(n: int) -> Accepted:
    return Accepted(message_id=f"outage-{n}", message_type="WorkerArrival", source_agency="police",
                    destination="licensing", routing_key="licensing.WorkerArrival.police",
                    raw=b"<arrival/>", envelope=f"<Envelope n='{n}'/>".encode(), correlation_id=None,
                    source_message_id=f"border-{n}", created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_broker_outage_is_two_lines_per_party_and_nothing_is_lost(tmp_path, captured_logs):
    problem = broker_problem(DEFAULT_AMQP_URL)
    if problem:
        unavailable(problem)
    link = SwitchableLink(("127.0.0.1", 5672))
    routes = isolated_routes()
    stop = threading.Event()
    with open_message_log(f"sqlite:///{tmp_path / 'messages.sqlite3'}") as log, \
            AmqpTransport(f"amqp://guest:guest@127.0.0.1:{link.port}/", routes=routes,
                          reconnect_timeout=1.0) as transport:
        transport.declare(routes)
        relay = OutboxRelay(log, transport, max_backoff=0.5)
        runner = threading.Thread(target=relay.run, args=(stop,), kwargs={"interval": 0.1}, daemon=True)
        runner.start()
        try:
            log.accept(_accepted(0))
            _wait_until(lambda: not log.unpublished(10))
            link.down()
            for n in range(1, 40):  # accepted throughout a 6 s outage, as the gateway would
                log.accept(_accepted(n))
                time.sleep(0.15)
            link.up()
            _wait_until(lambda: not log.unpublished(100), timeout=30)
        finally:
            stop.set()
            runner.join(timeout=10)
            link.down()
            with AmqpTransport(DEFAULT_AMQP_URL, routes=routes) as cleaner:
                cleaner.undeclare(routes)
    lines = captured_logs.getvalue().splitlines()
    events = [json.loads(line)["event"] for line in lines]
    # the transport and the relay each: away once, back once
    assert sorted(events) == ["broker.reachable", "broker.unreachable", "outbox-broker.reachable",
                              "outbox-broker.unreachable"], lines
    assert "Traceback" not in captured_logs.getvalue() and ":guest@" not in captured_logs.getvalue()


def test_the_licensing_consumer_with_no_broker_writes_one_line_not_one_per_try(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RABT_HOME": str(tmp_path), "RABT_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{port}/",
           "RABT_LOG_FORMAT": "json"}
    # with its keys in place, the consumer gets as far as the broker (and waits for it)
    subprocess.run([sys.executable, "-m", "hub", "pki", "init"], env=env, check=True, capture_output=True, timeout=60)
    consumer = lifeline.popen([sys.executable, "-m", "simulators.licensing", "consume"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reading = threading.Thread(target=lambda: lines.extend(consumer.stderr), daemon=True)
    reading.start()
    _wait_until(lambda: lines, timeout=60)  # started (slow on a loaded machine) and failed its first try
    time.sleep(5)  # some thirty attempts more, within the 10 s after which the role says it waits
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(timeout=30)
    reading.join(timeout=30)
    stderr = "".join(lines)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[-3000:]
    entry = json.loads(lines[0])
    assert (entry["role"], entry["event"], entry["level"]) == ("licensing-consumer", "broker.unreachable", "warning")
    assert "guest:***@" in entry["message"] and ":guest@" not in stderr


def _wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_rabt_serve_logs_json_lines_when_asked(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("RABT_")}
    env.update(RABT_HOME=str(tmp_path), RABT_LOG_FORMAT="json")
    assert subprocess.run([sys.executable, "-m", "hub", "pki", "init"], env=env, capture_output=True,
                          timeout=60, check=False).returncode == 0
    serve = lifeline.popen([sys.executable, "-m", "hub", "serve", "--gateway-port", "0", "--console-port", "0"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        logged = []
        for line in serve.stderr:
            if "SIGTERM to stop" in line:  # the start-up banner: every role has started by now
                break
            logged.append(json.loads(line))  # anything else on stderr is a log record, one object per line
    finally:
        serve.terminate()
        serve.communicate(timeout=60)
    # no agency endpoint is configured here, so the outbound workers say they are not started
    not_started = [e for e in logged if e["message"].startswith("outbound worker police not started")]
    assert not_started and not_started[0]["role"] == "serve" and not_started[0]["level"] == "warning"
    assert set(not_started[0]) >= {"time", "level", "role", "agency", "message_id", "event", "logger", "message"}
