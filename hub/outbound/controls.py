"""The operator's pause, resume and circuit reset, as the outbound workers of one process obey them.

The console writes commands into the message log's database
(:class:`~hub.messagelog.controls.ControlBoard`); a :class:`Switchboard`
reads them at most every ``interval`` seconds for the workers of its process:

- a paused destination's worker stops consuming (its subscription is
  cancelled, so unacknowledged messages go back to the queue and nothing is
  taken from it), and subscribes again within ``interval`` of a resume;
- a circuit reset newer than the ones seen closes that agency's breakers here
  (pybreaker's ``close()``) and is marked done with this process's name;
- the circuit state of each agency served here is written back (when it
  changed, and every ``REPORT_EVERY`` seconds) to
  :class:`~hub.messagelog.circuits.CircuitReports`, for a console that runs in
  another process.

A database outage changes nothing: the last known state holds (a worker keeps
consuming, or stays paused) until the table can be read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import Gauge

from hub.errors import MessageLogError
from hub.metrics import REGISTRY
from hub.messagelog.circuits import REPORT_EVERY, CircuitReports
from hub.messagelog.controls import ControlBoard, this_process
from hub.outbound.resilience import Breakers

log = logging.getLogger(__name__)

PAUSED = Gauge("rabt_consumption_paused", "1 while an operator has paused this destination's workers.",
               ("destination", "queue"), registry=REGISTRY)
#: seconds between two reads of the command table (a pause or reset takes effect within this)
CONTROL_INTERVAL = 2.0


class Switchboard:
    """The commands that concern this process's workers, read at most every ``interval`` s. Thread-safe."""

    def __init__(self, board: ControlBoard, breakers: Breakers, *, interval: float = CONTROL_INTERVAL,
                 clock: Callable[[], float] = time.monotonic, reports: CircuitReports | None = None) -> None:
        self.board, self.breakers, self.interval, self.clock = board, breakers, interval, clock
        self.reports = reports or CircuitReports(board.engine)
        self._reported: tuple[dict[str, str], float] = ({}, float("-inf"))  # (states written, when)
        self._lock = threading.Lock()
        self._agencies: dict[str, str] = {}  # agency → the queue its worker consumes
        self._paused: set[str] = set()
        self._read_at = float("-inf")
        self._seen = None  # newest command applied; set on the first read (older resets are history)
        self._failing = False

    def serve(self, agency: str, queue: str) -> None:
        """Take commands for ``agency`` (its worker consumes ``queue`` in this process)."""
        with self._lock:
            self._agencies[agency] = queue

    def paused(self, agency: str) -> bool:
        """Whether ``agency``'s destination is paused now (re-reading the table when it is due)."""
        self.refresh()
        with self._lock:
            return agency in self._paused

    def refresh(self, force: bool = False) -> None:
        """Read the table if ``interval`` has passed: pauses, and resets to apply."""
        with self._lock:
            if not force and self.clock() - self._read_at < self.interval:
                return
            self._read_at = self.clock()
            try:
                self._read()
            except MessageLogError as exc:
                if not self._failing:
                    log.warning("operator commands unreadable, last known state kept: %s", exc,
                                extra={"event": "controls.unreadable"})
                self._failing = True
                return
            self._failing = False

    def _read(self) -> None:
        if self._seen is None:
            self._seen = self.board.newest_seq()
        self._paused = set(self.board.paused()) & set(self._agencies)
        for agency, queue in self._agencies.items():
            PAUSED.labels(agency, queue).set(agency in self._paused)
        for seq, agency in self.board.resets_after(self._seen, set(self._agencies)):
            closed = self.breakers.close(agency)
            self.board.mark_done(seq, this_process())
            log.warning("circuit of %s reset by an operator (command %d, %d breaker(s) closed)", agency, seq, closed,
                        extra={"event": "controls.circuit-reset"})
            self._seen = seq
        self._report()

    def _report(self) -> None:
        """Write this process's circuit states when they changed or the last report is getting old."""
        known = self.breakers.states()
        states = {agency: known.get(agency, "closed") for agency in self._agencies}
        written, at = self._reported
        if states == written and self.clock() - at < REPORT_EVERY:
            return
        self.reports.report(this_process(), states)
        self._reported = (states, self.clock())

    def until_paused(self, agency: str, stop: threading.Event) -> threading.Event:
        """An event set when ``stop`` is or ``agency`` gets paused: the stop for one stretch of consuming."""
        stretch = threading.Event()

        def watch() -> None:
            while not stretch.is_set():
                if stop.is_set() or self.paused(agency):
                    stretch.set()
                else:
                    stop.wait(self.interval / 2)

        threading.Thread(target=watch, name=f"controls-{agency}", daemon=True).start()
        return stretch

    def wait_while_paused(self, agency: str, stop: threading.Event) -> None:
        """Return once ``agency`` is not paused (or ``stop`` is set), saying when the pause begins and ends."""
        if not self.paused(agency):
            return
        log.warning("outbound worker %s paused by an operator: not consuming", agency,
                    extra={"event": "controls.paused"})
        while not stop.is_set() and self.paused(agency):
            stop.wait(self.interval / 2)
        if not stop.is_set():
            log.warning("outbound worker %s resumed by an operator", agency, extra={"event": "controls.resumed"})
