"""The stack ``end_to_end.py`` measures: the demo stack with a key type, gateway processes and a log database.

Everything is set from the outside, as an operator would: keys by ``rabt pki
init --key-type`` before the stack's own (idempotent) ``pki init``, gateway
processes by ``rabt serve --processes`` when that option exists, the message
log on a fresh PostgreSQL database when one is given. After a run, what the
stack holds is read as an operator would too: the envelopes the hub carried
(from its message log, for the raw pika baseline) and its dead letters.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from end_to_end_floor import tree_cpu_seconds
from end_to_end_load import BORDER_TYPES, progress
from hub import lifeline
from hub.messagelog import open_message_log
from hub.routing import load_routes
from hub.transports import open_transport
from simulators.demo.stack import Stack


@dataclass
class BenchStack(Stack):
    """The demo stack with the keys and the number of gateway processes this run asks for."""

    key_type: str = "rsa"
    serve_processes: int | None = None
    """``rabt serve --processes N``; None: the option is not passed (one process)."""

    def start(self) -> Stack:
        # Keys of the asked type first: the stack's own `pki init` keeps existing keys.
        self.home.mkdir(parents=True, exist_ok=True)
        done = lifeline.run([sys.executable, "-m", "hub", "pki", "init", "--key-type", self.key_type],
                            env=self.environment(), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"rabt pki init --key-type {self.key_type} failed: {done.stderr.strip()}")
        super().start()
        self.wait_until_quiet()
        return self

    def wait_until_quiet(self, busy: float = 0.05, timeout: float = 60.0) -> None:
        """Wait until the stack's processes, every descendant included, use less than ``busy`` of a core.

        The stack answers its health checks before every role has finished starting (a watcher
        process still importing and compiling its mappings): start-up CPU on the clock would be
        counted as the first run's cost per message.
        """
        deadline, window = time.monotonic() + timeout, 0.5
        pids = {name: process.pid for name, process in self.processes.items()}
        before = sum(tree_cpu_seconds(pids).values())
        while time.monotonic() < deadline:
            time.sleep(window)
            now = sum(tree_cpu_seconds(pids).values())
            if now - before < busy * window:
                return
            before = now
        progress(f"the stack still used more than {busy:.0%} of a core after {timeout:.0f} s; measuring anyway")

    def _spawn_hub(self, gateway: int, console: int) -> None:
        if self.serve_processes is None:
            super()._spawn_hub(gateway, console)
            return
        self._spawn("hub", [sys.executable, "-m", "hub", "serve", "--gateway-port", str(gateway),
                            "--console-port", str(console), "--processes", str(self.serve_processes)])


def serve_processes(requested: int | None) -> tuple[int | None, str]:
    """What to pass to ``rabt serve --processes``, and the report's line about it."""
    if requested is None:
        return None, "gateway: rabt serve's default number of processes"
    usage = lifeline.run([sys.executable, "-m", "hub", "serve", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    if "--processes" not in usage:
        progress(f"rabt serve has no --processes option here: running one process, not {requested}")
        return None, f"gateway: rabt serve has no --processes option here, so one process (asked for {requested})"
    return requested, f"gateway: rabt serve --processes {requested}"


@contextmanager
def fresh_postgres(admin_url: str | None) -> Iterator[str]:
    """A new empty database on ``admin_url``'s server for the run, dropped afterwards ("" without one)."""
    if admin_url is None:
        yield ""
        return
    name = f"rabt_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def carried_envelopes(stack: Stack, count: int) -> list[bytes]:
    """The signed canonical envelopes the hub published for the border notifications."""
    log = open_message_log(stack.database_url or f"sqlite:///{stack.home / 'messages.sqlite3'}", create=False)
    try:
        stored = [m for kind in BORDER_TYPES for m in log.find(message_type=kind, source_agency="police", limit=count)]
    finally:
        log.close()
    return [m.envelope for m in stored][:count]


def dead_letters(stack: Stack) -> list:
    """What ``rabt dlq list`` shows for this stack's topology."""
    with open_transport(stack.broker_url, routes=load_routes(stack.home / "routes.toml")) as transport:
        letters = transport.dead_letters(limit=1000)
    for letter in letters:
        progress(f"DEAD LETTER {letter.queue} {letter.message_id}: {letter.code}: {letter.reason}")
    return letters
