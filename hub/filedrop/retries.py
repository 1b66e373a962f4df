"""Files that keep failing to open or move: backed off, then set aside in ``quarantine/``.

A file the watcher cannot claim, open or file away goes back to the inbox
(never stays in ``processing/``). Taken again at the next scan it would fail
again at once: a busy core, and a refusal record in the hash-chained log per
scan. :class:`Retries` remembers each failing name: its next try waits
(``first_delay``, doubling up to ``max_delay``), and after ``max_tries`` the
watcher moves it to ``quarantine/`` with a report, counts it, and records the
refusal once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: failing names remembered at most (the oldest is forgotten, so it is tried again at once)
MAX_REMEMBERED = 10_000


@dataclass
class _Failing:
    tries: int
    next_try: float


class Retries:
    """Back-off bookkeeping per ``(agency, name)``; pure, with the clock injected for tests."""

    def __init__(self, *, max_tries: int = 5, first_delay: float = 1.0, max_delay: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_tries = max(1, int(max_tries))
        self.first_delay = max(0.0, float(first_delay))
        self.max_delay = max(self.first_delay, float(max_delay))
        self.clock = clock
        self.quarantined = 0
        """Files set aside since the watcher started."""
        self._failing: OrderedDict[tuple[str, str], _Failing] = OrderedDict()

    def due(self, agency: str, name: str) -> bool:
        """Whether ``name`` may be tried now (never failed, or its back-off is over)."""
        failing = self._failing.get((agency, name))
        return failing is None or self.clock() >= failing.next_try

    def failed(self, agency: str, name: str) -> int:
        """Count a failed try of ``name`` and start its back-off; the tries so far."""
        key = (agency, name)
        failing = self._failing.pop(key, None) or _Failing(0, 0.0)
        failing.tries += 1
        failing.next_try = self.clock() + self.delay(failing.tries)
        self._failing[key] = failing
        while len(self._failing) > MAX_REMEMBERED:
            self._failing.popitem(last=False)
        return failing.tries

    def delay(self, tries: int) -> float:
        """Seconds to wait after the ``tries``-th failure."""
        return min(self.max_delay, self.first_delay * 2 ** max(0, tries - 1))

    def exhausted(self, tries: int) -> bool:
        """Whether a file that failed ``tries`` times should be quarantined."""
        return tries >= self.max_tries

    def forget(self, agency: str, name: str, *, quarantined: bool = False) -> None:
        """``name`` went through (or was set aside): no more back-off for it."""
        self._failing.pop((agency, name), None)
        self.quarantined += quarantined
