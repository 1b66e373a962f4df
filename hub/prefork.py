"""``rabt serve --processes N``: N gateway processes answering on one port, kept running by a master.

(The same keeper runs the file-drop watchers as ``[watcher] processes`` children claiming
from one inbox; they need no socket.)

The master binds the gateway's listening socket and starts N children, each
a fresh interpreter (``python -m hub serve --role gateway --listen-fd FD``)
that inherits the socket and builds its own hub. Nothing is forked after
threads or open connections (pika, SQLAlchemy, the message log), and the
kernel hands each new connection to whichever child accepts first, so one
port uses every core while each child keeps waitress's own loop. The first
to accept would be the busiest child (it is the one running), so the children
share a table of their open connections (:class:`hub.listener.ConnectionTable`,
``--connections-fd FD --slot N``) and one holding more than the lightest
lets that one take a new connection first.

The other roles (relay, outbound workers, console) run once, in the
master beside the children's keeper: they are I/O-bound loops that want one
instance each per deployment (more of them scale by running more hosts or
``rabt serve --role worker`` units, not by this option), and the master has
to stay up anyway. Every process writes the message log through its own hub.

A child that dies is started again after a pause from :class:`hub.roles.Backoff`
(doubling per death in a row, reset after a healthy run), counted in
``rabt_role_restarts_total{role="gateway-process"}`` and logged once per
death and once per restart. On SIGTERM or SIGINT to the master every child
gets SIGTERM and ``grace`` seconds to answer the requests it holds (its own
drain, see :class:`hub.serve.WsgiRole`); one still running after that is
killed. A child whose master has gone (killed outright) stops too: the kernel sends it
SIGTERM (:mod:`hub.lifeline`), and failing that it sees its parent change.

Each child counts into its own metric files (``environment`` carries
``PROMETHEUS_MULTIPROC_DIR``, see :mod:`hub.process_metrics`) and the
master's ``/metrics`` adds them up; a child that dies is marked dead there
(its gauges leave, its counts stay).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub import lifeline, metrics, process_metrics
from hub.listener import ABSENT, ConnectionTable
from hub.roles import Backoff, Loop

log = logging.getLogger(__name__)

#: how often the master looks at its children, and a child at its master
POLL_SECONDS = 0.2
#: beyond the grace: time for a child to exit after its drain before it is killed
STOP_MARGIN = 5.0


def default_process_count() -> int:
    """One process per core this process may run on (gateway, watchers)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Child:
    """One slot of the gateway: the process in it now, and how often it has died in a row."""

    slot: int
    process: subprocess.Popen | None = None
    started: float = 0.0
    deaths: int = 0
    restart_at: float = 0.0


class ChildProcesses:
    """Keeps ``count`` children running ``command`` (on the inherited ``listener``, if any) until stopped.

    ``command`` is the child's command line without the socket: ``--listen-fd FD``
    is appended when there is a ``listener``; ``environment`` is added to this
    process's for the children; ``role`` names them in logs and in the restart
    counter (``<role>-process``). :meth:`run` is a role loop (see :mod:`hub.roles`).
    """

    def __init__(self, command: Sequence[str], count: int, listener: socket.socket | None, *, grace: float,
                 backoff: Backoff = Backoff(), environment: Mapping[str, str] | None = None,
                 role: str = "gateway") -> None:
        self.command = [*command, "--listen-fd", str(listener.fileno())] if listener is not None else list(command)
        # who holds how many connections: only children sharing a socket need it
        self.connections = ConnectionTable.create(count) if listener is not None else None
        self.environment = {**os.environ, **environment} if environment else None
        self.listener = listener
        self.grace = grace
        self.backoff = backoff
        self.role = role
        self.children = [_Child(slot) for slot in range(1, count + 1)]

    def pids(self) -> list[int]:
        """The process ids of the children running now."""
        return [c.process.pid for c in self.children if c.process is not None and c.process.poll() is None]

    def run(self, stop: threading.Event) -> None:
        """Start every child, restart the ones that die, and stop them all once ``stop`` is set."""
        try:
            for child in self.children:
                self._start(child)
            while not stop.wait(POLL_SECONDS):
                for child in self.children:
                    self._tend(child)
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        """SIGTERM to every child, ``grace`` (and a margin) to finish, then SIGKILL to any still running."""
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace + STOP_MARGIN
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s process pid %d still running after %.0fs; killing it", self.role, process.pid,
                            self.grace)
                process.kill()
                process.wait()
        for process in running:
            process_metrics.process_ended(process.pid)

    def _start(self, child: _Child) -> None:
        passed = (self.listener.fileno(),) if self.listener is not None else ()
        command = self.command
        if self.connections is not None:
            passed += (self.connections.fd,)
            command = [*command, "--connections-fd", str(self.connections.fd), "--slot", str(child.slot)]
        # tied to the master: a master killed outright takes its children with it (SIGTERM, their drain)
        child.process = lifeline.popen(command, pass_fds=passed, env=self.environment)
        child.started = time.monotonic()
        log.info("%s process %d started (pid %d)", self.role, child.slot, child.process.pid)

    def _tend(self, child: _Child) -> None:
        now = time.monotonic()
        if child.process is not None and child.process.poll() is not None:
            lived = now - child.started
            child.deaths = 1 if lived >= self.backoff.healthy_after else child.deaths + 1
            pause = self.backoff.pause(child.deaths)
            log.error("%s process %d (pid %d) %s; restarting in %.1fs", self.role, child.slot, child.process.pid,
                      _ending(child.process.returncode), pause)
            process_metrics.process_ended(child.process.pid)
            if self.connections is not None:
                self.connections.write(child.slot, ABSENT)  # the others stop comparing themselves with it
            child.process, child.restart_at = None, now + pause
        if child.process is None and now >= child.restart_at:
            # counted first: whoever sees the new child's pid also sees its restart counted
            metrics.record_role_restart(f"{self.role}-process")
            self._start(child)


def _ending(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def parent_watch(parent_pid: int, role: str = "gateway") -> Loop:
    """A child's role loop: stop the child when its master is gone (its parent is no longer ``parent_pid``)."""

    def run(stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS * 5):
            if os.getppid() != parent_pid:
                log.warning("master (pid %d) is gone; stopping this %s process", parent_pid, role)
                stop.set()

    return run
