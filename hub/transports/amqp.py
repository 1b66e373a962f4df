"""The ``amqp://`` transport: RabbitMQ through pika.

Durable topic exchange, quorum queues, persistent messages, mandatory
publishes with pipelined confirms (``amqp_publisher``), manual acks with
prefetch (``amqp_consumer``), delay-queue retries and DLQs
(``amqp_topology``), direct reply-to for request/reply (``amqp_rpc``). A broken connection
(broker restart, ``rabbitmqctl close_connection``; see ``amqp_connections``) is reopened with
exponential backoff for ``reconnect_timeout`` seconds, then
BrokerUnavailableError: long enough to ride out a connection reset, short
enough for a command to answer; role loops wait out longer outages themselves
(:mod:`hub.outage`). An unconfirmed publish is sent again — a duplicate is
possible, a loss is not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import pika.exceptions as px

from hub.errors import BrokerUnavailableError, PublishError, ReplyTimeoutError
from hub.routing import Routes, load_routes
from hub.transports import amqp_deadletters, amqp_errors, amqp_topology
from hub.transports.amqp_connections import CONNECTION_ERRORS, AmqpConnections
from hub.transports.amqp_consumer import AmqpConsumer
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


class AmqpTransport(AmqpConnections, Transport):
    """RabbitMQ transport; one instance per thread (pika connections are not thread-safe)."""

    connection_errors = CONNECTION_ERRORS
    capabilities = Capabilities(reconnect_timeout=True, connection_name=True, shared_server=True,
                                management_api=True, request_pool=True)

    def __init__(self, url: str, *, routes: Routes | None = None, window: int = 1024,
                 confirm_timeout: float = 30.0, reconnect_timeout: float = 10.0,
                 connection_name: str = "rabt") -> None:
        super().__init__(url, window=window, confirm_timeout=confirm_timeout, reconnect_timeout=reconnect_timeout,
                         connection_name=connection_name)
        self.routes = routes or load_routes()

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
        self.publisher.publish("", queue, message, {ROUTING_KEY_HEADER: message.routing_key, **(headers or {})},
                               mandatory=mandatory)
        self.publisher.settle()

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
        self.with_reconnect(lambda: self._ask(sent), "request")
        try:
            answer = self._requester.answer(sent, timeout)
        except self.connection_errors as exc:
            self.drop_connection()
            raise BrokerUnavailableError(f"connection lost while waiting for the reply: {exc!r}",
                                         message_id=message.message_id) from exc
        if answer is None:
            raise ReplyTimeoutError(f"no reply within {timeout}s", message_id=message.message_id)
        return answer

    def prepare_requests(self) -> None:
        """Open the publishing connection and its direct reply-to consumer now, in one try (a pool's keeper retries)."""
        self.with_reconnect(self._requesting, "open for questions", retry=False)

    def keep_alive(self) -> bool:
        """One round of the publishing connection's I/O without waiting: heartbeats out and in, a close seen.

        Whether a question would go out without an open: the connection open, its reply consumer on it.
        """
        self._drop_if_closed()
        publisher, requester = self._publisher, self._requester
        return (publisher is not None and requester is not None and requester.publisher is publisher
                and publisher.is_open)

    def _drop_if_closed(self) -> None:
        """Forget a connection the broker closed while nobody drove its I/O (the pool's keeper, between questions).

        pika sends and checks heartbeats only while the connection's I/O runs, so
        a connection left unused for a few heartbeat intervals is closed by the
        broker (the gateway's request pool drives its idle ones; a question's own
        round, :meth:`_ask`, sees a close the keeper has not seen yet); a
        question would go to the dead socket and the check fail while waiting for
        its answer. One round of I/O without waiting (~40 µs) tells.
        """
        publisher = self._publisher
        if publisher is None:
            return
        try:
            publisher.poll()
        except (*self.connection_errors, px.AMQPError):  # a channel the broker closed is as useless
            self.drop_connection()

    def _ask(self, question: Message) -> None:
        """Send ``question`` with one round of the publishing connection's I/O, which writes it and reads what came
        while the connection sat idle; on a connection found closed so, it is sent again on a new one.

        That round is both the look :meth:`_drop_if_closed` takes before a question
        and the round that writes it: a question took a round of each (~40 of
        pika's Python calls) before the wait for its answer. Sending again cannot
        ask twice: pika writes before it reads, but the broker discards what comes
        after its close of the connection or channel, and a dead socket takes
        nothing. As before, a connection found closed is replaced without telling
        the outage watch; the new one's failures are told (``with_reconnect``).
        """
        had_one = self._publisher is not None and self._publisher.is_open  # else the first try opens one
        try:
            self._sent(question)
        except (*self.connection_errors, px.AMQPError):  # a channel the broker closed is as useless
            if not had_one:
                raise
            self.drop_connection()
            self._sent(question)

    def _sent(self, question: Message) -> None:
        requester = self._requesting()
        requester.send(self.routes.exchange, question)
        requester.publisher.poll()

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
