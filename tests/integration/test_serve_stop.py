"""``rabt serve``'s web roles stop on request without cutting off what they are serving.

Real HTTP on 127.0.0.1: a keep-alive connection left idle by a partner's client
must not keep the process alive, and a request in progress when SIGTERM comes
still gets its whole answer.
"""

from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask

from hub.serve import WsgiRole

pytestmark = pytest.mark.timeout(60)


def slow_app(started: threading.Event, release: threading.Event) -> Flask:
    app = Flask("slow")

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.get("/slow")
    def slow():
        started.set()
        release.wait(10)
        return "finished " + "x" * 100_000  # bigger than one socket write

    return app


def test_an_idle_keep_alive_connection_does_not_keep_the_role_running():
    role = WsgiRole("test", slow_app(threading.Event(), threading.Event()), "127.0.0.1", 0, threads=2)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    with requests.Session() as partner:  # keeps its connection open between calls
        assert partner.get(f"{role.endpoint.url}/healthz", timeout=5).text == "ok"
        assert partner.get(f"{role.endpoint.url}/healthz", timeout=5).text == "ok"
        stop.set()
        runner.join(15)
        assert not runner.is_alive(), "the role kept running for an idle connection"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{role.endpoint.url}/healthz", timeout=2)  # no longer listening


def test_a_request_in_progress_at_stop_gets_its_whole_answer():
    started, release = threading.Event(), threading.Event()
    role = WsgiRole("test", slow_app(started, release), "127.0.0.1", 0, threads=2, grace=10)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    answers: list[requests.Response] = []
    caller = threading.Thread(target=lambda: answers.append(requests.get(f"{role.endpoint.url}/slow", timeout=20)))
    caller.start()
    assert started.wait(10)
    stop.set()  # while /slow is being served
    runner.join(1.5)  # past a poll round: the role is draining now, not serving as usual
    assert runner.is_alive(), "the role stopped before its request was answered"
    release.set()
    caller.join(20)
    runner.join(20)
    assert not runner.is_alive()
    [answer] = answers
    assert answer.status_code == 200 and answer.text == "finished " + "x" * 100_000


def test_a_half_sent_request_left_idle_is_dropped_after_the_idle_timeout():
    import socket
    import time

    from hub.serve import ConnectionLimits

    limits = ConnectionLimits(connection_limit=10, channel_timeout=1, cleanup_interval=1)
    role = WsgiRole("test", slow_app(threading.Event(), threading.Event()), "127.0.0.1", 0, threads=2, limits=limits)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    try:
        with socket.create_connection(("127.0.0.1", role.endpoint.port), timeout=10) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            began = time.monotonic()
            assert idle.recv(1024) == b""  # the server hung up
            assert time.monotonic() - began < 5
        assert requests.get(f"{role.endpoint.url}/healthz", timeout=5).text == "ok"
    finally:
        stop.set()
        runner.join(15)


def test_a_request_arriving_while_stopping_is_told_to_try_again():
    import time

    started, release = threading.Event(), threading.Event()
    role = WsgiRole("test", slow_app(started, release), "127.0.0.1", 0, threads=2, grace=10)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    caller = threading.Thread(target=lambda: requests.get(f"{role.endpoint.url}/slow", timeout=20))
    caller.start()
    assert started.wait(10)
    stop.set()  # draining: the slow request is still being served
    try:
        deadline = time.monotonic() + 3  # the role notices the stop within a poll round
        while (late := requests.get(f"{role.endpoint.url}/healthz", timeout=5)).status_code == 200:
            assert time.monotonic() < deadline, "still serving new requests after the stop"
            time.sleep(0.05)
        assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    finally:
        release.set()
        caller.join(20)
        runner.join(20)
    assert not runner.is_alive()
