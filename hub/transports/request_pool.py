"""Where a long-lived process's server threads ask their questions (request/reply), one transport per question.

:class:`RequestPool` (transports whose capabilities say ``request_pool``:
RabbitMQ). Opening a connection for request/reply costs 8–60 ms (TCP, AMQP
handshake, a channel in confirm mode, the direct reply-to consumer), and pika
sends and reads heartbeats only while someone drives a connection's I/O, so a
connection left alone for a few heartbeat intervals is closed by the broker.
A transport per server thread, opened on the thread's first question, made
the first questions after start — and on a quiet hub nearly every question —
wait for an open. The pool opens ``size`` transports in the background from
the start, on a keeper thread. A question checks one out (a pika connection
has one user at a time), asks, and checks it back in; while it is checked in
the keeper drives its I/O every :data:`KEEP_ALIVE_SECONDS`
(:meth:`~hub.transports.base.MessagePath.keep_alive`: heartbeats sent and
read, a close from the broker seen) and opens it again once it is closed
(:meth:`~hub.transports.base.MessagePath.prepare_requests`), forever, with a
pause doubling per failure (:class:`hub.outage.Pause`) while the broker is
away; the transport's own watch says so once per outage. A question that finds
no transport ready (the broker away, or back this instant) takes a free one,
which opens on its way with the transport's own reconnects and
BrokerUnavailableError, as a question always did.

Forks: a child forked from a process holding a pool forgets the parent's
connections (it neither uses nor closes them: they are the parent's), and its
pool opens its own on the child's first question. ``rabt serve`` starts its
gateway processes as fresh interpreters, each building its pool after start.

:class:`ThreadTransports` (the embedded broker): a transport per thread, opened
on the thread's first question, kept until the process ends.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

from hub.errors import TransportError
from hub.outage import OUTAGE_ERRORS, Pause
from hub.transports.base import Message, MessagePath

log = logging.getLogger("hub.transports")

#: how often the keeper drives each idle connection's I/O: inside any heartbeat interval worth negotiating (60 s
#: by default, 5 s the least RabbitMQ advises; pika sends one each half interval, the broker gives up after two
#: missed). 13 idle connections cost the keeper 0.15% of a core at this pace, 0.26% at twice it.
KEEP_ALIVE_SECONDS = 1.0
#: how long ``close()`` waits for the keeper to finish what it is doing (an open in progress)
KEEPER_JOIN_SECONDS = 5.0


class Askers(Protocol):
    """What a server thread asks its questions through."""

    def request(self, message: Message, *, timeout: float) -> Message: ...

    def close(self) -> None: ...


class ThreadTransports:
    """A transport per thread, opened on that thread's first question and kept until the process ends."""

    def __init__(self, open_transport: Callable[[], MessagePath]) -> None:
        self.open_transport = open_transport
        self._local = threading.local()

    def request(self, message: Message, *, timeout: float) -> Message:
        transport = getattr(self._local, "transport", None)
        if transport is None:
            transport = self._local.transport = self.open_transport()
        return transport.request(message, timeout=timeout)

    def close(self) -> None:
        """Nothing: each thread's transport is its own (an embedded broker's file handle)."""


class RequestPool:
    """``size`` transports for questions, open before they are needed and kept alive between them (module docstring).

    Thread-safe. ``size`` should exceed the questions asked at once by one, so
    that a question never waits for the transport the keeper is driving.
    """

    def __init__(self, open_transport: Callable[[], MessagePath], size: int, *,
                 keep_alive_every: float = KEEP_ALIVE_SECONDS, pause: Pause = Pause()) -> None:
        if size < 1:
            raise ValueError(f"a request pool needs at least one transport, not {size}")
        self.open_transport, self.size = open_transport, size
        self.keep_alive_every, self.pause = keep_alive_every, pause
        self._closed = False
        self._fresh_state()
        _POOLS.add(self)
        self._start()

    def _fresh_state(self) -> None:
        """No transports, no keeper (at creation; in a forked child, whose locks gone threads may hold)."""
        self._changed = threading.Condition()
        self._free: list[MessagePath] = []  # checked in, the most recently used last
        self._ready: dict[int, bool] = {}  # id(transport) -> whether its last use or keep-alive found it open
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def _start(self) -> None:
        """New transports, opened by a new keeper thread (with ``_changed`` held, or before the pool is used)."""
        self._free = [self.open_transport() for _ in range(self.size)]
        self._ready = {id(transport): False for transport in self._free}
        self._keeper = threading.Thread(target=self._keep, name="rabt-request-pool", daemon=True)
        self._keeper.start()

    # -- questions -----------------------------------------------------------------------------

    def request(self, message: Message, *, timeout: float) -> Message:
        """``message`` asked on a checked-out transport (see :meth:`MessagePath.request`)."""
        transport = self._check_out()
        ready = False
        try:
            answer = transport.request(message, timeout=timeout)
            ready = True
            return answer
        finally:
            self._check_in(transport, ready)

    def _check_out(self) -> MessagePath:
        """A free transport, one ready for a question if there is one; waits only while the keeper holds the last."""
        with self._changed:
            if self._closed:
                raise TransportError("the request pool is closed")
            if self._keeper is None:  # a forked child's first question
                self._start()
            if not self._free:
                self._changed.wait_for(lambda: self._free or self._closed)
                if self._closed:
                    raise TransportError("the request pool is closed")
            return self._free.pop(self._latest_ready())

    def _latest_ready(self) -> int:
        """Where the most recently checked-in ready transport is in the free list (the last one if none is ready).

        Looked for from the end, where the last question left it: nearly always the first looked at,
        where a list of every ready one cost a look-up per pooled transport on every question.
        """
        free, ready = self._free, self._ready
        for index in range(len(free) - 1, -1, -1):
            if ready.get(id(free[index])):
                return index
        return len(free) - 1

    def _check_in(self, transport: MessagePath, ready: bool) -> None:
        with self._changed:
            if id(transport) not in self._ready:  # not ours any more: a fork reset the pool while it was out
                return
            if not self._closed:
                self._ready[id(transport)] = ready
                self._free.append(transport)
                self._changed.notify_all()
                return
        transport.close()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every transport is checked in and ready for a question (tests, benchmarks); whether they are."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self._free) == self.size and all(self._ready.get(id(t)) for t in self._free), timeout)

    # -- the keeper ----------------------------------------------------------------------------

    def _keep(self) -> None:
        """Until closed: drive every checked-in transport, open the closed ones; pause longer while opens fail."""
        failures, stop = 0, self._stop
        while not stop.is_set():
            try:
                failures = failures + 1 if self._keep_round(told=failures > 0) else 0
            except Exception:  # noqa: BLE001 - a bug here must not leave the questions to open their own
                log.exception("request connections: the keeper failed; going on")
                failures += 1
            stop.wait(self.pause.after(failures) if failures else self.keep_alive_every)

    def _keep_round(self, *, told: bool) -> bool:
        """One round over the checked-in transports; whether one could not be opened (the rest wait for the next).

        ``told``: the last round failed too, and whatever failed was said then.
        """
        failed = False
        for transport in self._each_checked_in():
            ready = False
            try:
                ready = transport.keep_alive()
                if not ready and not failed:
                    transport.prepare_requests()
                    ready = True
            except Exception as exc:  # noqa: BLE001 - the keeper must outlive whatever an open raises
                failed = True
                if not told and not isinstance(exc, OUTAGE_ERRORS):  # an outage is told by the transport's watch
                    log.warning("request connections: cannot open one: %s; retrying", exc)
            finally:
                self._check_in(transport, ready)
        return failed

    def _each_checked_in(self):
        """Each transport that is checked in now, taken out of the free list while the keeper drives it."""
        with self._changed:
            candidates = list(self._free)
        for transport in candidates:
            with self._changed:
                if self._stop.is_set() or transport not in self._free:
                    continue  # a question took it meanwhile: it is driven by its question
                self._free.remove(transport)
            yield transport

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the keeper and close every transport; one out with a question is closed when it comes back."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            free, self._free = self._free, []
            keeper = self._keeper
            self._changed.notify_all()
        self._stop.set()
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(KEEPER_JOIN_SECONDS)
        for transport in free:
            transport.close()

    def _forget_after_fork(self) -> None:
        """In a forked child: leave the parent's transports alone (theirs to use and close), start over on first use."""
        _LEFT_TO_THE_PARENT.extend(self._free)  # kept referenced: nothing of them runs here, not even a collector
        self._fresh_state()


#: every pool of this process, so a forked child can reset them
_POOLS: weakref.WeakSet[RequestPool] = weakref.WeakSet()
_LEFT_TO_THE_PARENT: list[MessagePath] = []


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
