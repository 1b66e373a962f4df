"""The AMQP consume loop holds the ack of a round for the next round's first write to carry.

No broker: the transport is a stand-in whose ``process_data_events`` hands
the consumer the deliveries of one scripted round per call, and whose
channel records every ack — queued only (the pika ``Channel`` underneath,
``_impl``) or written at once (``BlockingChannel.basic_ack``) — in one list
with what the handler did, so the order shows which write carries an ack.
"""

from __future__ import annotations

import threading

import pika
import pytest

from hub.routing import load_routes
from hub.transports import amqp_consumer
from hub.transports.amqp_consumer import AmqpConsumer


class Impl:
    """The pika Channel under the blocking one: an ack here is only queued on the connection."""

    def __init__(self, events: list) -> None:
        self.events = events

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.events.append(("queued ack", delivery_tag, multiple))


class Channel:
    """Stands in for a BlockingChannel; its ``basic_ack`` writes at once."""

    def __init__(self, events: list) -> None:
        self.events, self._impl, self.deliver = events, Impl(events), None

    def basic_qos(self, prefetch_count: int) -> None:
        pass

    def basic_consume(self, queue: str, callback) -> str:
        self.deliver = callback
        return "ctag"

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.events.append(("written ack", delivery_tag, multiple))

    def basic_cancel(self, tag: str) -> None:
        self.events.append(("cancel",))

    def basic_nack(self, delivery_tag: int, requeue: bool) -> None:
        self.events.append(("nack", delivery_tag))


class Connection:
    """Each wait hands over the next scripted round (a list of delivery tags); the script done, it stops."""

    def __init__(self, channel: Channel, rounds: list[list[int]], stop: threading.Event) -> None:
        self.channel, self.rounds, self.stop, self.waits = channel, list(rounds), stop, []

    def process_data_events(self, time_limit: float) -> None:
        self.waits.append(time_limit)
        if not self.rounds:
            self.stop.set()
            return
        for tag in self.rounds.pop(0):
            method = pika.spec.Basic.Deliver(consumer_tag="ctag", delivery_tag=tag, routing_key="licensing.x.y")
            self.channel.deliver(None, method, pika.BasicProperties(message_id=f"m{tag}"), b"<m/>")


class Transport:
    """Just what AmqpConsumer uses of AmqpTransport."""

    connection_errors = (ConnectionError,)

    def __init__(self, rounds: list[list[int]], stop: threading.Event) -> None:
        self.events: list = []
        self.channel = Channel(self.events)
        self.connection = Connection(self.channel, rounds, stop)
        self.generation, self.connected, self.routes = 1, True, load_routes()

    def with_reconnect(self, work, what: str):
        return work()


def consume(rounds: list[list[int]], prefetch: int = 64) -> Transport:
    """Run a consumer over ``rounds``; its handler notes each delivery as a write of its own (a reply)."""
    stop = threading.Event()
    transport = Transport(rounds, stop)

    def handler(delivery) -> None:
        transport.events.append(("reply", delivery.message.message_id))

    AmqpConsumer(transport, "q", handler, prefetch=prefetch).run(max_messages=None, idle_timeout=None, stop=stop)
    return transport


def test_a_rounds_ack_is_queued_before_the_next_rounds_reply_so_that_write_carries_it():
    transport = consume([[1], [2], [3]])
    assert transport.events[:5] == [("reply", "m1"), ("queued ack", 1, True), ("reply", "m2"),
                                    ("queued ack", 2, True), ("reply", "m3")]


def test_an_ack_no_delivery_came_to_carry_is_queued_after_a_short_wait_and_goes_before_the_cancel():
    transport = consume([[1, 2], [], [3]])
    assert transport.events == [("reply", "m1"), ("reply", "m2"), ("queued ack", 2, True), ("reply", "m3"),
                                ("queued ack", 3, True), ("cancel",)]  # the cancel's own write carries the last
    # held acks shorten the wait for deliveries, and only they do
    poll, held = amqp_consumer._POLL, amqp_consumer._ACK_DELAY
    assert transport.connection.waits == [poll, held, poll, held]


def test_half_the_prefetch_unacked_is_acked_at_once_lest_the_broker_stop_sending():
    transport = consume([[1, 2, 3], [4]], prefetch=6)
    assert transport.events[:4] == [("reply", "m1"), ("reply", "m2"), ("reply", "m3"), ("queued ack", 3, True)]
    assert transport.events[4] == ("reply", "m4")


@pytest.mark.parametrize("rounds", [[[1]], [[1, 2]]])
def test_every_handled_delivery_is_acked_by_the_end(rounds):
    transport = consume(rounds)
    acked = max(tag for kind, tag, *_ in (e for e in transport.events if "ack" in e[0]))
    assert acked == rounds[-1][-1] and transport.events[-1] == ("cancel",)
