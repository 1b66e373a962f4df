"""How the gateway's answers leave waitress: buffered whole for its loop thread (:data:`hub.serve.ANSWER_BUFFER`).

With real sockets on 127.0.0.1: answers smaller and larger than the buffer
arrive whole and in order over one keep-alive connection, a request thread
sends none of a small answer itself, waitress's DeprecationWarning about
``send_bytes`` stays inside :mod:`hub.serve`, and a waitress that no longer
takes ``send_bytes`` still serves (said once in the log).
"""

from __future__ import annotations

import logging
import socket
import threading
import warnings

import pytest
from flask import Flask

from hub.config import GatewaySettings
from hub.serve import ANSWER_BUFFER, ConnectionLimits, WsgiRole

pytestmark = pytest.mark.timeout(60)

GATEWAY = ConnectionLimits.for_gateway(GatewaySettings(), behind_proxy=False)
SIZES = (10, 3_000, ANSWER_BUFFER + 5_000, 40)


def probe_app(threads_that_sent: set[str]) -> Flask:
    app = Flask("probe")

    @app.get("/bytes/<int:size>")
    def sized(size: int):
        return bytes([65 + size % 26]) * size

    @app.get("/sent-by")
    def sent_by():
        return ",".join(sorted(threads_that_sent))

    return app


@pytest.fixture
def served(monkeypatch):
    """A WsgiRole with the gateway's limits; the names of the threads that called send() on a connection."""
    senders: set[str] = set()
    original = socket.socket.send

    def send(self, data, *args):
        senders.add(threading.current_thread().name)
        return original(self, data, *args)

    monkeypatch.setattr(socket.socket, "send", send)
    role = WsgiRole("probe", probe_app(senders), "127.0.0.1", 0, threads=2, limits=GATEWAY)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    yield role, senders
    stop.set()
    runner.join(15)


def read_answer(conn: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP answer with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536) or pytest.fail(f"closed before the head: {data!r}")
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536) or pytest.fail("closed inside the body")
    return head, body


def test_the_gateway_buffers_its_answers_and_the_console_does_not():
    assert GATEWAY.adjustments()["send_bytes"] == ANSWER_BUFFER
    assert "send_bytes" not in ConnectionLimits(connection_limit=1, channel_timeout=1, cleanup_interval=1).adjustments()


def test_answers_below_and_above_the_buffer_arrive_whole_and_in_order_on_one_connection(served):
    role, senders = served
    with socket.create_connection(("127.0.0.1", role.endpoint.port), timeout=10) as conn:
        for size in SIZES:
            conn.sendall(f"GET /bytes/{size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head, body = read_answer(conn)
            assert head.startswith(b"HTTP/1.1 200 ") and body == bytes([65 + size % 26]) * size
        senders.clear()
        conn.sendall(b"GET /bytes/3000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_answer(conn)
        conn.sendall(b"GET /sent-by HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        _, sent_by = read_answer(conn)
    # the 3,000-byte answer was sent by waitress's loop thread only, none of it by a request thread
    assert sent_by.decode() == "rabt-probe-http", sent_by


def test_no_deprecation_warning_leaves_the_server_start():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        role = WsgiRole("probe", Flask("probe"), "127.0.0.1", 0, threads=1, limits=GATEWAY)
    role.server.close()


def test_a_waitress_without_send_bytes_still_serves_and_says_so(monkeypatch, caplog):
    import waitress

    real = waitress.create_server

    def refusing(app, **adjustments):
        if "send_bytes" in adjustments:
            raise ValueError("Unknown adjustment 'send_bytes'")
        return real(app, **adjustments)

    monkeypatch.setattr(waitress, "create_server", refusing)
    caplog.set_level(logging.WARNING, logger="hub.serve")
    role = WsgiRole("probe", Flask("probe"), "127.0.0.1", 0, threads=1, limits=GATEWAY)
    try:
        assert role.server.adj.send_bytes == 1
    finally:
        role.server.close()
    assert [r.getMessage() for r in caplog.records] == [
        "this waitress takes no send_bytes: request threads send their answers themselves"]
