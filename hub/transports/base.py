"""The transport port: one small interface every broker implementation passes.

A transport publishes canonical messages to the topic exchange, hands each
delivery to a handler, and decides from the handler's outcome alone what
happens next:

    handler returns                         → ack
    RabtError(recoverable=True) or one of
      ``connection_errors``                  → delayed retry, attempt + 1,
                                              dead letter after max_attempts
    anything else                           → dead letter at once

The interface has two halves: :class:`MessagePath` (publish, consume,
request, reply, close) and :class:`Administration` (declare, undeclare,
depths, dead letters, replay, discard); what a transport can do beyond them
is declared on its class as :class:`Capabilities`.

Implementations: ``hub.transports.amqp`` (RabbitMQ) and
``hub.transports.sqlite`` (embedded). Both pass ``tests/contract``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hub.errors import InputError, PublishError, RabtError
from hub.routing import Routes

#: header carrying the delivery attempt (1 on the first delivery)
ATTEMPT_HEADER = "x-rabt-attempt"
#: headers a dead letter or a retried copy carries about the last failure
REASON_HEADER = "x-rabt-reason"
CODE_HEADER = "x-rabt-code"
QUEUE_HEADER = "x-rabt-original-queue"
DEAD_AT_HEADER = "x-rabt-dead-lettered-at"
DEAD_ID_HEADER = "x-rabt-dead-letter-id"
#: the topic routing key, kept when a copy travels through delay or dead-letter queues
ROUTING_KEY_HEADER = "x-rabt-routing-key"
#: every header the transport owns; stripped before a message reaches a handler
TRANSPORT_HEADERS = frozenset({ATTEMPT_HEADER, REASON_HEADER, CODE_HEADER, QUEUE_HEADER, DEAD_AT_HEADER, DEAD_ID_HEADER,
                               ROUTING_KEY_HEADER})


@dataclass(frozen=True)
class Message:
    """One message as published: opaque body plus routing and correlation data."""

    body: bytes
    routing_key: str  # f"{destination}.{message_type}.{source_agency}"
    message_id: str
    correlation_id: str | None = None
    reply_to: str | None = None
    headers: Mapping[str, str | int] = field(default_factory=dict)
    content_type: str = "application/xml"


@dataclass(frozen=True)
class Delivery:
    """A message handed to a handler, with where and how often it came."""

    message: Message
    queue: str
    attempt: int  # 1 on first delivery, +1 per delayed retry
    redelivered: bool  # broker-level redelivery (crash before ack)
    #: The transport calls the handler's ``settle()`` before it acks this delivery, and redelivers it when
    #: ``settle()`` raises: the handler may return before its change is durable (a handler without ``settle``
    #: never gets True). False: the delivery is acked once the handler returns.
    ack_after_settle: bool = False


@dataclass(frozen=True)
class QueueStats:
    """Depth of one work queue; ``unacked`` is None when the broker cannot tell."""

    name: str
    ready: int
    unacked: int | None
    consumers: int
    dead_letters: int


@dataclass(frozen=True)
class DeadLetter:
    """A message that will not be retried any more, with why."""

    id: str
    queue: str
    message_id: str
    reason: str
    code: str
    attempts: int
    dead_lettered_at: float  # unix time
    message: Message


class DeadLetterNotFoundError(InputError):
    """No dead letter has this id (already replayed or discarded?)."""

    code = "dead-letter-not-found"


class ReplyUndeliverableError(PublishError):
    """The requester is gone (its reply queue no longer exists): retrying cannot help."""

    code = "reply-undeliverable"
    recoverable = False


@dataclass(frozen=True)
class Failure:
    """What a handler's exception means for its delivery."""

    retry: bool
    reason: str
    code: str


def classify(exc: BaseException, connection_errors: tuple[type[BaseException], ...]) -> Failure:
    """Retry recoverable hub errors and connection errors; dead-letter the rest."""
    if isinstance(exc, RabtError):
        return Failure(exc.recoverable, str(exc), exc.code)
    retry = isinstance(exc, connection_errors + (ConnectionError, TimeoutError))
    return Failure(retry, str(exc) or type(exc).__name__, type(exc).__name__)


def user_headers(headers: Mapping[str, object] | None) -> dict[str, str | int]:
    """Headers a handler sees: str/int values only, transport and broker ones removed."""
    clean: dict[str, str | int] = {}
    for key, value in (headers or {}).items():
        if key in TRANSPORT_HEADERS or key.startswith("x-death") or key.startswith("x-first-death"):
            continue
        if key.startswith("x-last-death") or key == "x-delivery-count":
            continue
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        clean[key] = value if isinstance(value, (int, str)) else str(value)
    return clean


#: A transport handler. One with a ``settle()`` method as well may be handed deliveries whose ack waits for it
#: (:attr:`Delivery.ack_after_settle`; RabbitMQ's consume loop does, which holds its acks anyway).
Handler = Callable[[Delivery], None]


@dataclass(frozen=True)
class Capabilities:
    """What a transport can do beyond the interface, declared on its class.

    Callers ask these instead of testing the URL scheme, so a third transport
    declares its own and nobody else changes.
    """

    #: the constructor takes ``reconnect_timeout`` (seconds to keep retrying a lost connection)
    reconnect_timeout: bool = False
    #: the constructor takes ``connection_name`` (shown by the broker's own tools)
    connection_name: bool = False
    #: the topology lives on a server other processes share: tests and benchmarks need a queue
    #: prefix of their own and ``undeclare`` afterwards (a file of one's own needs neither)
    shared_server: bool = False
    #: the broker has an HTTP management API with rates and unacked counts
    management_api: bool = False
    #: opening for questions is slow and an idle connection dies unless its I/O is driven (heartbeats): a
    #: long-lived asker (the gateway) keeps its transports in a :class:`~hub.transports.request_pool.RequestPool`
    request_pool: bool = False


class MessagePath(ABC):
    """The message path: publish, consume with retry and dead letters, request/reply.

    A context manager; ``close()`` may be called more than once. One instance
    is used by one thread at a time.
    """

    #: library exceptions meaning "the connection broke": retried, never dead-lettered
    connection_errors: tuple[type[BaseException], ...] = ()
    #: what this transport can do beyond the interface
    capabilities: Capabilities = Capabilities()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @abstractmethod
    def publish(self, messages: Iterable[Message]) -> None:
        """Publish durably; PublishError names every message not confirmed or unroutable."""

    @abstractmethod
    def consume(
        self,
        queue: str,
        handler: Handler,
        *,
        prefetch: int = 64,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Hand deliveries to ``handler`` until a limit is met; return how many were handled."""

    @abstractmethod
    def request(self, message: Message, *, timeout: float) -> Message:
        """Publish ``message`` and wait for the reply with its correlation id.

        One question at a time per transport: a late reply to an earlier question
        is dropped when the next is sent or answered, so concurrent askers each
        keep a transport of their own (the gateway checks one out of its pool per question).
        """

    @abstractmethod
    def reply(self, request: Delivery, message: Message) -> None:
        """Send ``message`` back to the requester of ``request``."""

    def connect(self) -> None:
        """Open the connection now if it is not open; BrokerUnavailableError when the broker cannot be reached.

        Other methods connect on first use; a loop that waits out an outage
        calls this to learn that the broker is back before any work arrives.
        """

    def prepare_requests(self) -> None:
        """Open now, in one try, what :meth:`request` uses, so that a question waits for no open.

        BrokerUnavailableError when the broker cannot be reached; the caller tries again later.
        """

    def keep_alive(self) -> bool:
        """Drive the connections :meth:`request` uses once, without waiting (heartbeats, a close from the broker).

        Whether a question could go out now without opening anything.
        """
        return True

    def idle(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds`` (less if ``stop`` is set) between rounds of work, keeping connections alive."""
        stop.wait(seconds)

    @abstractmethod
    def close(self) -> None:
        """Release connections; safe to call twice."""


class Administration(ABC):
    """Topology and operations: declare and remove queues, depths, dead letters, replay, discard."""

    @abstractmethod
    def declare(self, routes: Routes) -> None:
        """Create the exchange, queues, delay tiers and dead-letter queues (idempotent)."""

    @abstractmethod
    def undeclare(self, routes: Routes) -> None:
        """Remove the queues of ``routes`` with their messages and dead letters (clean-up)."""

    @abstractmethod
    def queue_stats(self) -> list[QueueStats]:
        """Depth, consumers and dead letters of every declared work queue."""

    @abstractmethod
    def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters (of one queue, or all), without removing them."""

    @abstractmethod
    def replay(self, dead_letter_id: str) -> None:
        """Put a dead letter back on its queue with attempt 1, and remove it."""

    @abstractmethod
    def discard(self, dead_letter_id: str) -> None:
        """Remove a dead letter for good."""

    @abstractmethod
    def move_dead_letters(self, keep: Callable[[list[DeadLetter]], None], limit: int = 500) -> int:
        """Hand up to ``limit`` dead letters to ``keep``, then remove them from the broker; how many.

        ``keep`` stores them elsewhere (the hub's database) before they are
        removed: if it raises, they stay where they were. A crash between the
        two hands the same letters (same ids) to the next call, so ``keep``
        must ignore ids it holds already.
        """

    @abstractmethod
    def requeue(self, queue: str, message: Message) -> None:
        """Put ``message`` on the work queue ``queue`` as a first attempt (a replayed dead letter)."""


class Transport(MessagePath, Administration):
    """Both halves, as one connection: what every implementation provides.

    Code that only moves messages should depend on :class:`MessagePath`, code
    that only operates queues on :class:`Administration`.
    """

    def __enter__(self) -> Transport:
        return self
