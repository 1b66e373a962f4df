"""RabbitMQ topology for a ``Routes``: exchange, work queues, delay tiers, DLQs.

    rabt.canonical (topic) ──<dest>.#──▶ <queue>            quorum, work
    failure, attempt n  ──default exch.──▶ <queue>.delay.<ms>  quorum, x-message-ttl,
                                            dead-letters back to <queue> (at-least-once)
    failure, last attempt ─default exch.─▶ <queue>.dlq        quorum, kept until replayed

Retries deliberately do not use quorum ``x-delivery-limit``: from RabbitMQ 4.3
a nack with requeue no longer counts towards it, and a tight requeue loop has
no delay. An explicit copy with ``x-rabt-attempt`` works the same on 3.10 and 4.x.
"""

from __future__ import annotations

import pika.exceptions as px
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from hub.routing import Routes

QUORUM = {"x-queue-type": "quorum"}


def delay_queue(queue: str, seconds: float) -> str:
    """Name of the delay tier of ``queue`` that holds messages ``seconds`` long."""
    return f"{queue}.delay.{_ms(seconds)}ms"


def dead_letter_queue(queue: str) -> str:
    """Name of the dead-letter queue of ``queue``."""
    return f"{queue}.dlq"


class QueueDepths:
    """Passive declares of many queues on one channel: their messages and consumers.

    The console counts every queue and DLQ every few seconds; a channel opened
    and closed for each was two broker round trips more per queue. The broker
    closes the channel on a queue that does not exist, so the next one opens
    a new channel. ``close()`` when done.
    """

    def __init__(self, connection: BlockingConnection) -> None:
        self._connection, self._channel = connection, None

    def of(self, queue: str) -> tuple[int, int] | None:
        """``(messages, consumers)`` of ``queue``, None when it does not exist."""
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
        try:
            ok = self._channel.queue_declare(queue, passive=True).method
        except px.ChannelClosedByBroker:
            return None
        return ok.message_count, ok.consumer_count

    def close(self) -> None:
        if self._channel is not None and self._channel.is_open:
            self._channel.close()


def _ms(seconds: float) -> int:
    return max(int(round(seconds * 1000)), 1)


def declare(channel: BlockingChannel, routes: Routes) -> None:
    """Declare everything ``routes`` needs; idempotent, as declares are."""
    channel.exchange_declare(routes.exchange, exchange_type="topic", durable=True)
    for route in routes.queues:
        channel.queue_declare(route.name, durable=True, arguments=QUORUM)
        channel.queue_bind(route.name, routes.exchange, routing_key=route.binding)
        channel.queue_declare(dead_letter_queue(route.name), durable=True, arguments=QUORUM)
        for seconds in sorted(set(routes.retry_delays)):
            channel.queue_declare(delay_queue(route.name, seconds), durable=True, arguments=QUORUM | {
                "x-message-ttl": _ms(seconds),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": route.name,
                # at-least-once dead-lettering needs reject-publish: never lose a delayed retry
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            })


def delete(channel: BlockingChannel, routes: Routes) -> None:
    """Remove everything ``declare`` made (test runs clean up their prefix)."""
    for route in routes.queues:
        names = [route.name, dead_letter_queue(route.name)]
        names += [delay_queue(route.name, s) for s in sorted(set(routes.retry_delays))]
        for name in names:
            channel.queue_delete(name)
    channel.exchange_delete(routes.exchange)
