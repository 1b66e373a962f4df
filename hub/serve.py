"""``rabt serve``: the long-running hub, all roles in one process or one per process.

Roles are stateless and share nothing but RabbitMQ (or the embedded broker)
and the message-log database, so any number of each can run on any machine:

* ``gateway`` — the agencies' SOAP endpoints (waitress WSGI server);
* ``relay``   — publishes what the message log holds but the broker has not confirmed;
* ``worker``  — outbound SOAP workers, one consumer per adapter queue;
* ``watcher`` — file-drop folders;
* ``console`` — the operator console, JSON API and ``/metrics``;
* ``stamper`` — has the message log's anchors stamped by the TSA (only when ``RABT_TSA_URL`` is set);
* ``retention`` — archives each closed period and purges archived payloads when due (only when
  ``RABT_RETENTION_FOLDER`` is set; run it in one process).

:mod:`hub.roles` runs and restarts them. SIGTERM or SIGINT sets one stop
event: loops finish the message in hand, ack it and close their connections;
HTTP roles answer what they are serving and stop listening; then the process
exits 0.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from hub.bootstrap import Hub
from hub.config_roles import GatewaySettings
from hub.listener import GatedListener, Peers, bind_listener
from hub.roles import Backoff, Role, Supervisor

__all__ = ["CONSOLE_LIMITS", "GATEWAY_LIMITS", "ROLES", "Backoff", "ConnectionLimits", "Endpoint", "Role",
           "Supervisor", "WsgiRole", "metrics_role", "relay_loop"]

log = logging.getLogger(__name__)

ROLES = ("gateway", "relay", "worker", "watcher", "console", "stamper", "retention")


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

#: Bytes of an answer a gateway request thread leaves to waitress's loop thread to send (waitress's
#: ``send_bytes``). With waitress's default (1) the request thread sends the status line and headers,
#: then the body, itself: two socket calls, each a release of the GIL, and with the other request
#: threads waiting for it each release is a hand-over, and getting it back a wait. Buffered, the loop
#: thread, which waitress wakes at the end of every request anyway, sends the whole answer in one call.
#: The gateway's answers (signed receipts and faults, a few KB; a WSDL) fit in this. Measured in the
#: end-to-end benchmark (one process, 8 clients, ECDSA, PostgreSQL): about 40% fewer thread switches
#: and 12% less CPU per push.
ANSWER_BUFFER = 64 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections an HTTP role keeps, from one client and in all, and how long a slow one may stay.

    waitress's defaults (100 connections, 120 s idle) let about a hundred idle,
    half-sent requests from one client stop a gateway from answering anyone:
    short idle and head timeouts, a larger cap in all and a cap per client
    address (:mod:`hub.listener`) make that cost far more connections and
    far more addresses.
    """

    #: connections held at once; past it waitress stops accepting until one closes
    connection_limit: int
    #: seconds a connection may stay idle (no bytes, no request in progress) before it is closed
    channel_timeout: int
    #: how often, in seconds, idle connections are looked for
    cleanup_interval: int
    #: connections one client address may hold in this process (0: no limit, e.g. behind the TLS proxy)
    per_client: int = 0
    #: seconds a new connection may take to send its first request's head (0: no deadline)
    header_timeout: float = 0.0
    #: bytes of an answer left to the server's loop to send at once (1, waitress's default: each write is sent)
    send_bytes: int = 1

    @classmethod
    def for_gateway(cls, gateway: GatewaySettings, *, behind_proxy: bool) -> ConnectionLimits:
        """The gateway's limits from its settings; behind the proxy every client has the proxy's address."""
        idle = max(1, round(gateway.idle_timeout))
        return cls(connection_limit=gateway.connection_limit, channel_timeout=idle,
                   cleanup_interval=max(1, min(2, idle // 2)),
                   per_client=0 if behind_proxy else gateway.client_connection_limit,
                   header_timeout=gateway.idle_timeout, send_bytes=ANSWER_BUFFER)

    def adjustments(self) -> dict:
        # poll(), not select(): select cannot watch descriptors past 1024
        buffered = {"send_bytes": self.send_bytes} if self.send_bytes != 1 else {}
        return {"connection_limit": self.connection_limit, "channel_timeout": self.channel_timeout,
                "cleanup_interval": self.cleanup_interval, "asyncore_use_poll": True, **buffered}


#: agencies' clients: many at once, each answered in seconds (request/reply waits count as busy, not idle)
GATEWAY_LIMITS = ConnectionLimits.for_gateway(GatewaySettings(), behind_proxy=False)
#: operators' browsers and a Prometheus scraper
CONSOLE_LIMITS = ConnectionLimits(connection_limit=100, channel_timeout=30, cleanup_interval=5, header_timeout=30)


class _Gate:
    """WSGI middleware that counts requests in flight and, once closing, turns new ones away with 503.

    waitress's ``close()`` stops listening but gives no way to wait for the
    answers in progress; the count says when the last one has left the
    application, and a 503 tells a client that came in meanwhile to try again
    (elsewhere, behind a balancer) instead of waiting for a server that is going.
    ``/healthz`` answers name the process that gave them (``X-Rabt-Process``), so an
    operator (or a test) can see which of several processes sharing a port answered.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.closing = False
        self._in_flight = 0
        self._idle = threading.Condition()

    def __call__(self, environ, start_response):
        if self.closing:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
            return [b"stopping; try again\n"]
        if environ.get("PATH_INFO") == "/healthz":
            start_response = _naming_the_process(start_response)
        with self._idle:
            self._in_flight += 1
        try:
            return _Answer(self.app(environ, start_response), self._finished)
        except BaseException:
            self._finished()
            raise

    def _finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (at most ``timeout`` seconds); whether none is."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


def _naming_the_process(start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Rabt-Process", str(os.getpid()))], exc_info)

    return start


class _Answer:
    """An application's response body that reports when the server has closed it (sent it all)."""

    def __init__(self, body, finished: Callable[[], None]) -> None:
        self.body, self._finished = body, finished

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._finished()


#: after the last answer leaves the application: time for waitress's worker thread to hand it to its loop
SETTLE_SECONDS = 0.2
#: then how long the answers' bytes may take to leave the sockets
FLUSH_SECONDS = 2.0


class WsgiRole:
    """A WSGI app under waitress, driven only through waitress's public API (``create_server``, ``run``, ``close``).

    ``run(stop)`` serves until ``stop``; then new requests get 503, requests in
    flight get up to ``grace`` seconds, and the server stops listening. waitress
    keeps its loop running for as long as a client holds an idle keep-alive
    connection after ``close()``; that loop runs in a daemon thread which is not
    waited for (the process ends, or the client's idle timeout comes), so an
    idle partner never holds up a stop.
    """

    def __init__(self, role: str, app, host: str, port: int, threads: int = 8, grace: float = 10.0,
                 max_body: int = MAX_FORM_BODY, limits: ConnectionLimits = CONSOLE_LIMITS,
                 sock: socket.socket | None = None, peers: Peers | None = None) -> None:
        self.role = role
        self.grace = grace
        self.gate = _Gate(app)
        # ``sock``: a listening socket shared with other processes (hub.prefork), ``peers`` their
        # connection counts (who takes a new connection); else one of our own.
        listener = GatedListener(sock or bind_listener(host, port), limits.per_client, limits.header_timeout, peers)
        # waitress spools a whole request body (up to 1 GiB by default) to a temporary file
        # before the app sees it; past max_body it answers 413 instead, so nobody fills the disk.
        # server_name: the app's own address is the configured host, never a request's Host header.
        self.server = _create_server(self.gate, sockets=[listener], threads=threads, ident="rabt",
                                     max_request_body_size=max_body, server_name=host, **limits.adjustments())
        self.endpoint = Endpoint(role, host, int(self.server.effective_port))  # waitress gives it as text

    def run(self, stop: threading.Event) -> None:
        serving = threading.Thread(target=self.server.run, name=f"rabt-{self.role}-http", daemon=True)
        serving.start()
        while not stop.wait(0.5):
            if not serving.is_alive():
                raise RuntimeError(f"{self.role}: the HTTP server stopped by itself")
        self.gate.closing = True
        if not self.gate.wait_idle(self.grace):
            log.warning("%s: requests still in flight after %.0fs; stopping anyway", self.role, self.grace)
        time.sleep(SETTLE_SECONDS)
        self.server.close()
        serving.join(FLUSH_SECONDS)  # ends at once unless an idle keep-alive client is still connected


def _create_server(app, **adjustments):
    """waitress's ``create_server``; ``send_bytes`` left out, said once, by a waitress that no longer takes it.

    waitress 3 marks ``send_bytes`` deprecated (a DeprecationWarning) but still honours it; without
    it answers are only sent in two calls from the request thread, as before :data:`ANSWER_BUFFER`.
    """
    from waitress import create_server

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "send_bytes", DeprecationWarning)
        try:
            return create_server(app, **adjustments)
        except ValueError as exc:
            if "send_bytes" not in str(exc) or "send_bytes" not in adjustments:
                raise
    log.warning("this waitress takes no send_bytes: request threads send their answers themselves")
    return create_server(app, **{k: v for k, v in adjustments.items() if k != "send_bytes"})


def metrics_role(hub: Hub, host: str, port: int) -> WsgiRole:
    """This process's ``/metrics`` (viewer tokens), ``/healthz`` and ``/readyz``, for roles without a console."""
    from hub.console.health import create_metrics_app, dependency_probes
    from hub.console.users import users_path
    from hub.console.users_watch import WatchedUsers
    from hub.transports import transport_class

    users = WatchedUsers(users_path(hub.settings.home, hub.settings.console.users_file))
    # /readyz answers a load balancer: the broker probe gives up within seconds
    url = hub.settings.effective_broker_url
    quick = {"reconnect_timeout": 2.0} if transport_class(url).capabilities.reconnect_timeout else {}
    probes = dependency_probes(hub.log.engine, lambda: hub.open_transport(**quick))
    return WsgiRole("metrics", create_metrics_app(users, probes), host, port, threads=2)


def relay_loop(hub: Hub) -> Callable[[threading.Event], None]:
    from hub.outbox import OutboxRelay

    def run(stop: threading.Event) -> None:
        with hub.open_transport() as transport:
            OutboxRelay(hub.log, transport).run(stop)

    return run
