"""The connections of one thread's AMQP transport: opened on first use, recovered with backoff.

Each thread's transport (pika's connections are not thread-safe) holds up to two:

* a ``BlockingConnection`` for consuming, acking, declaring and reading queues
  (:attr:`AmqpConnections.connection`, :attr:`~AmqpConnections.channel`); and
* a publishing connection (:class:`~hub.transports.amqp_publisher.ConfirmingPublisher`)
  for publishes with pipelined confirms and for request/reply.

A thread opens only what its work uses: a transport of the gateway's request
pool (:mod:`hub.transports.request_pool`) holds one publishing connection, a
relay one of each. Work runs through
:meth:`AmqpConnections.with_reconnect`: a connection error drops both (their
deliveries can no longer be acked or confirmed), and the work is run again on
new ones with exponential backoff for ``reconnect_timeout`` seconds, then
BrokerUnavailableError.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pika
import pika.exceptions as px
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from hub.errors import BrokerUnavailableError, TransportError
from hub.outage import Watch
from hub.redact import redact_url
from hub.transports import amqp_errors
from hub.transports.amqp_publisher import ConfirmingPublisher

log = logging.getLogger("hub.transports.amqp")  # the name operators filter the transport's lines by

CONNECTION_ERRORS = (px.AMQPConnectionError, px.ConnectionWrongStateError, px.ChannelWrongStateError,
                     ConnectionError)
"""What pika (or the socket under it) raises when a connection is lost: retried on a new connection."""

_BROKER_STATES: dict[str, Watch] = {}
_BROKER_STATES_LOCK = threading.Lock()


def _broker_state(shown_url: str) -> Watch:
    """The one watch of this process on the broker at ``shown_url`` (a part's: no role, see hub.outage)."""
    with _BROKER_STATES_LOCK:
        if shown_url not in _BROKER_STATES:
            _BROKER_STATES[shown_url] = Watch(None, f"broker {shown_url}", logger=log)
        return _BROKER_STATES[shown_url]


class AmqpConnections:
    """One thread's connections to one broker, and the recovery every piece of work goes through."""

    connection_errors = CONNECTION_ERRORS

    def __init__(self, url: str, *, window: int, confirm_timeout: float, reconnect_timeout: float,
                 connection_name: str) -> None:
        try:
            self._params = pika.URLParameters(url)
        except (ValueError, TypeError) as exc:
            raise TransportError(f"bad broker URL: {exc}") from exc
        self._params.client_properties = {"connection_name": connection_name}
        self.window, self.confirm_timeout, self.reconnect_timeout = window, confirm_timeout, reconnect_timeout
        self._connection: pika.BlockingConnection | None = None
        self._channel = self._publisher = self._requester = self._reply_channel = None
        # bumps whenever the blocking connection is opened or dropped: its delivery tags die with it
        self.generation = 0
        self._closed = False
        self._retrying: Retrying | None = None
        # one line when the broker goes away and one when it is back, not one per reconnect attempt
        # nor one per connection: the threads of a process share what they report of one broker
        self.broker_state = _broker_state(redact_url(url))

    def _connect(self) -> None:
        """Open the blocking connection (consumes, topology, answers to direct reply-to) if it is not open."""
        if self._closed:
            raise TransportError("amqp transport is closed")
        if self._connection is not None and self._connection.is_open:
            return
        self._drop_blocking()  # a connection the broker closed: the publishing one may still be good
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
        self._drop_publisher()
        self._drop_blocking()

    def _drop_blocking(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._reply_channel = None
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

    def with_reconnect(self, work: Callable[[], object], what: str, *, retry: bool = True):
        """Run ``work`` on an open connection, reconnecting with backoff on connection errors (unless not ``retry``)."""
        try:
            result = self._run(work, retry)
            self.broker_state.succeeded()
            return result
        except self.connection_errors as exc:
            waited = f" for {self.reconnect_timeout:g}s" if retry else ""
            raise BrokerUnavailableError(f"{what}: broker unreachable{waited}: "
                                         f"{amqp_errors.connection_problem(exc)}") from exc
        except OSError as exc:  # the host name does not resolve, no route: an outage to wait out, too
            if self.connected or (self._publisher is not None and self._publisher.is_open):
                raise  # not the broker: the work itself failed (its own file, its own disk)
            self.drop_connection()
            raise BrokerUnavailableError(f"{what}: broker {self._params.host} unreachable: {exc}") from exc
        except px.ChannelClosedByBroker as exc:
            self.drop_connection()  # the main channel is gone with it
            raise TransportError(f"{what}: broker refused: {exc.reply_code} {exc.reply_text}") from exc
        except px.AMQPError as exc:
            self.drop_connection()
            raise TransportError(f"{what}: {exc!r}") from exc

    def _run(self, work: Callable[[], object], retry: bool = True):
        """``work()`` (which opens the connection it uses); after a connection error, again with backoff if ``retry``."""
        # The first attempt without tenacity, whose bookkeeping cost every visa check's question and
        # answer more than the publish itself. A connection error is told and the connections dropped,
        # as after the retrying path's own first attempt; that path then runs ``work`` again.
        try:
            return work()
        except self.connection_errors as exc:
            self._failed(exc)
            if not retry:
                raise
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
        """The blocking connection's channel: consumes, acks, declares."""
        self._connect()
        return self._channel

    @property
    def publisher(self) -> ConfirmingPublisher:
        """The confirming publisher on the publishing connection."""
        return self._publishing()

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
