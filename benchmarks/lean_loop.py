"""Many requests in flight from one thread: prepared requests over keep-alive connections, answers as they come.

A load generator with a thread per request in flight spends its CPU on the threads
(waking them, handing each its job, the GIL passed between them) more than on HTTP.
:class:`Exchanges` keeps up to ``limit`` keep-alive connections to one server and
drives them from the caller's thread with a selector: a request goes out in one
``send`` on an idle connection (the one idle longest, so the load spreads over all
of them, and over the server processes holding them, as a thread per connection
did), and its answer is read, as it arrives, by :class:`lean_http.AnswerReader`.
A request finding every connection busy waits for the first one free.

Every open connection stays registered with the selector, waiting to read: one
registration per connection, not one per request, and an idle connection the
server closes is seen closing and opened again when next used.

The selector is ``select(2)``'s: its timeout has microseconds where epoll's has
milliseconds, and an open-loop schedule of 200 requests a second waits on it
between sends (a millisecond late each time would be a millisecond on every
latency); the loop holds a few dozen descriptors, well within its limit.
"""

from __future__ import annotations

import selectors
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Self

from lean_http import Answer, AnswerError, AnswerReader, Connection, is_stale_close

_RECEIVE = 65536
_EXPIRY_CHECK = 1.0


@dataclass(eq=False)
class Flight:
    """One request and what became of it so far."""

    request: bytes
    done: Callable[[Flight, Answer | Exception], None]
    """Called once with the answer, or with what went wrong."""
    connection: Connection | None = None
    began: float = 0.0
    """When the request was sent (``time.perf_counter``); later than asked when every connection was busy."""
    alongside: int = 0
    """Requests in flight on this loop when it was sent, itself included."""
    sent: int = 0
    writing: bool = False
    """Registered to write the rest of the request too."""
    reused: bool = False
    retried: bool = False
    deadline: float = 0.0
    reader: AnswerReader = field(default_factory=AnswerReader)


class Exchanges:
    """Requests to one server over at most ``limit`` keep-alive connections, driven by :meth:`poll`.

    ``greet`` is called with each connection just opened, still blocking (e.g. to
    ask which server process holds it); the loop then makes it non-blocking and
    registers it until it closes.
    """

    def __init__(self, host: str, port: int, limit: int, timeout: float = 30.0,
                 greet: Callable[[Connection], None] | None = None) -> None:
        self.host, self.port, self.limit, self.timeout, self.greet = host, port, limit, timeout, greet
        self._selector = selectors.SelectSelector()
        self._idle: deque[Connection] = deque()
        self._connections = 0
        self._waiting: deque[Flight] = deque()
        self._flying: dict[Connection, Flight] = {}
        self._ended: deque[tuple[Flight, Exception]] = deque()  # failed in start(): reported by the next poll
        self._next_expiry = 0.0

    def open(self, count: int) -> None:
        """Open connections up to ``count`` (at most ``limit``) now, before any clock starts."""
        while self._connections < min(count, self.limit):
            connection = Connection(self.host, self.port, self.timeout)
            self._ready(connection)
            self._idle.append(connection)
            self._connections += 1

    def start(self, request: bytes, done: Callable[[Flight, Answer | Exception], None]) -> Flight:
        """Send ``request`` now on an idle connection (else as soon as one is free); ``done`` is called from :meth:`poll`."""
        flight = Flight(request, done)
        if self._idle or self._connections < self.limit:
            self._send(flight)
        else:
            self._waiting.append(flight)
        return flight

    def pending(self) -> int:
        """Requests started and not yet done with."""
        return len(self._flying) + len(self._waiting) + len(self._ended)

    def poll(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (None: until something happens) and handle what came."""
        if self._ended:
            timeout = 0.0
        for key, events in self._selector.select(timeout):
            flight = self._flying.get(key.data)
            if flight is None:  # an idle connection the server closed (or wrote to unasked): opened again when used
                self._drop(key.data)
                continue
            try:
                if events & selectors.EVENT_WRITE:
                    self._send_more(flight)
                if events & selectors.EVENT_READ and self._flying.get(key.data) is flight:
                    self._receive(flight)
            except (OSError, AnswerError) as exc:
                self._failed(flight, exc)
        while self._ended:
            flight, exc = self._ended.popleft()
            self._next_waiting()
            flight.done(flight, exc)
        if (now := time.perf_counter()) >= self._next_expiry:
            self._next_expiry = now + _EXPIRY_CHECK
            for flight in [f for f in self._flying.values() if f.deadline < now]:
                self._failed(flight, TimeoutError(f"no whole answer in {self.timeout:g} s"))

    def drain(self) -> None:
        """Poll until every request started is done with."""
        while self.pending():
            self.poll(_EXPIRY_CHECK)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection, idle or in flight (what is in flight is not reported)."""
        for connection in [*self._flying, *self._idle]:
            self._drop(connection)
        self._flying.clear()
        self._idle.clear()
        self._selector.close()

    def _ready(self, connection: Connection) -> None:
        """``connection`` open, greeted, non-blocking and registered."""
        if connection.sock is None:
            connection.open()
            if self.greet is not None:
                self.greet(connection)
            sock = connection.open()  # greet may have seen it closed: opened again, not greeted
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _drop(self, connection: Connection) -> None:
        """``connection`` unregistered and closed (before the close: select must never see a closed descriptor)."""
        if connection.sock is not None:
            try:
                self._selector.unregister(connection.sock)
            except KeyError:  # opened but never registered: its opening failed half-way
                pass
            connection.close()

    def _send(self, flight: Flight) -> None:
        if flight.connection is None:
            if self._idle:
                flight.connection = self._idle.popleft()
            else:
                flight.connection = Connection(self.host, self.port, self.timeout)
                self._connections += 1
        try:
            self._ready(flight.connection)
        except OSError as exc:  # reported from poll: a callback that starts another request must not recurse here
            self._drop(flight.connection)
            self._idle.append(flight.connection)
            self._ended.append((flight, exc))
            return
        flight.reused, flight.sent = flight.connection.answered > 0, 0  # a retry comes with nothing read
        self._flying[flight.connection] = flight
        flight.began = time.perf_counter()
        flight.alongside, flight.deadline = len(self._flying), flight.began + self.timeout
        try:
            self._send_more(flight)
        except OSError as exc:
            self._failed(flight, exc)

    def _send_more(self, flight: Flight) -> None:
        sock = flight.connection.sock
        try:
            flight.sent += sock.send(memoryview(flight.request)[flight.sent:])
        except BlockingIOError:
            pass
        writing = flight.sent < len(flight.request)
        if writing != flight.writing:  # the rest waits for room in the socket's buffer: rarely
            flight.writing = writing
            self._selector.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0), flight.connection)

    def _receive(self, flight: Flight) -> None:
        try:
            data = flight.connection.sock.recv(_RECEIVE)
        except BlockingIOError:
            return
        answer = flight.reader.feed(data) if data else flight.reader.closed()
        if answer is not None:
            self._landed(flight)
            connection = flight.connection
            connection.answered += 1
            if not answer.keep_alive:
                self._drop(connection)
            self._idle.append(connection)
            self._next_waiting()
            flight.done(flight, answer)

    def _failed(self, flight: Flight, exc: Exception) -> None:
        """The connection is closed; a reused one the server had closed while idle is tried again, once."""
        self._landed(flight)
        self._drop(flight.connection)
        if flight.reused and not flight.retried and flight.reader.received == 0 and is_stale_close(exc):
            flight.retried = True
            self._send(flight)
            return
        self._idle.append(flight.connection)  # opened again when next used
        self._next_waiting()
        flight.done(flight, exc)

    def _landed(self, flight: Flight) -> None:
        del self._flying[flight.connection]
        if flight.writing:
            flight.writing = False
            self._selector.modify(flight.connection.sock, selectors.EVENT_READ, flight.connection)

    def _next_waiting(self) -> None:
        if self._waiting:
            self._send(self._waiting.popleft())


def closed_loop(exchanges: Exchanges, requests: Iterable[bytes], concurrency: int,
                done: Callable[[Flight, Answer | Exception], None]) -> None:
    """Every request of ``requests`` sent, ``concurrency`` at a time, each as soon as one before it was answered."""
    pending = iter(requests)

    def answered(flight: Flight, result: Answer | Exception) -> None:
        done(flight, result)
        if (request := next(pending, None)) is not None:
            exchanges.start(request, answered)

    for _ in range(concurrency):
        if (request := next(pending, None)) is None:
            break
        exchanges.start(request, answered)
    exchanges.drain()
