"""Broker and database outages: waited out forever, told once per state change, known to ``/readyz``.

A transport retries a lost connection for a few seconds by itself
(``reconnect_timeout``), then raises :class:`~hub.errors.BrokerUnavailableError`;
the message log raises :class:`~hub.errors.MessageLogUnavailableError`. A role
loop must outlive both: it catches them (:data:`OUTAGE_ERRORS`), waits a pause
that doubles up to a cap, and goes on — for as long as the outage lasts, since
nobody should have to restart a process because RabbitMQ was restarted.

Each loop has a :class:`Watch` per dependency. Its first failure logs one line
(``outbox: broker unreachable: …; retrying``, event ``outbox-broker.unreachable``), later failures of the same outage log
nothing (a traceback per try once filled a hub's log with 1,365 lines in a
minute), and the first success after it logs ``broker reachable again after
N s``. While an outage lasts it is listed in :data:`OUTAGES`, this process's
register, which ``/readyz`` reports as the reason it is not ready.

    watch = Watch("worker-police", "broker")
    keep_consuming(transport, lambda: transport.consume(queue, handler, stop=stop), stop, watch)  # until stop

A part that is not a role loop watches what it depends on the same way, with
``role=None``: the AMQP transport its broker connection (one watch per broker
URL in a process), the file drop its folders. Its lines name only the
dependency (``broker amqp://hub:***@mq/ unreachable: …``, event
``broker.unreachable``; back at INFO, ``… reachable again after 1.5 s``), and it
stays out of :data:`OUTAGES`: the loop using the part waits the outage out and
registers it under its role.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import BrokerUnavailableError, MessageLogUnavailableError
from hub.transports.base import MessagePath

log = logging.getLogger(__name__)

#: errors that mean "a dependency is away", not "this input is bad": wait and try again
OUTAGE_ERRORS: tuple[type[Exception], ...] = (BrokerUnavailableError, MessageLogUnavailableError,
                                              ConnectionError, TimeoutError)


class Outages:
    """What this process's loops currently find unreachable: ``(role, dependency)`` → reason. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[tuple[str, str], str] = {}

    def mark_down(self, role: str, dependency: str, reason: str) -> None:
        with self._lock:
            self._down[(role, dependency)] = reason

    def mark_up(self, role: str, dependency: str) -> None:
        with self._lock:
            self._down.pop((role, dependency), None)

    def current(self) -> dict[str, str]:
        """Dependency → ``"role: reason"`` of each outage a loop is waiting out now."""
        with self._lock:
            down = sorted(self._down.items())
        reasons: dict[str, str] = {}
        for (role, dependency), reason in down:
            reasons[dependency] = "; ".join(filter(None, [reasons.get(dependency), f"{role}: {reason}"]))
        return reasons


#: this process's register (roles of one process share it, as they share ``hub.metrics``)
OUTAGES = Outages()


@dataclass(frozen=True)
class Pause:
    """How long a loop waits before trying again: ``first`` doubled per failure in a row, at most ``cap``."""

    first: float = 0.5
    cap: float = 15.0

    def after(self, failures_in_a_row: int) -> float:
        """The pause after this many failures in a row."""
        # past the cap doubling changes nothing, and 2 ** 1024 overflows a float: an outage of some
        # hours (a thousand tries) must not end the loop waiting it out
        doublings = min(max(failures_in_a_row - 1, 0), 64)
        return min(self.cap, self.first * 2 ** doublings)


class Watch:
    """One view of one dependency: says when it goes away and when it is back, once each.

    ``role``: the role loop that waits the outage out, named in its lines and
    in the register; None for a part reporting its own view (see the module
    docstring). Thread-safe: the threads of one role (several consumers of a
    queue) may share a watch, so an outage is two lines for the role, not two
    per thread.
    """

    def __init__(self, role: str | None, dependency: str, *, outages: Outages = OUTAGES, pause: Pause = Pause(),
                 logger: logging.Logger = log, clock: Callable[[], float] = time.monotonic) -> None:
        self.role, self.dependency, self.outages, self.pause, self.logger = role, dependency, outages, pause, logger
        self.clock = clock
        self.failures = 0
        self._since: float | None = None
        self._lock = threading.Lock()

    @property
    def event(self) -> str:
        """The event name a log collector files the lines under, e.g. ``outbox-message-log``; never a URL."""
        words = f"{self.role or ''} {self.dependency}".split()
        return "-".join(word.strip(":").lower() for word in words if "://" not in word)

    @property
    def down(self) -> bool:
        """The last try failed."""
        return self._since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failed try (logged only when the dependency was up until now); the pause before the next."""
        state = self._state(exc)
        with self._lock:
            self.failures += 1
            began, self._since = self._since is None, self._since or self.clock()
            if self.role is not None:
                self.outages.mark_down(self.role, self.dependency, state)
            pause = self.pause.after(self.failures)
        if began:
            line = state if self.role is None else f"{self.role}: {state}; retrying until it is back"
            self.logger.warning("%s", line, extra={"event": f"{self.event}.unreachable"})
        return pause

    def succeeded(self) -> None:
        """Note a successful try (logged only when it ends an outage)."""
        with self._lock:
            self.failures, since, self._since = 0, self._since, None
            if since is not None and self.role is not None:
                self.outages.mark_up(self.role, self.dependency)
        if since is None:
            return
        away, event = self.clock() - since, {"event": f"{self.event}.reachable"}
        if self.role is None:
            self.logger.info("%s reachable again after %.1f s", self.dependency, away, extra=event)
        else:
            # a warning like the line it ends, so a collector showing warnings shows both
            self.logger.warning("%s: %s reachable again after %.0f s", self.role, self.dependency, away,
                                extra=event)

    def clear(self) -> None:
        """Forget a current outage without saying it ended (the loop is stopping)."""
        with self._lock:
            self._since = None
            if self.role is not None:
                self.outages.mark_up(self.role, self.dependency)

    def _state(self, exc: BaseException) -> str:
        if self.role is None:  # a part sees only its connection or folders fail: always "unreachable"
            return f"{self.dependency} unreachable: {' '.join((str(exc) or repr(exc)).split())}"
        return f"{self.dependency} {'unreachable' if isinstance(exc, OUTAGE_ERRORS) else 'failing'}: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    text = " ".join((getattr(exc, "reason", None) or str(exc) or type(exc).__name__).split())
    return text[:300]


def keep_consuming(transport: MessagePath, consume: Callable[[], int], stop: threading.Event, watch: Watch) -> int:
    """Run ``consume()`` (a ``transport.consume`` until ``stop``) over any number of outages; how many were handled.

    Before each subscription the connection is opened on its own
    (``transport.connect()``), so the watch learns the broker is back as soon
    as it is, not at the next delivery.
    """
    handled = 0
    try:
        while not stop.is_set():
            try:
                transport.connect()
                watch.succeeded()
                handled += consume()
            except OUTAGE_ERRORS as exc:
                stop.wait(watch.failed(exc))
    finally:
        watch.clear()
    return handled
