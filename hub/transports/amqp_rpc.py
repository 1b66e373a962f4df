"""Request/reply on RabbitMQ through direct reply-to, with no broker round trip in series with the answer.

A question goes out on a channel of its own that also consumes the
``amq.rabbitmq.reply-to`` pseudo-queue, so its answer comes back there. The
channel is in confirm mode and the question is mandatory, but the asker does
not wait for the confirm *before* waiting for the answer: it waits for
whichever comes first — the answer, a nack, or a return (unroutable) — so a
question the broker refused is still told at once, while the confirm of a
question that reached its queue (for a quorum queue, sent once its replicas
have it on disk) no longer adds a round trip to every answer. The answer
itself proves delivery; a question lost in between times out like one never
answered, and the asker records it as given up either way.

An answer to a direct reply-to address is published without confirm: the
pseudo-queue keeps nothing, so a confirm would say only that the broker took
it, at the price of a round trip before the request's delivery is acked.
"""

from __future__ import annotations

import time

from pika.adapters.blocking_connection import BlockingConnection

from hub.errors import PublishError
from hub.transports.amqp_publisher import ConfirmingPublisher, message_from, properties_for
from hub.transports.base import ROUTING_KEY_HEADER, Message

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
#: longest single wait for I/O while an answer is awaited: the deadline is checked this often
_POLL = 0.1


class Requester:
    """One connection's request channel: sends questions and waits for their answers (one at a time)."""

    def __init__(self, connection: BlockingConnection, *, confirm_timeout: float) -> None:
        self._connection = connection
        self._channel = connection.channel()
        self._replies: dict[str, Message] = {}
        self._channel.basic_consume(DIRECT_REPLY_TO, self._on_reply, auto_ack=True)
        self._publisher = ConfirmingPublisher(connection, self._channel, confirm_timeout=confirm_timeout)

    def _on_reply(self, _channel, method, properties, body) -> None:
        self._replies[properties.correlation_id or ""] = message_from(method, properties, body)

    def send(self, exchange: str, message: Message) -> None:
        """Publish ``message`` (its ``reply_to`` the direct reply-to address); its answer is awaited by :meth:`answer`."""
        self._replies.clear()  # late answers to questions that already timed out
        self._publisher.forget()
        self._publisher.publish(exchange, message.routing_key, message)

    def answer(self, message: Message, timeout: float) -> Message | None:
        """The answer correlated with ``message``, None after ``timeout``; PublishError if the broker refused it."""
        correlation_id, deadline = message.correlation_id or message.message_id, time.monotonic() + timeout
        while correlation_id not in self._replies:
            refused = self._publisher.failure(message.message_id)
            if refused is not None:
                raise PublishError(f"question not delivered: {refused}", message_id=message.message_id)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._connection.process_data_events(time_limit=min(left, _POLL))
        return self._replies.pop(correlation_id)


def direct_reply(channel, target: str, message: Message) -> None:
    """Publish ``message`` to the direct reply-to address ``target`` on a channel without confirms."""
    # not mandatory: RabbitMQ 3.10 returns a mandatory publish to a direct reply-to address even when it
    # delivered it (an asker that gave up loses nothing: it already raised ReplyTimeoutError)
    channel.basic_publish("", target, message.body, properties_for(message, {ROUTING_KEY_HEADER: message.routing_key}))
