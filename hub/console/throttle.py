"""Failed password checks, counted per user name and client address.

After ``limit`` failures within ``window`` seconds, that name from that address
is not checked again until the oldest of them ages out: a password cannot be
guessed at speed, and a wrong guess from one machine does not lock the user
out of another. (Counts live in this process; they restart with it.)

A password check is slow on purpose (scrypt), so a try is *reserved* before
the check and settled after it (:meth:`LoginThrottle.failed` or
:meth:`~LoginThrottle.succeeded`): checks in flight count against the limit,
and a burst of concurrent guesses gets no more checks than a sequence would.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

Key = tuple[str, str]
_MAX_KEYS = 10_000
#: what a caller turned away only by checks still in flight is told to wait: one check's time, about
_IN_FLIGHT_WAIT = 1.0


class LoginThrottle:
    """Per-(name, address) failure counts with reserved tries; thread-safe."""

    def __init__(self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[Key, deque[float]] = {}
        self._in_flight: Counter[Key] = Counter()
        self._lock = threading.Lock()

    def wait(self, key: Key) -> float:
        """Seconds before ``key`` may have a password checked again; 0 means now."""
        with self._lock:
            return self._wait(key, self.clock())

    def reserve(self, key: Key) -> float:
        """Hold one try for a check about to run: 0 means held (settle it), else seconds to wait."""
        with self._lock:
            wait = self._wait(key, self.clock())
            if wait == 0.0:
                self._in_flight[key] += 1
            return wait

    def failed(self, key: Key) -> None:
        """A check failed: it counts for ``window`` seconds (and releases its reserved try)."""
        with self._lock:
            now = self.clock()
            self._release(key)
            if len(self._failures) >= _MAX_KEYS:  # forget what has aged out, so guessing names cannot fill memory
                for old in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
                    del self._failures[old]
            self._recent(key, now).append(now)

    def succeeded(self, key: Key) -> None:
        """A check passed: the failures of ``key`` are forgotten (and its reserved try released)."""
        with self._lock:
            self._release(key)
            self._failures.pop(key, None)

    def _wait(self, key: Key, now: float) -> float:
        recent = self._recent(key, now) if key in self._failures else ()
        if len(recent) >= self.limit:
            return recent[0] + self.window - now
        if len(recent) + self._in_flight[key] >= self.limit:
            return _IN_FLIGHT_WAIT
        return 0.0

    def _release(self, key: Key) -> None:
        if self._in_flight[key] > 1:
            self._in_flight[key] -= 1
        else:
            del self._in_flight[key]  # drop the key, so the counter never grows with names

    def _recent(self, key: Key, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque(maxlen=self.limit))
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
