"""The listening socket's gate (:mod:`hub.listener`) under waitress, with real sockets on 127.0.0.1 and 127.0.0.2.

A client address over its connection limit is answered 503 and closed while
others are served; a closed connection gives its slot back; a client that
trickles its request head byte by byte (never idle long enough for the idle
timeout) is closed once the head deadline has passed. Each change of state
is one log line.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import pytest
from flask import Flask

from hub.serve import ConnectionLimits, WsgiRole

pytestmark = pytest.mark.timeout(60)

LIMITS = ConnectionLimits(connection_limit=50, channel_timeout=10, cleanup_interval=1, per_client=3,
                          header_timeout=1.0)


@pytest.fixture
def role():
    app = Flask("probe")
    app.get("/healthz")(lambda: "ok")
    served = WsgiRole("probe", app, "127.0.0.1", 0, threads=2, limits=LIMITS)
    stop = threading.Event()
    runner = threading.Thread(target=served.run, args=(stop,), daemon=True)
    runner.start()
    yield served
    stop.set()
    runner.join(15)


def connect(role: WsgiRole, source: str) -> socket.socket:
    conn = socket.socket()
    conn.bind((source, 0))
    conn.settimeout(5)
    conn.connect(("127.0.0.1", role.endpoint.port))
    return conn


def healthz(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = b""
    while chunk := conn.recv(4096):
        answer += chunk
    return answer


def healthz_or_reset(conn: socket.socket) -> bytes:
    """The answer, or b"" when the server closed the connection under the request (a refusal)."""
    try:
        return healthz(conn)
    except ConnectionResetError:
        return b""


def test_an_address_over_its_limit_is_told_to_come_back_while_others_are_served(role, caplog):
    caplog.set_level(logging.INFO, logger="hub.listener")
    held = [connect(role, "127.0.0.2") for _ in range(LIMITS.per_client)]
    for conn in held:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")  # half-sent, and kept
    try:
        over = connect(role, "127.0.0.2")
        assert over.recv(1024).startswith(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n")
        assert over.recv(1024) == b""  # and closed
        assert healthz(connect(role, "127.0.0.1")).startswith(b"HTTP/1.1 200 ")  # another address: served
        held.pop().close()
        deadline = time.monotonic() + 5
        while not (answer := healthz_or_reset(connect(role, "127.0.0.2"))).startswith(b"HTTP/1.1 200 "):
            assert time.monotonic() < deadline, f"the slot was not given back: {answer[:100]!r}"
            time.sleep(0.1)
    finally:
        for conn in held:
            conn.close()
    messages = [record.getMessage() for record in caplog.records if record.name == "hub.listener"]
    assert messages[0] == "client 127.0.0.2 reached its limit of 3 connections; refusing more"
    # one refused above, and any retry that came before the server saw the closed connection
    [back] = [message for message in messages if "back under" in message]
    assert re.fullmatch(r"client 127\.0\.0\.2 back under its connection limit; [1-9]\d* connections refused meanwhile",
                        back), back


def test_a_head_trickled_a_byte_at_a_time_is_cut_off_after_the_head_deadline(role):
    conn = connect(role, "127.0.0.2")
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    began = time.monotonic()
    try:
        for byte in head:
            conn.sendall(bytes([byte]))  # never idle for the 10 s idle timeout
            time.sleep(0.2)
            if time.monotonic() - began > 6:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass  # cut off while sending: what the test wants
    conn.settimeout(5)
    try:
        assert conn.recv(1024) == b""
    except ConnectionResetError:
        pass
    assert time.monotonic() - began < 6, "the trickling client was not cut off"
    assert healthz(connect(role, "127.0.0.2")).startswith(b"HTTP/1.1 200 ")  # and its slot was given back


def test_a_head_that_arrives_in_time_is_served_even_when_its_connection_lives_on(role):
    conn = connect(role, "127.0.0.2")
    try:
        for _ in range(3):  # keep-alive: later requests on the connection are past the first head's deadline
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):
                answer += conn.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 ")
            time.sleep(0.6)
    finally:
        conn.close()


def test_gateway_limits_come_from_the_settings_and_leave_the_per_client_limit_to_a_proxy_in_front():
    from hub.config_roles import GatewaySettings

    gateway = GatewaySettings(connection_limit=300, client_connection_limit=7, idle_timeout=4.0)
    direct = ConnectionLimits.for_gateway(gateway, behind_proxy=False)
    assert (direct.connection_limit, direct.per_client) == (300, 7)
    assert (direct.channel_timeout, direct.header_timeout) == (4, 4.0)
    assert direct.adjustments()["connection_limit"] == 300 and direct.adjustments()["channel_timeout"] == 4
    assert ConnectionLimits.for_gateway(gateway, behind_proxy=True).per_client == 0  # every client is the proxy


@pytest.mark.parametrize("variable, value", [("RABT_GATEWAY_PROCESSES", "-1"), ("RABT_GATEWAY_THREADS", "0"),
                                             ("RABT_GATEWAY_IDLE_TIMEOUT", "0"),
                                             ("RABT_GATEWAY_CLIENT_CONNECTION_LIMIT", "-5"),
                                             ("RABT_GATEWAY_WAITING_REPLIES", "-1"),
                                             ("RABT_GATEWAY_WAITING_REPLIES", "16")])
def test_gateway_settings_that_cannot_work_are_refused_by_name(variable, value):
    from hub.config import load_settings
    from hub.errors import ConfigError

    field = variable.removeprefix("RABT_GATEWAY_").lower()
    with pytest.raises(ConfigError, match=f"gateway settings: .*{field}"):
        load_settings({variable: value, "RABT_CONFIG": ""})
