"""The consume loop on RabbitMQ: prefetch, manual acks, retries, dead letters.

pika calls our callback only to buffer a delivery; the handler runs outside
pika's dispatch, so it may publish or reply through the same transport. A
failed delivery is settled by publishing a copy (to a delay tier or the DLQ)
and waiting for that confirm BEFORE acking the original: if we die between
the two, the broker redelivers and the copy is a duplicate, never a loss.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING

from hub.errors import PublishError
from hub.transports.amqp_publisher import attempt_of, message_from
from hub.transports.amqp_topology import dead_letter_queue, delay_queue
from hub.transports.base import (
    ATTEMPT_HEADER,
    CODE_HEADER,
    DEAD_AT_HEADER,
    DEAD_ID_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    Delivery,
    Failure,
    Handler,
    classify,
)

if TYPE_CHECKING:
    from hub.transports.amqp import AmqpTransport

log = logging.getLogger(__name__)

#: Longest wait for a delivery before ``stop`` and ``idle_timeout`` are looked at again. Deliveries
#: end the wait at once, so it only bounds how long a stop takes; each wait costs CPU even with
#: nothing to do, and a consumer idles most of its life (a dozen of them in one ``rabt serve``).
_POLL = 0.5
#: Longest the ack of handled deliveries is held for later deliveries to share (one ``multiple=True`` ack).
#: pika's BlockingChannel.basic_ack writes at once, with a poll of the socket and two changes of what the
#: poll watches, as dear as the handler's reply; a consumer asked 25 times a second per thread then acks
#: five deliveries at a time. A held ack means only more redeliveries after a crash (consumers are idempotent).
#: Holds end on a grid of this step on the monotonic clock, which every consumer on the host reads alike (see
#: :func:`_hold_end`).
_ACK_HOLD = 0.2


class AmqpConsumer:
    """One ``consume()`` call: subscribes (again after a reconnect) and handles deliveries."""

    def __init__(self, transport: AmqpTransport, queue: str, handler: Handler, *, prefetch: int) -> None:
        self.transport, self.queue, self.handler, self.prefetch = transport, queue, handler, prefetch
        self._settle = getattr(handler, "settle", None)  # waited for before each ack (Delivery.ack_after_settle)
        self._buffer: collections.deque = collections.deque()
        self._generation = -1
        self._tag: str | None = None
        self._unacked_tag: int | None = None  # highest handled delivery not acked yet
        self._held = 0  # deliveries handled since the last ack
        self._ack_due = 0.0  # when they are acked at the latest (_hold_end of when the first was handled)

    def run(self, *, max_messages: int | None, idle_timeout: float | None, stop: threading.Event | None) -> int:
        """Handle deliveries until max_messages, idle_timeout or stop; return how many."""
        handled, last_seen = 0, time.monotonic()

        def done() -> bool:
            return bool(stop and stop.is_set()) or (max_messages is not None and handled >= max_messages)

        try:
            while not done():
                if not self._subscribed():  # reconnecting is for when it is needed: it costs as much as a wait
                    self.transport.with_reconnect(self._subscribe, f"consume {self.queue}")
                try:
                    self.transport.connection.process_data_events(time_limit=self._wait(idle_timeout, last_seen))
                    if not self._buffer:  # the wait ran out (at the hold's end at the latest): nothing to share with
                        self._ack_handled()
                    while self._buffer and not done():
                        self._handle(*self._buffer.popleft())
                        handled += 1
                        last_seen = time.monotonic()
                    if self._held and (self._held >= self.prefetch // 2 or self._hold_left() <= 0):
                        self._ack_handled()  # the broker sends no more once prefetch deliveries are unacked
                except self.transport.connection_errors:
                    self._buffer.clear()  # unacked: the broker redelivers them to the next subscription
                    self._unacked_tag, self._held = None, 0
                    self.transport.drop_connection()
                if idle_timeout is not None and not self._buffer and time.monotonic() - last_seen >= idle_timeout:
                    break
        finally:
            self._unsubscribe()
        return handled

    def _wait(self, idle_timeout: float | None, last_seen: float) -> float:
        """How long the next wait for deliveries may last: ``_POLL``, what is left of a held ack's
        ``_ACK_HOLD``, or what is left of ``idle_timeout``."""
        longest = _POLL if not self._held else max(self._hold_left(), 0.0)
        if idle_timeout is None:
            return longest
        return min(longest, max(idle_timeout - (time.monotonic() - last_seen), 0.0))

    def _hold_left(self) -> float:
        return self._ack_due - time.monotonic()

    def _subscribed(self) -> bool:
        """Whether this consumer is subscribed on the transport's open connection."""
        return self._generation == self.transport.generation and self.transport.connected

    def _subscribe(self) -> None:
        if self._generation == self.transport.generation:
            return
        self._buffer.clear()
        channel = self.transport.channel
        channel.basic_qos(prefetch_count=self.prefetch)
        self._tag = channel.basic_consume(self.queue, lambda _ch, m, p, b: self._buffer.append((m, p, b)))
        self._generation = self.transport.generation

    def _unsubscribe(self) -> None:
        if self._generation != self.transport.generation or self._tag is None:
            return
        try:
            self._ack_handled()
            channel = self.transport.channel
            channel.basic_cancel(self._tag)
            for method, _props, _body in self._buffer:  # prefetched but never handed to the handler
                channel.basic_nack(method.delivery_tag, requeue=True)
        except self.transport.connection_errors:
            self.transport.drop_connection()  # unacked deliveries go back when the connection goes
        self._buffer.clear()
        self._unacked_tag, self._held = None, 0
        self._generation = -1

    def _handle(self, method, properties, body: bytes) -> None:
        message = message_from(method, properties, body)
        delivery = Delivery(message, self.queue, attempt_of(properties), bool(method.redelivered),
                            ack_after_settle=self._settle is not None)
        try:
            self.handler(delivery)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes
            self._settle_failure(method, delivery, classify(exc, self.transport.connection_errors))
        else:
            if self._generation == self.transport.generation:  # else the tag died with its connection
                self._unacked_tag = method.delivery_tag
                if not self._held:
                    self._ack_due = _hold_end(time.monotonic())
                self._held += 1

    def _ack_handled(self) -> None:
        """Ack every handled delivery at once (multiple=True): one frame for all held, not one per message.

        Deliveries are handled in tag order and failures are settled (acked) on
        the spot, so every outstanding tag up to the last handled one is done.
        A crash before this ack means redelivery — consumers are idempotent.
        A handler with ``settle()`` is waited for first; when it raises, the
        held deliveries are requeued instead (their redeliveries say so).
        """
        if self._unacked_tag is not None and self._generation == self.transport.generation:
            if self._settled():
                self.transport.channel.basic_ack(self._unacked_tag, multiple=True)
            else:  # what the handler left to settle did not take: all of them come again
                self.transport.channel.basic_nack(self._unacked_tag, multiple=True, requeue=True)
        self._unacked_tag, self._held = None, 0

    def _settled(self) -> bool:
        """Whether the handler's ``settle()`` (if it has one) says every handled delivery's change is durable."""
        if self._settle is None:
            return True
        try:
            self._settle()
        except Exception as exc:  # noqa: BLE001 - the deliveries are redelivered, and handled at once then
            log.warning("handled deliveries on %s not settled, requeued: %s", self.queue, exc)
            return False
        return True

    def _settle_failure(self, method, delivery: Delivery, failure: Failure) -> None:
        routes = self.transport.routes
        headers = {REASON_HEADER: failure.reason[:1000], CODE_HEADER: failure.code}
        if failure.retry and delivery.attempt < routes.max_attempts:
            target = delay_queue(self.queue, routes.delay_for(delivery.attempt + 1))
            headers[ATTEMPT_HEADER] = delivery.attempt + 1
        else:
            target = dead_letter_queue(self.queue)
            headers |= {ATTEMPT_HEADER: delivery.attempt, QUEUE_HEADER: self.queue,
                        DEAD_AT_HEADER: repr(time.time()), DEAD_ID_HEADER: uuid.uuid4().hex}
        self._ack_handled()  # before a reconnect inside send_to_queue could orphan them
        channel = self.transport.channel
        try:
            self.transport.send_to_queue(target, delivery.message, headers)
        except PublishError:
            # the delay tier or DLQ is missing: keep the message, and say the topology is wrong
            channel.basic_nack(method.delivery_tag, requeue=True)
            raise
        if self._generation == self.transport.generation:  # a reconnect voided the tag: redelivered later
            channel.basic_ack(method.delivery_tag)


def _hold_end(began: float) -> float:
    """When a hold that began at ``began`` ends: the next multiple of ``_ACK_HOLD`` on the monotonic clock.

    Not ``began + _ACK_HOLD``: a handler that commits before each ack (``settle()``) commits for every
    consumer thread in the process at once, and threads whose holds ended at times of their own each paid a
    commit of their own, a few deliveries apiece (licensing's 8 threads: one window per 8.6 visa checks at
    200/s). Ending together, the first thread's commit holds the others' deliveries too. A hold lasts at most
    ``_ACK_HOLD`` still, and half of it on average.
    """
    return (began // _ACK_HOLD + 1) * _ACK_HOLD
