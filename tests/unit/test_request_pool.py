"""RequestPool's bookkeeping with transports that only count: who gets which, retries, closing.

The broker-facing behaviour (heartbeats, closes, outages, forks) is tested on
the real RabbitMQ in ``tests/integration/test_amqp_request_pool.py``.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from hub.errors import BrokerUnavailableError, TransportError
from hub.outage import Pause
from hub.transports.base import Message
from hub.transports.request_pool import RequestPool

QUESTION = Message(b"<q/>", "licensing.Q.police", "q-1", "c-1")


class Counting:
    """A transport that opens when told to, answers every question, and records what was done to it."""

    def __init__(self, fail_opens: int = 0, error: type[Exception] = BrokerUnavailableError) -> None:
        self.fail_opens, self.error = fail_opens, error
        self.open = False
        self.opens = self.asked = self.closes = 0
        self.hold: threading.Event | None = None

    def prepare_requests(self) -> None:
        if self.fail_opens:
            self.fail_opens -= 1
            raise self.error("refused")
        self.open, self.opens = True, self.opens + 1

    def keep_alive(self) -> bool:
        return self.open

    def request(self, message: Message, *, timeout: float) -> Message:
        self.asked += 1
        if self.hold is not None:
            self.hold.wait(10)
        return message

    def close(self) -> None:
        self.open, self.closes = False, self.closes + 1


def pool_over(transports: list[Counting], **options) -> RequestPool:
    handed = iter(transports)
    return RequestPool(lambda: next(handed), len(transports), keep_alive_every=0.01, **options)


def test_a_question_takes_a_ready_transport_over_one_the_keeper_could_not_open():
    ready, failing = Counting(), Counting(fail_opens=10**6)
    pool = pool_over([ready, failing], pause=Pause(first=0.01, cap=0.01))
    try:
        deadline = time.monotonic() + 5
        while not ready.open:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for _ in range(5):
            assert pool.request(QUESTION, timeout=1) is QUESTION
        assert ready.asked == 5 and failing.asked == 0
    finally:
        pool.close()


def test_failed_opens_are_retried_until_one_succeeds_and_told_once(caplog):
    caplog.set_level(logging.WARNING, logger="hub.transports")
    transport = Counting(fail_opens=4, error=RuntimeError)
    pool = pool_over([transport], pause=Pause(first=0.02, cap=0.08))
    try:
        assert pool.wait_ready(5)
        assert transport.opens == 1
    finally:
        pool.close()
    lines = [r.getMessage() for r in caplog.records if "cannot open" in r.getMessage()]
    assert lines == ["request connections: cannot open one: refused; retrying"]


def test_an_outage_is_left_to_the_transports_own_watch(caplog):
    caplog.set_level(logging.WARNING, logger="hub.transports")
    pool = pool_over([Counting(fail_opens=3)], pause=Pause(first=0.01, cap=0.01))
    try:
        assert pool.wait_ready(5)
    finally:
        pool.close()
    assert not [r for r in caplog.records if r.name == "hub.transports"]


def test_close_waits_for_no_question_and_closes_the_transport_out_with_one_when_it_is_back():
    busy, idle = Counting(), Counting()
    pool = pool_over([busy, idle])
    assert pool.wait_ready(5)
    busy.hold = idle.hold = threading.Event()
    answered: list[Message] = []
    asker = threading.Thread(target=lambda: answered.append(pool.request(QUESTION, timeout=1)))
    asker.start()
    deadline = time.monotonic() + 5
    while not busy.asked + idle.asked:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    out, left = (busy, idle) if busy.asked else (idle, busy)
    pool.close()
    assert left.closes == 1 and out.closes == 0  # the one in use is not closed under its question
    out.hold.set()
    asker.join(5)
    assert answered == [QUESTION] and out.closes == 1
    with pytest.raises(TransportError):
        pool.request(QUESTION, timeout=1)
