"""``rabt serve``: the long-running hub, all roles in one process or one per process.

Roles are stateless and share nothing but RabbitMQ (or the embedded broker)
and the message-log database, so any number of each can run on any machine:

* ``gateway`` — the agencies' SOAP endpoints (waitress WSGI server);
* ``relay``   — publishes what the message log holds but the broker has not confirmed;
* ``worker``  — outbound SOAP workers, one consumer per adapter queue;
* ``watcher`` — file-drop folders;
* ``console`` — the operator console, JSON API and ``/metrics``.

SIGTERM or SIGINT sets one stop event: loops finish the message in hand,
ack it and close their connections; WSGI servers stop accepting and finish
open requests; then the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.bootstrap import Hub

log = logging.getLogger(__name__)

ROLES = ("gateway", "relay", "worker", "watcher", "console")


@dataclass(frozen=True)
class Endpoint:
    """Where a served role listens."""

    role: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


#: The largest request body the console and metrics roles take (forms and JSON: ids, a reason).
MAX_FORM_BODY = 1024 * 1024


class WsgiRole:
    """A Flask app under waitress that stops when asked, finishing the requests it is serving.

    waitress has no shutdown of its own, and closing only the listening socket
    leaves its loop running for every idle keep-alive connection (a partner's
    HTTP client keeps one open for minutes). So the loop runs here, a poll round
    at a time, until stop; then it stops listening, serves what is in flight for
    up to ``grace`` seconds, and closes the remaining connections.
    """

    def __init__(self, role: str, app, host: str, port: int, threads: int = 8, grace: float = 10.0,
                 max_body: int = MAX_FORM_BODY) -> None:
        from waitress.server import create_server

        self.role = role
        self.grace = grace
        # waitress spools a whole request body (up to 1 GiB by default) to a temporary file
        # before the app sees it; past max_body it answers 413 instead, so nobody fills the disk.
        # server_name: the app's own address is the configured host, never a request's Host header.
        self.server = create_server(app, host=host, port=port, threads=threads, ident="rabt",
                                    max_request_body_size=max_body, server_name=host)
        self.endpoint = Endpoint(role, host, self.server.effective_port)

    def run(self, stop: threading.Event) -> None:
        server = self.server
        while not stop.is_set():
            server.asyncore.loop(timeout=0.5, map=server._map, count=1)
        self._drain()

    def _drain(self) -> None:
        from waitress import wasyncore

        server = self.server
        wasyncore.dispatcher.close(server)  # stop listening; connections already accepted go on
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and self._busy():
            server.asyncore.loop(timeout=0.1, map=server._map, count=1)
        for channel in list(server.active_channels.values()):
            channel.handle_close()
        server.trigger.close()
        server.task_dispatcher.shutdown()

    def _busy(self) -> bool:
        """A request is being served or its answer is still being sent."""
        return any(ch.requests or ch.total_outbufs_len for ch in list(self.server.active_channels.values()))


def metrics_role(hub: Hub, host: str, port: int) -> WsgiRole:
    """This process's ``/metrics`` (the console's viewer tokens) and ``/healthz``, for roles without a console."""
    from hub.console.health import create_metrics_app
    from hub.console.users import Users, users_path

    return WsgiRole("metrics", create_metrics_app(Users.load(users_path(hub.settings.home))), host, port, threads=2)


def relay_loop(hub: Hub) -> Callable[[threading.Event], None]:
    from hub.outbox import OutboxRelay

    def run(stop: threading.Event) -> None:
        with hub.open_transport() as transport:
            OutboxRelay(hub.log, transport).run(stop)

    return run


class Supervisor:
    """Runs role loops in threads until stopped; a crashed role stops the process."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures: list[str] = []

    def start(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        def guarded() -> None:
            try:
                loop(self.stop)
            except Exception as exc:  # noqa: BLE001 - reported, and the whole process stops
                log.exception("role %s failed", name)
                self.failures.append(f"{name}: {exc}")
                self.stop.set()

        thread = threading.Thread(target=guarded, name=f"rabt-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())

    def wait(self, grace: float = 30.0) -> None:
        """Block until stopped, then give every role ``grace`` seconds to finish."""
        while not self.stop.wait(0.5):
            pass
        for thread in self._threads:
            thread.join(timeout=grace)
