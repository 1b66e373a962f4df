"""The ``amqp://`` transport: RabbitMQ through pika's BlockingConnection.

Durable topic exchange, quorum queues, persistent messages, mandatory
publishes with pipelined confirms (``amqp_publisher``), manual acks with
prefetch (``amqp_consumer``), delay-queue retries and DLQs
(``amqp_topology``), direct reply-to for request/reply (``amqp_rpc``). A broken connection
(broker restart, ``rabbitmqctl close_connection``) is reopened with
exponential backoff for ``reconnect_timeout`` seconds, then
BrokerUnavailableError: long enough to ride out a connection reset, short
enough for a command to answer; role loops wait out longer outages themselves
(:mod:`hub.outage`). An unconfirmed publish is sent again — a duplicate is
possible, a loss is not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import pika
import pika.exceptions as px
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from hub.errors import BrokerUnavailableError, PublishError, ReplyTimeoutError, TransportError
from hub.outage import Watch
from hub.redact import redact_url
from hub.routing import Routes, load_routes
from hub.transports import amqp_deadletters, amqp_errors, amqp_topology
from hub.transports.amqp_consumer import AmqpConsumer
from hub.transports.amqp_publisher import ConfirmingPublisher
from hub.transports.amqp_rpc import DIRECT_REPLY_TO, Requester, direct_reply
from hub.transports.base import (
    ATTEMPT_HEADER,
    Capabilities,
    DeadLetter,
    Delivery,
    Handler,
    Message,
    QueueStats,
    ROUTING_KEY_HEADER,
    ReplyUndeliverableError,
    Transport,
)

amqp_errors.quiet_pika_logging()

log = logging.getLogger(__name__)


_BROKER_STATES: dict[str, Watch] = {}
_BROKER_STATES_LOCK = threading.Lock()


def _broker_state(shown_url: str) -> Watch:
    """The one watch of this process on the broker at ``shown_url`` (a part's: no role, see hub.outage)."""
    with _BROKER_STATES_LOCK:
        if shown_url not in _BROKER_STATES:
            _BROKER_STATES[shown_url] = Watch(None, f"broker {shown_url}", logger=log)
        return _BROKER_STATES[shown_url]


class AmqpTransport(Transport):
    """RabbitMQ transport; one instance per thread (pika connections are not thread-safe)."""

    connection_errors = (px.AMQPConnectionError, px.ConnectionWrongStateError, px.ChannelWrongStateError,
                         ConnectionError)
    capabilities = Capabilities(reconnect_timeout=True, connection_name=True, shared_server=True,
                                management_api=True)

    def __init__(self, url: str, *, routes: Routes | None = None, window: int = 1024,
                 confirm_timeout: float = 30.0, reconnect_timeout: float = 10.0,
                 connection_name: str = "rabt") -> None:
        try:
            self._params = pika.URLParameters(url)
        except (ValueError, TypeError) as exc:
            raise TransportError(f"bad broker URL: {exc}") from exc
        self._params.client_properties = {"connection_name": connection_name}
        self.routes = routes or load_routes()
        self.window, self.confirm_timeout, self.reconnect_timeout = window, confirm_timeout, reconnect_timeout
        self._connection: pika.BlockingConnection | None = None
        self._channel = self._publisher = self._requester = self._reply_channel = None
        self.generation = 0  # bumps on every reconnect, so consumers know to resubscribe
        self._closed = False
        self._retrying: Retrying | None = None
        # one line when the broker goes away and one when it is back, not one per reconnect attempt
        # nor one per connection: the threads of a process share what they report of one broker
        self.broker_state = _broker_state(redact_url(url))

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> None:
        """Open the blocking connection (consumes, topology, answers to direct reply-to) if it is not open."""
        if self._closed:
            raise TransportError("amqp transport is closed")
        if self._connection is not None and self._connection.is_open:
            return
        self.drop_connection()
        self._connection = pika.BlockingConnection(self._params)
        self._channel = self._connection.channel()
        self.generation += 1

    def _publishing(self) -> ConfirmingPublisher:
        """The publishing connection (publishes and questions), opened if it is not open."""
        if self._closed:
            raise TransportError("amqp transport is closed")
        if self._publisher is None or not self._publisher.is_open:
            self._drop_publisher()
            self._publisher = ConfirmingPublisher(self._params, window=self.window,
                                                  confirm_timeout=self.confirm_timeout)
        return self._publisher

    def drop_connection(self) -> None:
        """Forget both connections (closing them if they still work)."""
        connection, self._connection = self._connection, None
        self._channel = self._reply_channel = None
        self._drop_publisher()
        if connection is not None:
            self.generation += 1  # deliveries of the old connection can no longer be acked: consumers resubscribe
            if connection.is_open:
                try:
                    connection.close()
                except self.connection_errors:
                    pass  # already broken: nothing to close

    def _drop_publisher(self) -> None:
        publisher, self._publisher, self._requester = self._publisher, None, None
        if publisher is not None:
            publisher.close()

    def with_reconnect(self, work: Callable[[], object], what: str):
        """Run ``work`` on an open connection, reconnecting with backoff on connection errors."""
        try:
            result = self._run(work)
            self.broker_state.succeeded()
            return result
        except self.connection_errors as exc:
            raise BrokerUnavailableError(f"{what}: broker unreachable for {self.reconnect_timeout:g}s: "
                                         f"{amqp_errors.connection_problem(exc)}") from exc
        except OSError as exc:  # the host name does not resolve, no route: an outage to wait out, too
            if self._connection is not None and self._connection.is_open:
                raise  # not the broker: the work itself failed (its own file, its own disk)
            self.drop_connection()
            raise BrokerUnavailableError(f"{what}: broker {self._params.host} unreachable: {exc}") from exc
        except px.ChannelClosedByBroker as exc:
            self.drop_connection()  # the main channel is gone with it
            raise TransportError(f"{what}: broker refused: {exc.reply_code} {exc.reply_text}") from exc
        except px.AMQPError as exc:
            self.drop_connection()
            raise TransportError(f"{what}: {exc!r}") from exc

    def _run(self, work: Callable[[], object]):
        """``work()`` (which opens the connection it uses); after a connection error, retried with backoff."""
        # The first attempt without tenacity, whose bookkeeping cost every visa check's question and
        # answer more than the publish itself. A connection error is told and the connections dropped,
        # as after the retrying path's own first attempt; that path then runs ``work`` again.
        try:
            return work()
        except self.connection_errors as exc:
            self._failed(exc)
        if self._retrying is None:
            # built once: every publish, request and reply that needs it passes here
            self._retrying = Retrying(
                retry=retry_if_exception_type(self.connection_errors),
                wait=wait_exponential(multiplier=0.1, max=2.0),
                stop=stop_after_delay(self.reconnect_timeout),
                before_sleep=self._lost,
                reraise=True,
            )
        return self._retrying(work)

    def connect(self) -> None:
        self.with_reconnect(self._connect, "connect")

    def _lost(self, state) -> None:
        self._failed(state.outcome.exception())

    def _failed(self, exc: BaseException) -> None:
        """Tell the outage watch the connection failed, and forget it: the next attempt opens a new one."""
        self.broker_state.failed(exc)
        self.drop_connection()

    @property
    def connected(self) -> bool:
        """Whether the blocking connection (consumes) is open now (none is opened to find out)."""
        return self._connection is not None and self._connection.is_open

    @property
    def connection(self) -> pika.BlockingConnection:
        """The open connection (opened on first use)."""
        self._connect()
        return self._connection

    @property
    def channel(self):
        """The main channel: consumes, and publishes with confirms."""
        self._connect()
        return self._channel

    @property
    def publisher(self) -> ConfirmingPublisher:
        """The confirming publisher on the publishing connection."""
        return self._publishing()

    # -- topology and publishing ---------------------------------------------------------------

    def declare(self, routes: Routes) -> None:
        self.routes = routes
        self.with_reconnect(lambda: amqp_topology.declare(self.channel, routes), "declare")

    def undeclare(self, routes: Routes) -> None:
        """Delete the exchange and queues of ``routes``, with their delay tiers and dead letters."""
        self.with_reconnect(lambda: amqp_topology.delete(self.channel, routes), "undeclare")

    def publish(self, messages: Iterable[Message]) -> None:
        batch = list(messages)
        done: set[int] = set()  # indexes confirmed, over reconnects

        def send_unconfirmed() -> None:
            publisher = self.publisher
            publisher.forget()  # a question's confirm still on its way must not count for this batch
            try:
                for index, message in enumerate(batch):
                    if index not in done:
                        publisher.publish(self.routes.exchange, message.routing_key, message, token=index)
                publisher.settle()
            finally:
                # what was confirmed before a connection broke is not sent again; the rest is
                done.update(publisher.confirmed)

        self.with_reconnect(send_unconfirmed, "publish")

    def send_to_queue(self, queue: str, message: Message, headers: dict | None = None, *,
                      mandatory: bool = True) -> None:
        """Publish straight to ``queue`` through the default exchange, and wait for the confirm.

        The topic routing key travels in a header, since the default exchange replaces it.
        """
        publisher = self.publisher
        publisher.forget()
        publisher.publish("", queue, message, {ROUTING_KEY_HEADER: message.routing_key, **(headers or {})},
                          mandatory=mandatory)
        publisher.settle()

    # -- consuming ------------------------------------------------------------------------------

    def consume(self, queue: str, handler: Handler, *, prefetch: int = 64, max_messages: int | None = None,
                idle_timeout: float | None = None, stop: threading.Event | None = None) -> int:
        consumer = AmqpConsumer(self, queue, handler, prefetch=prefetch)
        return consumer.run(max_messages=max_messages, idle_timeout=idle_timeout, stop=stop)

    # -- request / reply ------------------------------------------------------------------------

    def request(self, message: Message, *, timeout: float) -> Message:
        sent = Message(message.body, message.routing_key, message.message_id,
                       message.correlation_id or message.message_id, DIRECT_REPLY_TO, message.headers,
                       message.content_type)
        self._drop_if_closed()
        self.with_reconnect(lambda: self._requesting().send(self.routes.exchange, sent), "request")
        try:
            answer = self._requester.answer(sent, timeout)
        except self.connection_errors as exc:
            self.drop_connection()
            raise BrokerUnavailableError(f"connection lost while waiting for the reply: {exc!r}",
                                         message_id=message.message_id) from exc
        if answer is None:
            raise ReplyTimeoutError(f"no reply within {timeout}s", message_id=message.message_id)
        return answer

    def _drop_if_closed(self) -> None:
        """Forget a connection the broker closed while nobody drove its I/O, before a question goes out on it.

        pika sends and checks heartbeats only while the connection's I/O runs, so
        a gateway thread's connection left unused for a few heartbeat intervals
        is closed by the broker; the question would go to the dead socket and the
        check fail while waiting for its answer. One round of I/O without waiting
        (~40 µs) tells, and a new connection is opened at once.
        """
        publisher = self._publisher
        if publisher is None:
            return
        try:
            publisher.poll()
        except self.connection_errors:
            self.drop_connection()

    def _requesting(self) -> Requester:
        publisher = self.publisher
        if self._requester is None or self._requester.publisher is not publisher:
            self._requester = Requester(publisher)
        return self._requester

    def reply(self, request: Delivery, message: Message) -> None:
        target = request.message.reply_to
        if not target:
            raise PublishError("request has no reply_to", message_id=request.message.message_id)
        answer = Message(message.body, message.routing_key, message.message_id,
                         request.message.correlation_id or request.message.message_id,
                         None, message.headers, message.content_type)
        if target.startswith(DIRECT_REPLY_TO):
            self.with_reconnect(lambda: direct_reply(self._replying(), target, answer), "reply")
            return
        try:
            self.with_reconnect(lambda: self.send_to_queue(target, answer), "reply")
        except PublishError as exc:
            raise ReplyUndeliverableError(f"requester gone, reply not delivered: {exc.reason}",
                                          message_id=request.message.message_id) from exc

    def _replying(self):
        if self._reply_channel is None:
            self._reply_channel = self.connection.channel()
        return self._reply_channel

    # -- operations -----------------------------------------------------------------------------

    def queue_stats(self) -> list[QueueStats]:
        return self.with_reconnect(self._stats, "queue stats")

    def _stats(self) -> list[QueueStats]:
        stats, depths = [], amqp_topology.QueueDepths(self.connection)
        try:
            for route in self.routes.queues:
                work, dlq = depths.of(route.name), depths.of(amqp_topology.dead_letter_queue(route.name))
                if work is not None:
                    stats.append(QueueStats(route.name, work[0], None, work[1], dlq[0] if dlq else 0))
        finally:
            depths.close()
        return stats

    def _dlqs(self, queue: str | None) -> list[str]:
        names = [queue] if queue is not None else [q.name for q in self.routes.queues]
        return [amqp_topology.dead_letter_queue(name) for name in names]

    def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        return self.with_reconnect(lambda: amqp_deadletters.peek(self.connection, self._dlqs(queue), limit),
                                   "dead letters")

    def replay(self, dead_letter_id: str) -> None:
        def put_back(letter: DeadLetter) -> None:
            self.send_to_queue(letter.queue, letter.message, {ATTEMPT_HEADER: 1})

        self.with_reconnect(lambda: amqp_deadletters.take(self.connection, self._dlqs(None), dead_letter_id,
                                                          put_back), "replay")

    def discard(self, dead_letter_id: str) -> None:
        self.with_reconnect(lambda: amqp_deadletters.take(self.connection, self._dlqs(None), dead_letter_id,
                                                          lambda _letter: None), "discard")

    def move_dead_letters(self, keep: Callable[[list[DeadLetter]], None], limit: int = 500) -> int:
        return self.with_reconnect(
            lambda: amqp_deadletters.move(self.connection, self._dlqs(None), keep, limit), "move dead letters")

    def requeue(self, queue: str, message: Message) -> None:
        self.with_reconnect(lambda: self.send_to_queue(queue, message, {ATTEMPT_HEADER: 1}), "requeue")

    def idle(self, seconds: float, stop: threading.Event) -> None:
        # pika answers heartbeats only while a connection does I/O: a relay that sleeps
        # through a quiet minute has its connections closed by the broker otherwise.
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            publisher, blocking = self._publisher, self._connection if self.connected else None
            if publisher is None and blocking is None:
                stop.wait(left)
                return
            # slices of half a second: a stop is seen soon, and the relay's usual pause is one slice
            slice_ = min(left, 0.5)
            try:
                if publisher is not None:
                    publisher.wait_until(lambda: False, time.monotonic() + slice_)
                if blocking is not None:
                    blocking.sleep(0 if publisher is not None else slice_)
            except self.connection_errors:
                self.drop_connection()  # reopened by the next piece of work

    def close(self) -> None:
        if not self._closed:
            self.drop_connection()
            self._closed = True


