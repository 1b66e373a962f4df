"""A crashed role is restarted with backoff and counted; the others keep serving; SIGTERM still stops all.

A real process on 127.0.0.1: an HTTP role (waitress, as ``rabt serve`` runs
it) beside a role that crashes twice, supervised by :mod:`hub.roles`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests

from hub import lifeline, metrics
from hub.roles import Backoff, Role, Supervisor

pytestmark = pytest.mark.timeout(60)

PROCESS = textwrap.dedent("""
    import logging, sys, threading
    from flask import Flask
    from hub import metrics
    from hub.roles import Backoff, Role, Supervisor
    from hub.serve import WsgiRole

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    app = Flask("probe")
    crashes = []

    @app.get("/restarts")
    def restarts():
        return str(metrics.ROLE_RESTARTS.labels("flaky")._value.get())

    def flaky(stop):
        if len(crashes) < 2:
            crashes.append(1)
            raise ConnectionError(f"broker gone (crash {len(crashes)})")
        stop.wait()

    web = WsgiRole("web", app, "127.0.0.1", 0, threads=2, grace=5)
    supervisor = Supervisor(Backoff(first=0.2, cap=1.0))
    supervisor.install_signal_handlers()
    supervisor.start(Role("web", web.run))
    supervisor.start(Role("flaky", flaky))
    print(web.endpoint.url, flush=True)
    sys.exit(0 if supervisor.wait(grace=10) else 3)
""")


def test_a_role_that_crashes_twice_is_restarted_and_counted_while_the_process_serves_and_sigterm_stops_it():
    process = lifeline.popen([sys.executable, "-c", PROCESS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        url = process.stdout.readline().strip()
        deadline = time.monotonic() + 20
        while requests.get(f"{url}/restarts", timeout=5).text != "2.0":  # served all along
            assert time.monotonic() < deadline, "the crashed role was not restarted twice"
            time.sleep(0.1)
        time.sleep(0.5)  # still running after its restarts: the process did not stop for a crash
        assert process.poll() is None
        assert requests.get(f"{url}/restarts", timeout=5).text == "2.0"
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        process.kill()
        process.wait()
    log = process.stderr.read()
    crash_lines = [line for line in log.splitlines() if "role flaky crashed" in line]
    assert [line.split(": ", 1)[1] for line in crash_lines] == [
        "role flaky crashed: ConnectionError: broker gone (crash 1); restarting in 0.2s",
        "role flaky crashed: ConnectionError: broker gone (crash 2); restarting in 0.4s"]
    assert "Traceback" not in log  # one line per state change, not a traceback per crash
    assert "role flaky stopped" in log and "role web stopped" in log


def test_backoff_doubles_per_crash_in_a_row_up_to_its_cap():
    backoff = Backoff(first=0.5, cap=4.0)
    assert [backoff.pause(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_role_that_returns_on_its_own_is_not_restarted():
    supervisor = Supervisor(Backoff(first=0.01))
    ran = []
    supervisor.start(Role("one-shot", lambda stop: ran.append(1)))
    time.sleep(0.3)
    supervisor.stop()
    assert supervisor.wait(grace=2)
    assert ran == [1]


def test_stop_during_the_pause_ends_the_role_without_another_start():
    supervisor = Supervisor(Backoff(first=30.0))
    started = threading.Event()
    before = metrics.ROLE_RESTARTS.labels("broken")._value.get()

    def broken(stop):
        started.set()
        raise RuntimeError("always")

    supervisor.start(Role("broken", broken))
    assert started.wait(5)
    supervisor.stop()
    assert supervisor.wait(grace=2)  # not 30 s: the pause ends with the stop
    assert metrics.ROLE_RESTARTS.labels("broken")._value.get() == before
