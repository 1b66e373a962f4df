"""Pipelined publisher confirms on one pika channel, and Message ↔ AMQP properties.

pika's ``BlockingChannel.confirm_delivery`` makes every ``basic_publish`` wait
for its own confirm: one broker round trip per message, an order of magnitude
slower than the broker allows. So this class puts the channel's underlying
``pika.channel.Channel`` (``_impl``, the same object BlockingChannel drives)
in confirm mode itself, publishes a window of messages, and then lets the
blocking connection's I/O loop run until the acks, nacks and returns for the
whole window are in. Every message ends confirmed, nacked, returned
(unroutable) or unconfirmed — and the last three are reported, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from hub.errors import PublishError
from hub.transports.base import ATTEMPT_HEADER, ROUTING_KEY_HEADER, Message, user_headers

PERSISTENT = 2
_FLUSH_EVERY = 256


def properties_for(message: Message, extra_headers: dict | None = None) -> pika.BasicProperties:
    """Persistent AMQP properties carrying the message's ids and headers."""
    headers = {**message.headers, **extra_headers} if extra_headers else dict(message.headers)
    return pika.BasicProperties(
        delivery_mode=PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        content_type=message.content_type,
        headers=headers or None,  # an empty table still costs encoding on every message
    )


def message_from(method, properties: pika.BasicProperties, body: bytes) -> Message:
    """Rebuild the published Message from what the broker delivered."""
    headers = properties.headers or {}
    key = headers.get(ROUTING_KEY_HEADER, method.routing_key)
    return Message(
        body=bytes(body),
        routing_key=key.decode() if isinstance(key, bytes) else str(key),
        message_id=properties.message_id or "",
        correlation_id=properties.correlation_id,
        reply_to=properties.reply_to,
        headers=user_headers(headers),
        content_type=properties.content_type or "application/xml",
    )


def attempt_of(properties: pika.BasicProperties) -> int:
    """The x-rabt-attempt header, 1 when absent or unreadable."""
    try:
        return max(int((properties.headers or {}).get(ATTEMPT_HEADER, 1)), 1)
    except (TypeError, ValueError):
        return 1


class ConfirmingPublisher:
    """Publishes with mandatory + confirms, ``window`` messages in flight at most."""

    def __init__(self, connection: BlockingConnection, channel: BlockingChannel, *, window: int = 512,
                 confirm_timeout: float = 30.0) -> None:
        self._connection, self._channel, self._impl = connection, channel, channel._impl
        self.window, self.confirm_timeout = window, confirm_timeout
        self._tag = 0
        self._pending: dict[int, tuple[int, str]] = {}  # delivery tag -> (token, message id)
        self.confirmed: set[int] = set()  # tokens the broker confirmed since the last settle
        self._returned: set[str] = set()
        self._failed: dict[str, str] = {}
        selected: list[bool] = []
        self._impl.add_on_return_callback(self._on_return)
        self._impl.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _frame: selected.append(True))
        self._wait(lambda: bool(selected), time.monotonic() + confirm_timeout)

    def _on_return(self, _channel, _method, properties, _body) -> None:
        # with mandatory + confirms the broker sends basic.return before the basic.ack
        self._returned.add(properties.message_id or "")

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        nacked = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            token, message_id = self._pending.pop(tag, (None, ""))
            if token is None:
                continue
            if nacked:
                self._failed[message_id] = "nacked by the broker"
            elif message_id in self._returned:
                self._failed[message_id] = "unroutable"
            else:
                self.confirmed.add(token)

    def _wait(self, done, deadline: float) -> None:
        """Run the connection's I/O until ``done()`` or the deadline."""
        if done():
            return
        timer = self._connection.call_later(max(deadline - time.monotonic(), 0), lambda: None)
        try:
            # private, but it is exactly "do I/O until this predicate holds", without dispatching
            # consumer callbacks re-entrantly the way process_data_events would
            self._channel._flush_output(lambda: done() or time.monotonic() >= deadline)
        finally:
            self._connection.remove_timeout(timer)

    def publish(self, exchange: str, routing_key: str, message: Message, extra_headers: dict | None = None,
                token: int = 0, mandatory: bool = True) -> None:
        """Send one message; waits only when the window is full. ``token`` lands in ``confirmed``."""
        if len(self._pending) >= self.window:
            self._wait(lambda: len(self._pending) < self.window, time.monotonic() + self.confirm_timeout)
        self._impl.basic_publish(exchange, routing_key, message.body, properties_for(message, extra_headers),
                                 mandatory=mandatory)
        self._tag += 1
        self._pending[self._tag] = (token, message.message_id)
        if self._tag % _FLUSH_EVERY == 0:
            # hand what is buffered to the socket now, so the broker works while we encode the next ones
            self._channel._flush_output()

    def failure(self, message_id: str) -> str | None:
        """Why the broker refused ``message_id`` (nacked, unroutable), as far as its confirm has come; else None."""
        return self._failed.get(message_id)

    def forget(self) -> None:
        """Drop what earlier publishes left unsettled (their late confirms are then ignored)."""
        self._pending.clear()
        self._failed.clear()
        self._returned.clear()
        self.confirmed.clear()

    def settle(self, ids: Sequence[str] = ()) -> None:
        """Wait for every outstanding confirm; PublishError names each message not delivered."""
        self._wait(lambda: not self._pending, time.monotonic() + self.confirm_timeout)
        failed = dict(self._failed) | {mid: "not confirmed in time" for _token, mid in self._pending.values()}
        self.forget()
        if failed:
            detail = "; ".join(f"{mid}: {why}" for mid, why in sorted(failed.items()))
            raise PublishError(f"{len(failed)} message(s) not delivered: {detail}", failed_ids=sorted(failed),
                               message_id=next(iter(failed)) if len(failed) == 1 else None)
