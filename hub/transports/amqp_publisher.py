"""Pipelined publisher confirms on a connection of their own, and Message ↔ AMQP properties.

pika's ``BlockingChannel.confirm_delivery`` makes every ``basic_publish`` wait
for its own confirm: one broker round trip per message, an order of magnitude
slower than the broker allows. So publishing has a connection of its own on
pika's asynchronous adapter (``SelectConnection``), whose channel takes a
confirm callback, driven from the calling thread: ``publish`` hands a frame to
the connection's buffer and returns; the waits (``settle``, a full window, an
answer awaited by :mod:`hub.transports.amqp_rpc`) run the connection's I/O
loop until the callbacks have seen what is awaited or a timer says the time is
up. Every message ends confirmed, nacked, returned (unroutable) or
unconfirmed — and the last three are reported, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pika
import pika.exceptions as px

from hub.errors import PublishError
from hub.transports import amqp_errors
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
    """A connection and channel of its own in confirm mode: mandatory publishes, ``window`` in flight at most.

    Not thread-safe (one per transport, and a transport is one thread's). A
    failure of the connection or the channel is raised, as the pika exception
    that closed it, from the wait that finds it, so the transport's reconnect
    logic treats it like any connection error.
    """

    def __init__(self, params: pika.ConnectionParameters, *, window: int = 512,
                 confirm_timeout: float = 30.0) -> None:
        self.window, self.confirm_timeout = window, confirm_timeout
        self._tag = 0
        self._pending: dict[int, tuple[int, str]] = {}  # delivery tag -> (token, message id)
        self.confirmed: set[int] = set()  # tokens the broker confirmed since the last settle
        self._returned: set[str] = set()
        self._failed: dict[str, str] = {}
        self._closed_by: BaseException | None = None
        self._time_up = False
        self.channel = None
        self._connection = pika.SelectConnection(
            params, on_open_callback=self._on_open, on_open_error_callback=self._on_open_failed,
            on_close_callback=self._on_closed)
        # polled by _drive, as pika's BlockingConnection polls its own: ioloop.start() would make a poller and
        # register the sockets anew on every wait, and its stop() a byte through the loop's wake-up socket
        self._connection.ioloop.activate_poller()
        self._selected = False
        try:
            self.wait_until(lambda: self._selected, time.monotonic() + confirm_timeout)
        except BaseException:
            self.close()
            raise
        if not self._selected:
            self.close()
            raise px.AMQPConnectionError(f"no confirm-mode channel within {confirm_timeout:g}s")

    # -- the connection's callbacks -------------------------------------------------------------

    def _on_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_selected)

    def _on_selected(self, _frame) -> None:
        self._selected = True

    def _on_open_failed(self, connection, reason) -> None:
        # pika nests the socket's reason a few exceptions deep: raised as that one line, as for a blocking connection
        self._on_closed(connection, px.AMQPConnectionError(amqp_errors.connection_problem(reason)))

    def _on_closed(self, _connection, reason) -> None:
        self._closed_by = reason if isinstance(reason, BaseException) else px.AMQPConnectionError(str(reason))

    def _on_channel_closed(self, _channel, reason) -> None:
        if self._closed_by is None:
            self._closed_by = reason

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

    # -- driving the connection ------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the connection is open and nothing closed it or its channel."""
        return self._closed_by is None and self._connection.is_open

    def wait_until(self, done: Callable[[], bool], deadline: float) -> None:
        """Run the connection's I/O until ``done()`` or the deadline; raise what closed the connection."""
        self._raise_if_closed()
        self._drive(done, deadline)
        self._raise_if_closed()

    def _drive(self, done: Callable[[], bool], deadline: float) -> None:
        """Rounds of the connection's I/O until ``done()``, the deadline, or a close of the connection or channel.

        Each round waits in the poller until a socket is ready or a timer is due
        (the deadline's among them), runs the callbacks of what came, then
        looks: callbacks need not wake anyone. Once the connection is closed
        the poller is let go (its epoll descriptor): nothing is driven after.
        """
        connection = self._connection
        if done() or connection.is_closed:
            return
        ioloop = connection.ioloop
        self._time_up = False
        timer = ioloop.call_later(max(deadline - time.monotonic(), 0.0), self._on_deadline)
        try:
            while True:
                ioloop.poll()
                ioloop.process_timeouts()
                if connection.is_closed:
                    ioloop.deactivate_poller()
                    return
                if self._time_up or self._closed_by is not None or done():
                    return
        finally:
            ioloop.remove_timeout(timer)

    def _on_deadline(self) -> None:
        self._time_up = True

    def poll(self) -> None:
        """One round of I/O without waiting: sends what is buffered, reads what came (a close, say)."""
        self.wait_until(lambda: False, time.monotonic())

    def _raise_if_closed(self) -> None:
        if self._closed_by is not None:
            raise self._closed_by

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, message: Message, extra_headers: dict | None = None,
                token: int = 0, mandatory: bool = True) -> None:
        """Send one message; waits only when the window is full. ``token`` lands in ``confirmed``."""
        if len(self._pending) >= self.window:
            self.wait_until(lambda: len(self._pending) < self.window, time.monotonic() + self.confirm_timeout)
        self._raise_if_closed()
        self.channel.basic_publish(exchange, routing_key, message.body, properties_for(message, extra_headers),
                                   mandatory=mandatory)
        self._tag += 1
        self._pending[self._tag] = (token, message.message_id)
        if self._tag % _FLUSH_EVERY == 0:
            self.poll()  # hand what is buffered to the socket now, so the broker works while we encode more

    def failure(self, message_id: str) -> str | None:
        """Why the broker refused ``message_id`` (nacked, unroutable), as far as its confirm has come; else None."""
        return self._failed.get(message_id)

    def forget(self) -> None:
        """Drop what earlier publishes left unsettled (their late confirms are then ignored)."""
        self._pending.clear()
        self._failed.clear()
        self._returned.clear()
        self.confirmed.clear()

    def settle(self) -> None:
        """Wait for every outstanding confirm; PublishError names each message not delivered."""
        self.wait_until(lambda: not self._pending, time.monotonic() + self.confirm_timeout)
        failed = dict(self._failed) | {mid: "not confirmed in time" for _token, mid in self._pending.values()}
        self.forget()
        if failed:
            detail = "; ".join(f"{mid}: {why}" for mid, why in sorted(failed.items()))
            raise PublishError(f"{len(failed)} message(s) not delivered: {detail}", failed_ids=sorted(failed),
                               message_id=next(iter(failed)) if len(failed) == 1 else None)

    def close(self, timeout: float = 2.0) -> None:
        """Close the connection, waiting a little for the broker's answer; errors of a broken one are moot."""
        connection = self._connection
        if connection.is_closed or connection.is_closing:
            return
        deadline = time.monotonic() + timeout
        try:
            connection.close()
            # the channel's close ends a round of I/O first (and sets _closed_by): go on until the connection's
            while not connection.is_closed and time.monotonic() < deadline:
                self._drive(lambda: connection.is_closed, deadline)
        except (px.AMQPError, OSError):
            pass  # already broken: nothing left to close
