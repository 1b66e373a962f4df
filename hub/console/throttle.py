"""Failed password checks, counted per user name and client address.

After ``limit`` failures within ``window`` seconds, that name from that address
is not checked again until the oldest of them ages out: a password cannot be
guessed at speed, and a wrong guess from one machine does not lock the user
out of another. (Counts live in this process; they restart with it.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

Key = tuple[str, str]
_MAX_KEYS = 10_000


class LoginThrottle:
    def __init__(self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[Key, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: Key) -> float:
        """Seconds before ``key`` may have a password checked again; 0 means now."""
        with self._lock:
            now = self.clock()
            recent = self._recent(key, now) if key in self._failures else ()
            return 0.0 if len(recent) < self.limit else recent[0] + self.window - now

    def failed(self, key: Key) -> None:
        with self._lock:
            now = self.clock()
            if len(self._failures) >= _MAX_KEYS:  # forget what has aged out, so guessing names cannot fill memory
                for old in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
                    del self._failures[old]
            self._recent(key, now).append(now)

    def succeeded(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Key, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque(maxlen=self.limit))
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
