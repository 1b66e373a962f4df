"""A gateway thread's request connection that the broker closed while it sat idle is replaced before a question.

pika answers heartbeats only while a thread drives the connection, so RabbitMQ
closes a request connection nobody used for a few heartbeat intervals (a
gateway thread between visa checks). Here the broker closes it on purpose
(``rabbitmqctl close_connection``, only this test's connection, found by its
name); the next question must be answered on a new connection, not fail the
police's check with "connection lost while waiting for the reply".
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hub.transports import Delivery, Message, open_transport
from hub.transports.testing import DEFAULT_AMQP_URL
from tests.integration.test_amqp_connection_kill import close_connections, connections_named, routes  # noqa: F401

pytestmark = [pytest.mark.long_running, pytest.mark.broker, pytest.mark.timeout(120)]
RUN = uuid.uuid4().hex[:8]


def closed_by_the_broker(name: str) -> None:
    """Close the connections called ``name`` from the broker's side; return once it lists none of them."""
    pids = connections_named(name)
    assert pids, f"no connection called {name} to close"
    close_connections(pids)
    deadline = time.monotonic() + 30
    while connections_named(name) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not connections_named(name)


def answering(routes, ready: threading.Event, stop: threading.Event, asked: list[str] | None = None) -> None:
    """Answer each question on the licensing queue until ``stop``; the message ids of those asked in ``asked``."""
    with open_transport(DEFAULT_AMQP_URL, routes=routes) as server:
        def answer(delivery: Delivery) -> None:
            if asked is not None:
                asked.append(delivery.message.message_id)
            server.reply(delivery, Message(b"<answer>" + delivery.message.body + b"</answer>", "reply",
                                           f"r-{delivery.message.message_id}"))

        ready.set()
        server.consume(routes.queue_for("licensing"), answer, stop=stop)


@contextmanager
def responding(routes, asked: list[str] | None = None) -> Iterator[None]:
    """A responder answering on the licensing queue while the block runs."""
    ready, stop = threading.Event(), threading.Event()
    responder = threading.Thread(target=answering, args=(routes, ready, stop, asked), daemon=True)
    responder.start()
    assert ready.wait(30)
    try:
        yield
    finally:
        stop.set()
        responder.join(30)


def question(n: int) -> Message:
    return Message(f"<q>{n}</q>".encode(), "licensing.VisaEligibilityQuery.police", f"q-{n}-{RUN}", f"c-{n}-{RUN}")


def test_a_question_after_the_broker_closed_the_idle_connection_is_answered(routes):
    name = f"rabt-idle-{RUN}"
    with responding(routes), open_transport(DEFAULT_AMQP_URL, routes=routes, connection_name=name) as asker:
        assert asker.request(question(1), timeout=10).body == b"<answer><q>1</q></answer>"
        closed_by_the_broker(name)
        answer = asker.request(question(2), timeout=10)
        assert answer.body == b"<answer><q>2</q></answer>" and answer.correlation_id == f"c-2-{RUN}"
        assert connections_named(name)  # the question went out on a new connection


def test_the_question_sent_on_the_closed_connection_is_asked_once_and_no_outage_is_told(routes, caplog):
    """The question goes out in the same round of I/O that finds the close: sent again on the new connection,
    it still reaches the responder once (the broker took nothing after its close), and replacing the connection
    is not reported as the broker being unreachable."""
    asked: list[str] = []
    name = f"rabt-idle-once-{RUN}"
    with responding(routes, asked):
        with open_transport(DEFAULT_AMQP_URL, routes=routes, connection_name=name) as asker:
            assert asker.request(question(3), timeout=10).body == b"<answer><q>3</q></answer>"
            closed_by_the_broker(name)
            caplog.clear()
            assert asker.request(question(4), timeout=10).body == b"<answer><q>4</q></answer>"
            time.sleep(0.5)  # a second copy of the question, had one gone out, would have reached the responder
        assert asked == [f"q-3-{RUN}", f"q-4-{RUN}"]
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
