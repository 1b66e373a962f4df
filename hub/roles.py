"""How a role loop is started, supervised and stopped: one place for every role of ``rabt serve``.

A role is a name and a loop ``loop(stop)`` that works until ``stop`` is set
(the gateway's HTTP server, the outbox relay, an outbound worker, the file
watchers, the console). The :class:`Supervisor` runs each in a thread of its
own. A role that raises is started again after a pause that doubles with
each crash in a row, up to a cap, and counted in ``rabt_role_restarts_total``:
a broker or database outage, or one poisoned input, must not stop the
gateway beside it, and nobody should have to restart the process by hand.
Only SIGTERM or SIGINT (or :meth:`Supervisor.stop`) ends the process.

Each state change is one log line (started, crashed with the reason and the
pause, stopped), so an outage that lasts an hour is a few lines, not a
traceback per retry; the traceback of a crash is logged at DEBUG.

    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    supervisor.start(Role("relay", relay_loop))
    supervisor.wait(grace=30)
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub import metrics

log = logging.getLogger(__name__)

#: a role's work: runs until the event is set, then returns
Loop = Callable[[threading.Event], None]


def settle_garbage_collector() -> None:
    """Leave what the process has built so far (modules, compiled mappings and schemas) out of every collection.

    Call it once a long-running process has built its parts, before it takes
    work. None of that becomes garbage, yet each full collection walked all of
    it: 50–120 ms in which a gateway, relay or consumer process answered
    nothing, which at 200 visa checks a second filled the bulkhead with
    ``Server.Busy`` answers; and about 2% of a wage file's CPU. Frozen
    objects are still freed when their last reference goes.
    """
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Role:
    """One supervised loop, named for logs and the restart counter."""

    name: str
    loop: Loop


@dataclass(frozen=True)
class Backoff:
    """Pause before restarting a crashed role: ``first`` doubled per crash in a row, at most ``cap`` seconds.

    A role that ran ``healthy_after`` seconds before crashing starts again from
    ``first``: a crash a day is not a crash loop.
    """

    first: float = 1.0
    cap: float = 60.0
    healthy_after: float = 60.0

    def pause(self, crashes_in_a_row: int) -> float:
        return min(self.cap, self.first * 2 ** (crashes_in_a_row - 1))


class Supervisor:
    """Runs roles in threads, restarts the ones that crash, and stops them all on request."""

    def __init__(self, backoff: Backoff = Backoff()) -> None:
        self.backoff = backoff
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._signalled = False

    def start(self, role: Role) -> None:
        """Run ``role`` in a thread of its own until :meth:`stop`."""
        thread = threading.Thread(target=self._supervise, args=(role,), name=f"rabt-{role.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Ask every role to finish the work in hand and return."""
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the roles (main thread only, as Python requires).

        The handler only notes the signal and :meth:`wait` stops within half a
        second. A handler runs between two bytecodes of the main thread, which
        may be inside ``Event.set`` already (a second signal while the first is
        handled), and that lock is not reentrant: setting the event from the
        handler once left a gateway process deadlocked after its master was gone.
        """
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._note_signal)

    def _note_signal(self, signum: int, frame: object) -> None:
        self._signalled = True

    def wait(self, grace: float = 30.0) -> bool:
        """Block until stopped (or signalled), then give the roles ``grace`` seconds in all; whether all returned."""
        while not self.stopping.wait(0.5):
            if self._signalled:
                self.stop()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        late = [t.name for t in self._threads if t.is_alive()]
        if late:
            log.warning("roles still busy after %.0fs, left behind: %s", grace, ", ".join(late))
        return not late

    def _supervise(self, role: Role) -> None:
        crashes = 0
        log.info("role %s started", role.name)
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                role.loop(self.stopping)
            except Exception as exc:  # noqa: BLE001 - any crash is restarted; the supervisor is the last guard
                crashes = 1 if time.monotonic() - began >= self.backoff.healthy_after else crashes + 1
                self._crashed(role, exc, self.backoff.pause(crashes))
                if self.stopping.wait(self.backoff.pause(crashes)):
                    break
                metrics.record_role_restart(role.name)
                log.info("role %s restarted (%d crash%s in a row)", role.name, crashes, "" if crashes == 1 else "es")
                continue
            if not self.stopping.is_set():
                log.info("role %s finished its work", role.name)
                return
        log.info("role %s stopped", role.name)

    @staticmethod
    def _crashed(role: Role, exc: Exception, pause: float) -> None:
        log.error("role %s crashed: %s: %s; restarting in %.1fs", role.name, type(exc).__name__, exc, pause)
        log.debug("role %s crash traceback", role.name, exc_info=exc)
