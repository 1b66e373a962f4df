"""Request/reply on RabbitMQ through direct reply-to, with no broker round trip in series with the answer.

A question goes out on the transport's publishing channel
(:class:`~hub.transports.amqp_publisher.ConfirmingPublisher`), which also consumes the
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

from hub.errors import PublishError
from hub.transports.amqp_publisher import ConfirmingPublisher, message_from, properties_for
from hub.transports.base import ROUTING_KEY_HEADER, Message

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


class Requester:
    """Questions out and their answers back on the publishing connection's channel (one question at a time)."""

    def __init__(self, publisher: ConfirmingPublisher) -> None:
        self.publisher = publisher
        self._replies: dict[str, Message] = {}
        consuming: list[bool] = []
        publisher.channel.basic_consume(DIRECT_REPLY_TO, self._on_reply, auto_ack=True,
                                        callback=lambda _frame: consuming.append(True))
        publisher.wait_until(lambda: bool(consuming), time.monotonic() + publisher.confirm_timeout)
        if not consuming:
            raise PublishError(f"the broker did not open the direct reply-to consumer within "
                               f"{publisher.confirm_timeout:g}s")

    def _on_reply(self, _channel, method, properties, body) -> None:
        self._replies[properties.correlation_id or ""] = message_from(method, properties, body)

    def send(self, exchange: str, message: Message) -> None:
        """Publish ``message`` (its ``reply_to`` the direct reply-to address); its answer is awaited by :meth:`answer`."""
        self._replies.clear()  # late answers to questions that already timed out
        self.publisher.publish(exchange, message.routing_key, message)

    def answer(self, message: Message, timeout: float) -> Message | None:
        """The answer correlated with ``message``, None after ``timeout``; PublishError if the broker refused it."""
        correlation_id = message.correlation_id or message.message_id
        failure = self.publisher.failure
        try:
            self.publisher.wait_until(lambda: correlation_id in self._replies or failure(message.message_id)
                                      is not None, time.monotonic() + timeout)
            refused = failure(message.message_id)
        finally:
            # the question's confirm is not awaited: the channel is left as a publish expects it, nothing pending
            self.publisher.forget()
        if correlation_id not in self._replies and refused is not None:
            raise PublishError(f"question not delivered: {refused}", message_id=message.message_id)
        return self._replies.pop(correlation_id, None)


def direct_reply(channel, target: str, message: Message) -> None:
    """Publish ``message`` to the direct reply-to address ``target`` on a channel without confirms."""
    # not mandatory: RabbitMQ 3.10 returns a mandatory publish to a direct reply-to address even when it
    # delivered it (an asker that gave up loses nothing: it already raised ReplyTimeoutError)
    channel.basic_publish("", target, message.body, properties_for(message, {ROUTING_KEY_HEADER: message.routing_key}))
