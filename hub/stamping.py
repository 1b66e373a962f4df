"""The stamper: a role loop that has every log anchor stamped by the time-stamping authority.

Each round (every ``interval`` seconds) it takes an anchor if none was taken
for that long and a lane moved (writers anchor only after a write, so an idle
log's last records would otherwise wait), then asks the TSA for a token for
each anchor that has none, oldest first, and stores each token once it
verifies (:func:`hub.timestamps.request_stamp`). A token that does not verify
is never stored.

The hub never waits for the TSA: messages are accepted whether it answers or
not. While it does not, the stamper tries again after a pause that doubles
up to the interval; after ``grace`` seconds of failure it registers the TSA as
failing (:data:`hub.outage.OUTAGES`, dependency ``tsa``), so ``/readyz`` and
the console name it. When the TSA is back, the anchors taken meanwhile are
stamped in one catch-up, oldest first.

Several processes may run a stamper over one log: an anchor keeps the first
token stored (:func:`hub.messagelog.stamps.attach`), a second costs one
extra request.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from cryptography import x509
from sqlalchemy.engine import Engine

from hub import metrics
from hub.config_roles import TimestampSettings
from hub.errors import MessageLogError
from hub.messagelog import anchors, stamps
from hub.outage import OUTAGES, Outages, Pause, Watch
from hub.timestamps import TimestampError, request_stamp

log = logging.getLogger(__name__)

ROLE, DEPENDENCY = "stamper", "tsa"
#: anchors read per query during a catch-up
_BATCH = 100


class Stamper:
    """Stamps the anchors of the log behind ``engine`` with the TSA the settings name."""

    def __init__(self, engine: Engine, settings: TimestampSettings, tsa_cert: x509.Certificate, *,
                 outages: Outages = OUTAGES, clock=time.monotonic) -> None:
        self.engine, self.settings, self.tsa_cert = engine, settings, tsa_cert
        self.outages, self._clock = outages, clock
        pause = Pause(first=min(0.5, settings.interval), cap=settings.interval)
        # the watch logs each state change once; the shared register hears of the TSA only after the grace
        self.tsa = Watch(ROLE, DEPENDENCY, outages=Outages(), pause=pause)
        self.database = Watch(ROLE, "message log", outages=outages, pause=pause)
        self._failing_since: float | None = None
        self._session = requests.Session()

    def run(self, stop: threading.Event) -> None:
        """Stamp rounds until ``stop``."""
        try:
            while not stop.is_set():
                stop.wait(self.round(stop))
        finally:
            self.tsa.clear()
            self.database.clear()
            self.outages.mark_up(ROLE, DEPENDENCY)
            self._session.close()

    def round(self, stop: threading.Event | None = None) -> float:
        """Anchor if due, stamp every unstamped anchor, publish the backlog; seconds until the next round."""
        try:
            anchors.take(self.engine, unless_younger_than=self.settings.interval)
            self._stamp_backlog(stop)
            self.database.succeeded()
        except TimestampError as exc:
            return self._tsa_failed(exc)
        except MessageLogError as exc:
            return self.database.failed(exc)
        finally:
            self._publish_backlog()
        self._tsa_answered()
        return self.settings.interval

    def _stamp_backlog(self, stop: threading.Event | None) -> None:
        """Stamp unstamped anchors oldest first until none is left (or ``stop``)."""
        while rows := stamps.unstamped(self.engine, _BATCH):
            for row in rows:
                if stop is not None and stop.is_set():
                    return
                token = request_stamp(self.settings.url, row.hash, self.tsa_cert, timeout=self.settings.timeout,
                                      session=self._session)
                self._tsa_answered()
                if stamps.attach(self.engine, row.anchor_seq, row.hash, token):
                    metrics.record_stamp()

    def _tsa_failed(self, exc: TimestampError) -> float:
        metrics.record_stamp_failure(exc.code)
        pause = self.tsa.failed(exc)
        now = self._clock()
        self._failing_since = self._failing_since or now
        if now - self._failing_since >= self.settings.grace:
            self.outages.mark_down(ROLE, DEPENDENCY, f"failing for {now - self._failing_since:.0f} s: {exc.reason}")
        return pause

    def _tsa_answered(self) -> None:
        if self._failing_since is not None:
            self._failing_since = None
            self.outages.mark_up(ROLE, DEPENDENCY)
        self.tsa.succeeded()

    def _publish_backlog(self) -> None:
        try:
            waiting = stamps.backlog(self.engine)
        except MessageLogError:
            return  # the database being away is the database watch's news
        metrics.set_stamp_backlog(waiting.count, waiting.oldest_age())
