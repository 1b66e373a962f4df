"""The console's broker view answers at once while the broker is away, and tries again after a rest."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from hub.console.broker import BrokerView
from hub.errors import TransportError
from hub.transports import open_transport


class _Transport:
    def queue_stats(self):
        return ["figures"]

    def close(self) -> None:
        pass


def test_a_failure_is_answered_at_once_until_the_rest_is_over_then_the_broker_is_tried_again():
    now, opened = [100.0], []

    def opener():
        opened.append(now[0])
        if len(opened) == 1:
            raise ConnectionRefusedError("connection refused")
        return _Transport()

    view = BrokerView(opener, retry_after=5.0, clock=lambda: now[0])
    for _ in range(10):  # a page asks several times; only the first reaches for the broker
        with pytest.raises(TransportError, match="connection refused"):
            view.run(lambda t: t.queue_stats())
    assert opened == [100.0]
    now[0] = 105.5
    assert view.run(lambda t: t.queue_stats()) == ["figures"]
    assert opened == [100.0, 105.5]
    assert view.run(lambda t: t.queue_stats()) == ["figures"]  # healthy again: the open transport is reused
    assert len(opened) == 2


def test_a_broker_that_never_completes_the_handshake_costs_one_timeout_not_one_per_question():
    """A listener that accepts and says nothing: what a wedged RabbitMQ looks like to a client."""
    silent = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.extend(silent.accept() for _ in range(20)), daemon=True).start()
    url = f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}/"
    view = BrokerView(lambda: open_transport(url, reconnect_timeout=1.0))
    try:
        started = time.monotonic()
        with pytest.raises(TransportError):
            view.run(lambda t: t.queue_stats())  # waits out the client's handshake timeout, once
        first = time.monotonic() - started
        for _ in range(5):  # the rest of the page: answered from the failure, not from new timeouts
            with pytest.raises(TransportError, match="next try in"):
                view.run(lambda t: t.queue_stats())
        rest = time.monotonic() - started - first
        assert first > 0.9 and rest < 0.5, (first, rest)
        assert len(accepted) <= 2, accepted  # one attempt (pika may try a second address family)
    finally:
        silent.close()


def test_a_request_does_not_wait_behind_another_ones_connection_attempt():
    connecting, may_finish, outcome = threading.Event(), threading.Event(), []

    def slow_opener():
        connecting.set()
        may_finish.wait(10)  # a handshake that takes its time
        return _Transport()

    view = BrokerView(slow_opener)
    first = threading.Thread(target=lambda: outcome.append(view.run(lambda t: t.queue_stats())))
    first.start()
    assert connecting.wait(5)
    started = time.monotonic()
    with pytest.raises(TransportError, match="another request is still connecting"):
        view.run(lambda t: t.queue_stats())
    assert time.monotonic() - started < 1.0
    may_finish.set()
    first.join(5)
    assert outcome == [["figures"]]
    assert view.run(lambda t: t.queue_stats()) == ["figures"]  # connected: the next request is served as usual
