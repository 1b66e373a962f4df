"""The AMQP consume loop holds the ack of handled deliveries for later ones to share (one multiple=True ack).

No broker: the transport is a stand-in whose ``process_data_events`` hands
the consumer the deliveries of one scripted round per call and moves a clock
of its own on by ``step`` seconds, and whose channel records every ack (as
``BlockingChannel.basic_ack`` writes it) in one list with what the handler
did, so the order shows which deliveries each ack covers.
"""

from __future__ import annotations

import threading
import types

import pika
import pytest

from hub.routing import load_routes
from hub.transports import amqp_consumer
from hub.transports.amqp_consumer import AmqpConsumer


class Clock:
    def __init__(self) -> None:
        self.now = 1024.0  # steps of 1/16 s add up exactly

    def monotonic(self) -> float:
        return self.now


class Channel:
    """Stands in for a BlockingChannel: only the public methods the consume loop calls."""

    def __init__(self, events: list) -> None:
        self.events, self.deliver = events, None

    def basic_qos(self, prefetch_count: int) -> None:
        pass

    def basic_consume(self, queue: str, callback) -> str:
        self.deliver = callback
        return "ctag"

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.events.append(("ack", delivery_tag, multiple))

    def basic_cancel(self, tag: str) -> None:
        self.events.append(("cancel",))

    def basic_nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        self.events.append(("nack", delivery_tag) + (("multiple",) if multiple else ()))


class Connection:
    """Each wait hands over the next scripted round ``step`` seconds on, or ends empty at a shorter time limit;
    the script done, it stops."""

    def __init__(self, channel: Channel, rounds: list[list[int]], stop: threading.Event, clock: Clock,
                 step: float) -> None:
        self.channel, self.rounds, self.stop, self.clock, self.step = channel, list(rounds), stop, clock, step
        self.waits: list[float] = []

    def process_data_events(self, time_limit: float) -> None:
        self.waits.append(round(time_limit, 6))
        if time_limit < self.step:  # nothing comes in time
            self.clock.now += time_limit
            return
        self.clock.now += self.step
        if not self.rounds:
            self.stop.set()
            return
        for tag in self.rounds.pop(0):
            method = pika.spec.Basic.Deliver(consumer_tag="ctag", delivery_tag=tag, routing_key="licensing.x.y")
            self.channel.deliver(None, method, pika.BasicProperties(message_id=f"m{tag}"), b"<m/>")


class Transport:
    """Just what AmqpConsumer uses of AmqpTransport."""

    connection_errors = (ConnectionError,)

    def __init__(self, rounds: list[list[int]], stop: threading.Event, clock: Clock, step: float) -> None:
        self.events: list = []
        self.channel = Channel(self.events)
        self.connection = Connection(self.channel, rounds, stop, clock, step)
        self.generation, self.connected, self.routes = 1, True, load_routes()

    def with_reconnect(self, work, what: str):
        return work()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(amqp_consumer, "time", types.SimpleNamespace(monotonic=clock.monotonic, time=clock.monotonic))
    return clock


def consume(clock: Clock, rounds: list[list[int]], *, step: float, prefetch: int = 64) -> Transport:
    """Run a consumer over ``rounds``; its handler notes each delivery it handles."""
    stop = threading.Event()
    transport = Transport(rounds, stop, clock, step)

    def handler(delivery) -> None:
        transport.events.append(("handled", delivery.message.message_id))

    AmqpConsumer(transport, "q", handler, prefetch=prefetch).run(max_messages=None, idle_timeout=None, stop=stop)
    return transport


def test_deliveries_handled_within_one_step_of_the_grid_share_one_ack_sent_at_the_step_s_end(clock):
    transport = consume(clock, [[1], [2], [3], [4], [5]], step=0.0625)
    assert transport.events == [
        ("handled", "m1"), ("handled", "m2"), ("handled", "m3"),
        ("ack", 3, True),  # m1 came at 1024.0625: its hold ended at 1024.2, and the wait for m4 there
        ("handled", "m4"), ("handled", "m5"),
        ("ack", 5, True),  # m4 came at 1024.2625: held until 1024.4, where the wait for more ended empty
        ("cancel",)]
    # a held ack shortens the wait for deliveries to what is left of its hold, and only a held one does
    assert transport.connection.waits == [0.5, 0.1375, 0.075, 0.0125, 0.5, 0.1375, 0.075]


def test_holds_begun_at_different_moments_end_together_on_the_grid_within_one_step():
    """Consumer threads that commit before they ack then ack, and commit, at the same moment: the first
    thread's commit carries the others' deliveries too."""
    step = amqp_consumer._ACK_HOLD
    ends = {amqp_consumer._hold_end(1024.0 + 0.01 + k * step / 4) for k in range(4)}
    assert len(ends) == 1
    end = ends.pop()
    assert all(0 < end - (1024.01 + k * step / 4) <= step for k in range(4))
    assert amqp_consumer._hold_end(end + step / 2) == pytest.approx(end + step)


def test_a_wait_that_brings_nothing_acks_what_is_held_at_once(clock):
    transport = consume(clock, [[1, 2], [], [3]], step=0.01)
    assert transport.events == [("handled", "m1"), ("handled", "m2"), ("ack", 2, True), ("handled", "m3"),
                                ("ack", 3, True), ("cancel",)]


def test_half_the_prefetch_held_is_acked_at_once_as_the_broker_would_send_no_more_than_prefetch(clock):
    transport = consume(clock, [[1, 2], [3], [4, 5, 6]], step=0.01, prefetch=4)
    assert transport.events == [("handled", "m1"), ("handled", "m2"), ("ack", 2, True), ("handled", "m3"),
                                ("handled", "m4"), ("handled", "m5"), ("handled", "m6"), ("ack", 6, True),
                                ("cancel",)]


def test_a_failed_delivery_is_settled_after_the_held_ones_are_acked(clock, monkeypatch):
    stop = threading.Event()
    transport = Transport([[1, 2], [3]], stop, clock, 0.01)
    sent = []
    transport.send_to_queue = lambda queue, message, headers: sent.append((queue, message.message_id))

    def handler(delivery) -> None:
        transport.events.append(("handled", delivery.message.message_id))
        if delivery.message.message_id == "m2":
            raise ValueError("not this one")

    AmqpConsumer(transport, "q", handler, prefetch=64).run(max_messages=None, idle_timeout=None, stop=stop)
    assert transport.events == [("handled", "m1"), ("handled", "m2"), ("ack", 1, True), ("ack", 2, False),
                                ("handled", "m3"), ("ack", 3, True), ("cancel",)]
    assert [message_id for _queue, message_id in sent] == ["m2"]


class Settling:
    """A handler with ``settle()``: notes each delivery (and whether its ack waits for settle) and each settle."""

    def __init__(self, events: list, fail_at: int | None = None) -> None:
        self.events, self.fail_at, self.settles = events, fail_at, 0

    def __call__(self, delivery) -> None:
        self.events.append(("handled", delivery.message.message_id, delivery.ack_after_settle))

    def settle(self) -> None:
        self.settles += 1
        self.events.append(("settle",))
        if self.settles == self.fail_at:
            raise RuntimeError("the changes did not commit")


def test_a_handler_with_settle_is_waited_for_before_every_ack_and_told_so_on_each_delivery(clock):
    stop = threading.Event()
    transport = Transport([[1, 2], [], [3]], stop, clock, 0.01)
    AmqpConsumer(transport, "q", Settling(transport.events), prefetch=64).run(max_messages=None, idle_timeout=None,
                                                                               stop=stop)
    assert transport.events == [("handled", "m1", True), ("handled", "m2", True), ("settle",), ("ack", 2, True),
                                ("handled", "m3", True), ("settle",), ("ack", 3, True), ("cancel",)]


def test_deliveries_whose_settle_fails_are_requeued_not_acked_and_the_next_ones_go_on(clock):
    stop = threading.Event()
    transport = Transport([[1, 2], [], [3]], stop, clock, 0.01)
    AmqpConsumer(transport, "q", Settling(transport.events, fail_at=1), prefetch=64).run(
        max_messages=None, idle_timeout=None, stop=stop)
    assert transport.events == [("handled", "m1", True), ("handled", "m2", True), ("settle",),
                                ("nack", 2, "multiple"),  # both come again, as redeliveries
                                ("handled", "m3", True), ("settle",), ("ack", 3, True), ("cancel",)]


def test_a_handler_without_settle_is_told_its_deliveries_are_acked_once_it_returns(clock):
    seen = []
    stop = threading.Event()
    transport = Transport([[1]], stop, clock, 0.01)
    AmqpConsumer(transport, "q", lambda delivery: seen.append(delivery.ack_after_settle), prefetch=64).run(
        max_messages=None, idle_timeout=None, stop=stop)
    assert seen == [False] and ("ack", 1, True) in transport.events
