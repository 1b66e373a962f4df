"""A signal only notes that the process should stop; the main thread's wait does the stopping.

A signal handler runs between two bytecodes of the main thread. When a second
SIGTERM came while the first one's handler was setting the stop event, the
second handler blocked on that event's (not reentrant) lock forever: a gateway
process outlived its master. The handler must take no lock at all.
"""

from __future__ import annotations

import os
import signal
import threading

from hub.roles import Role, Supervisor


def test_two_signals_in_a_row_stop_the_roles_through_wait():
    supervisor = Supervisor()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    finished = threading.Event()
    supervisor.start(Role("idle", lambda stop: (stop.wait(), finished.set())))
    try:
        supervisor.install_signal_handlers()
        handler = signal.getsignal(signal.SIGTERM)
        handler(signal.SIGTERM, None)
        handler(signal.SIGTERM, None)  # as if the second came while the first was being handled
        assert not supervisor.stopping.is_set(), "the handler itself must not set the (locked) event"
        os.kill(os.getpid(), signal.SIGINT)  # and a real one through the interpreter
        assert supervisor.wait(grace=5.0)
        assert supervisor.stopping.is_set() and finished.is_set()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
