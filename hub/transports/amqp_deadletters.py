"""Dead letters on RabbitMQ: moved into the hub's database, or listed, replayed and discarded in place.

The hub does not leave dead letters on the broker to be looked at: :func:`move`
takes them off the DLQs (``basic_get``, stored by the caller, then acked), so
the console lists, replays and discards them from its own database
(:mod:`hub.deadletters`) and looking at one never counts as a delivery. On
RabbitMQ 4.x quorum queues every get-and-requeue counts towards the delivery
limit (20 by default): a letter peeked at twenty times would be dropped.

The in-place operations below remain the transport contract's (for a broker
used without the hub's database): :func:`peek` gets without
ack on a private channel, then one ``basic.nack(multiple, requeue)`` puts
every peeked message back; a process dying mid-listing requeues them the same
way. Each such look is a delivery on 4.x: the hub itself no longer lists so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pika.exceptions as px
from pika.adapters.blocking_connection import BlockingConnection

from hub.transports.amqp_publisher import attempt_of, message_from
from hub.transports.base import (
    CODE_HEADER,
    DEAD_AT_HEADER,
    DEAD_ID_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    DeadLetter,
    DeadLetterNotFoundError,
)


def _text(value, default: str = "") -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def to_dead_letter(method, properties, body: bytes, dlq: str) -> DeadLetter:
    """A DeadLetter from a message read off ``dlq``."""
    headers = properties.headers or {}
    message = message_from(method, properties, body)
    try:
        when = float(_text(headers.get(DEAD_AT_HEADER), "0"))
    except ValueError:
        when = 0.0
    return DeadLetter(
        id=_text(headers.get(DEAD_ID_HEADER), f"{dlq}:{message.message_id}"),
        queue=_text(headers.get(QUEUE_HEADER), dlq.removesuffix(".dlq")),
        message_id=message.message_id,
        reason=_text(headers.get(REASON_HEADER)),
        code=_text(headers.get(CODE_HEADER)),
        attempts=attempt_of(properties),
        dead_lettered_at=when,
        message=message,
    )


def peek(connection: BlockingConnection, dlqs: Iterable[str], limit: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters from ``dlqs``, all left in place."""
    found: list[DeadLetter] = []
    channel = connection.channel()
    try:
        for dlq in dlqs:
            while len(found) < limit:
                method, properties, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                found.append(to_dead_letter(method, properties, body, dlq))
        channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    finally:
        if channel.is_open:
            channel.close()
    return found


def move(connection: BlockingConnection, dlqs: Iterable[str], keep: Callable[[list[DeadLetter]], None],
         limit: int) -> int:
    """Take up to ``limit`` dead letters off ``dlqs``, hand them to ``keep``, then ack them; how many.

    One channel for every DLQ: the relay looks every few seconds, mostly to
    find them empty, and a channel opened and closed per DLQ was two broker
    round trips more per queue each time. A DLQ nobody declared yet is
    skipped: the broker closes the channel that got from it, and the next
    DLQ gets a new one. If ``keep`` raises, closing the channel puts that
    DLQ's letters back unacked (the ones kept before are acked already).
    """
    moved, channel = 0, None
    try:
        for dlq in dlqs:
            if moved >= limit:
                break
            if channel is None or not channel.is_open:
                channel = connection.channel()
            try:
                moved += _move_one(channel, dlq, keep, limit - moved)
            except px.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise
    finally:
        if channel is not None and channel.is_open:
            channel.close()
    return moved


def _move_one(channel, dlq: str, keep: Callable[[list[DeadLetter]], None], limit: int) -> int:
    letters, last_tag = [], None
    while len(letters) < limit:
        method, properties, body = channel.basic_get(dlq, auto_ack=False)
        if method is None:
            break
        letters.append(to_dead_letter(method, properties, body, dlq))
        last_tag = method.delivery_tag
    if letters:
        keep(letters)
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
    return len(letters)


def take(connection: BlockingConnection, dlqs: Iterable[str], dead_letter_id: str,
         action: Callable[[DeadLetter], None]) -> None:
    """Run ``action`` on the dead letter with this id, then remove it (ack).

    ``action`` runs before the ack: if it raises, the dead letter stays.
    """
    channel = connection.channel()
    try:
        for dlq in dlqs:
            while True:
                method, properties, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                letter = to_dead_letter(method, properties, body, dlq)
                if letter.id == dead_letter_id:
                    action(letter)
                    channel.basic_ack(method.delivery_tag)
                    return
        raise DeadLetterNotFoundError(f"no dead letter with id {dead_letter_id!r}")
    finally:
        if channel.is_open:
            channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
            channel.close()
