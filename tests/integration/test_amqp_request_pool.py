"""Questions on RabbitMQ wait for no connection to open: after start, after quiet time, after a close, after an outage.

:class:`hub.transports.request_pool.RequestPool` against the real broker, with
licensing played by a thread answering on the test's own queues. Every
publishing connection opened (the connection a question goes out on) is
recorded with the name of the thread that opened it: a question that waited
for an open shows as an open on the asking thread. The broker closes
connections here the ways it does in production — a heartbeat missed
(negotiated short in the test), ``rabbitmqctl close_connection`` (this test's
connections only, found by name), an outage (an :class:`OutageProxy` between
pool and broker, cut; the broker itself is shared and never stopped).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from contextlib import contextmanager

import pytest

from hub.errors import BrokerUnavailableError, TransportError
from hub.outage import Pause
from hub.transports import Message, amqp_connections, open_transport
from hub.transports.amqp_publisher import ConfirmingPublisher
from hub.transports.request_pool import RequestPool
from hub.transports.testing import DEFAULT_AMQP_URL
from tests.integration.test_amqp_connection_kill import close_connections, connections_named, routes  # noqa: F401
from tests.integration.test_amqp_rpc_idle_connection import responding as licensing  # a thread answering each question
from tests.outage_proxy import OutageProxy

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]
RUN = uuid.uuid4().hex[:8]
SIZE = 4
KEEPER = "rabt-request-pool"
#: a heartbeat the test can outwait: RabbitMQ closes a connection silent for two of them
SHORT_HEARTBEAT = 2


@pytest.fixture
def opens(monkeypatch) -> list[str]:
    """The name of the thread each publishing connection is opened on, in order."""
    opened: list[str] = []

    class Recorded(ConfirmingPublisher):
        def __init__(self, *args, **kwargs) -> None:
            opened.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(amqp_connections, "ConfirmingPublisher", Recorded)
    return opened


@contextmanager
def pool_of(routes, name: str, url: str = DEFAULT_AMQP_URL, **options):
    pool = RequestPool(lambda: open_transport(url, routes=routes, connection_name=name, reconnect_timeout=1.0),
                       SIZE, **options)
    try:
        yield pool
    finally:
        pool.close()


def question() -> Message:
    n = uuid.uuid4().hex[:12]
    return Message(f"<q>{n}</q>".encode(), "licensing.VisaEligibilityQuery.police", f"q-{n}", f"c-{n}")


def ask(pool: RequestPool) -> None:
    sent = question()
    answer = pool.request(sent, timeout=10)
    assert answer.body == b"<answer>" + sent.body + b"</answer>" and answer.correlation_id == sent.correlation_id


def ask_at_once(pool: RequestPool, count: int) -> None:
    """``count`` questions from as many threads at once (so they check out as many connections)."""
    start, failures = threading.Barrier(count), []

    def one() -> None:
        start.wait(10)
        try:
            ask(pool)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    askers = [threading.Thread(target=one, name=f"asker-{n}") for n in range(count)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join(30)
    assert not failures


def eventually(condition, timeout: float = 30.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(every)


def test_the_first_questions_after_start_wait_for_no_open_and_close_leaves_none(routes, opens):
    name = f"rabt-pool-start-{RUN}"
    with licensing(routes), pool_of(routes, name) as pool:
        assert pool.wait_ready(30)
        assert opens == [KEEPER] * SIZE  # opened in the background, before any question
        ask_at_once(pool, SIZE - 1)
        assert opens == [KEEPER] * SIZE  # no question opened one on its way
        assert len(connections_named(name)) == SIZE
    eventually(lambda: not connections_named(name), every=1.0)
    with pytest.raises(TransportError):
        pool.request(question(), timeout=1)
    assert not [thread for thread in threading.enumerate() if thread.name == KEEPER]


def test_idle_connections_outlive_quiet_time_the_broker_closes_others_after(routes, opens):
    url = f"{DEFAULT_AMQP_URL}?heartbeat={SHORT_HEARTBEAT}"
    name, alone = f"rabt-pool-quiet-{RUN}", f"rabt-alone-quiet-{RUN}"
    with licensing(routes), pool_of(routes, name, url) as pool, \
            open_transport(url, routes=routes, connection_name=alone) as thread_own:
        thread_own.request(question(), timeout=10)  # a transport as each gateway thread had: idle from now on
        assert pool.wait_ready(30)
        # the broker closes the lone transport's connection (nobody answers its heartbeats)...
        eventually(lambda: not connections_named(alone), timeout=10 * SHORT_HEARTBEAT, every=1.0)
        time.sleep(2 * SHORT_HEARTBEAT)  # ...and the pool's, left as long again, are alive
        assert len(connections_named(name)) == SIZE
        ask_at_once(pool, SIZE - 1)
    assert opens.count(KEEPER) == SIZE and len(opens) == SIZE + 1  # the lone transport's one open


def test_a_connection_the_broker_closed_is_replaced_before_the_next_question(routes, opens):
    name = f"rabt-pool-closed-{RUN}"
    with licensing(routes), pool_of(routes, name) as pool:
        assert pool.wait_ready(30)
        ask(pool)
        close_connections(connections_named(name))
        eventually(lambda: len(opens) == 2 * SIZE)  # the keeper saw each close and opened a new one
        assert pool.wait_ready(30)
        ask_at_once(pool, SIZE - 1)
        assert opens == [KEEPER] * (2 * SIZE)
        assert len(connections_named(name)) == SIZE


def broker_lines(caplog, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hub.transports.amqp" and word in r.getMessage()]


def test_an_outage_is_waited_out_in_the_background_and_told_once(routes, opens, caplog):
    caplog.set_level(logging.INFO, logger="hub.transports.amqp")
    with OutageProxy(5672) as proxy, licensing(routes), \
            pool_of(routes, f"rabt-pool-outage-{RUN}", f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
                    pause=Pause(first=0.05, cap=0.2)) as pool:
        assert pool.wait_ready(30)
        proxy.cut()
        time.sleep(2)  # the keeper tries again and again
        with pytest.raises(BrokerUnavailableError):
            pool.request(question(), timeout=10)  # as before: the transport's own reconnects, then unavailable
        tries = proxy.accepted
        proxy.restore()
        eventually(lambda: pool.wait_ready(0.1))
        assert proxy.accepted >= tries + SIZE  # reopened in the background...
        before = len(opens)
        ask_at_once(pool, SIZE - 1)
        assert len(opens) == before  # ...so the questions after the outage waited for none
    assert len(broker_lines(caplog, "unreachable")) == 1
    assert len(broker_lines(caplog, "reachable again")) == 1


def _ask_in_child(pool: RequestPool, opens: list[str], answers) -> None:
    before = len(opens)
    ask(pool)
    answers.put(len(opens) - before)
    pool.close()


def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(routes, opens):
    name = f"rabt-pool-fork-{RUN}"
    with licensing(routes), pool_of(routes, name) as pool:
        assert pool.wait_ready(30)
        ask(pool)
        context = multiprocessing.get_context("fork")
        answers = context.Queue()
        child = context.Process(target=_ask_in_child, args=(pool, opens, answers))
        child.start()
        opened_by_child = answers.get(timeout=60)
        child.join(30)
        assert child.exitcode == 0 and opened_by_child >= 1  # answered on a connection of its own
        eventually(lambda: len(connections_named(name)) == SIZE, every=1.0)  # the child closed only its own
        ask_at_once(pool, SIZE - 1)  # the parent's are as they were
        assert opens == [KEEPER] * SIZE
