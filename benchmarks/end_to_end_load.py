"""The load ``end_to_end.py`` drives through a running stack: border pushes (visa checks: ``end_to_end_visa``).

Everything here talks to the stack as its users do — the police over SOAP to
the gateway, anyone over licensing's HTTP API — and reads licensing's
database only to see when the pushed notifications are applied. Requests are
signed before the clock starts, so the figures measure the system, not the
police's signing.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa

from end_to_end_floor import tree_cpu_seconds
from end_to_end_processes import DatabaseWatch, ceiling, process_lines, process_use, snapshot
from simulators.demo.stack import Stack
from simulators.licensing.tables import events
from simulators.police.client import PoliceClient, PoliceMessages, police_signer, soap_envelope
from simulators.population import Population

BORDER_TYPES = ("WorkerArrival", "WorkerDeparture", "ResidenceRenewal")


def progress(text: str) -> None:
    """A progress line on stderr (stdout carries only the figures)."""
    print(text, file=sys.stderr, flush=True)


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) each stack process, with its descendants, and this benchmark used so far.

    The benchmark's own process only: every stack process is its descendant,
    so its tree would count the whole system as the client.
    """
    used = tree_cpu_seconds({name: process.pid for name, process in stack.processes.items()})
    own = os.times()
    return used | {"benchmark": own.user + own.system}


def cpu_line(before: dict[str, float], after: dict[str, float]) -> str:
    """``name seconds, …`` of CPU spent between two :func:`cpu_seconds` readings."""
    return ", ".join(f"{name} {after[name] - before.get(name, 0.0):.1f}" for name in sorted(after))


@dataclass
class Load:
    """The running stack, the population its simulators serve, and the police's signing key."""

    stack: Stack
    population: Population
    _local: threading.local = field(default_factory=threading.local)

    def __post_init__(self) -> None:
        self.sign = police_signer(self.stack.home / "pki")
        self.engine = sa.create_engine(f"sqlite:///{self.stack.home / 'licensing.sqlite3'}")

    def police(self) -> PoliceClient:
        """This thread's police client; ``sign=None`` since requests come signed already."""
        if not hasattr(self._local, "client"):
            self._local.client = PoliceClient(f"{self.stack.urls['gateway']}/soap/police", None, timeout=30)
        return self._local.client

    def applied(self) -> int:
        """Border notifications licensing has applied (its own database, as its API reads it)."""
        query = sa.select(sa.func.count()).select_from(events).where(events.c.message_type.in_(BORDER_TYPES))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def wait_applied(self, target: int, timeout: float) -> int:
        """Poll until licensing applied ``target`` notifications or ``timeout`` passed; the count."""
        deadline = time.monotonic() + timeout
        applied = self.applied()
        while applied < target and time.monotonic() < deadline:
            time.sleep(0.05)
            applied = self.applied()
        return applied

    def close(self) -> None:
        self.engine.dispose()


def guarded(fn: Callable, *args) -> str | None:
    """None when ``fn(*args)`` worked, else what went wrong (a counted error, not the end of the run)."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the benchmark
        return f"{type(exc).__name__}: {exc}"
    return None


@contextmanager
def pool_for(threads: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, on Ctrl-C, drops the requests not yet started instead of sending them all."""
    pool = ThreadPoolExecutor(threads)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ------------------------------------------------------------------ throughput


def border_requests(load: Load, count: int) -> list[bytes]:
    """``count`` signed SOAP requests, ready to send: arrival, departure, renewal in turn over the population.

    Each is a new message with its own police id, signed with the police key
    and serialized here, before any clock starts.
    """
    messages, workers = PoliceMessages(), load.population.spec.workers
    built = []
    for i in range(count):
        worker = load.population.worker(i % workers)
        element = (messages.arrival(worker, visa_no=f"EV-{worker.civil_number}") if i % 3 == 0
                   else messages.departure(worker) if i % 3 == 1
                   else messages.residence_renewal(worker))
        built.append(soap_envelope(load.sign(element)))
    return built


_SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:om:rop:hubgateway:2020#Notify"'}
_HUB_MESSAGE_ID = re.compile(rb"HubMessageId>\s*[^<\s]")


class KeepAliveSender:
    """Posts prepared requests to the gateway over one keep-alive HTTP connection per thread.

    The cheapest client that still checks each answer: ``http.client``, no
    parsing of the answer beyond finding ``answer`` in it (default: the
    receipt's hub message id), a new connection only when the server closed
    the old one.
    """

    def __init__(self, gateway_url: str, timeout: float = 30.0, answer: re.Pattern = _HUB_MESSAGE_ID) -> None:
        parts = urlsplit(gateway_url)
        self.host, self.port, self.path = parts.hostname, parts.port, f"{parts.path}/soap/police"
        self.timeout = timeout
        self.answer = answer
        self._local = threading.local()
        #: pushes answered by each gateway process (its pid), as the connections landed
        self.per_process: Counter[str] = Counter()
        self._counting = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if getattr(self._local, "connection", None) is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.process = gateway_process(connection)
            self._local.connection = connection
        return self._local.connection

    def post(self, body: bytes) -> bytes:
        """The gateway's answer to ``body``; RuntimeError unless it is a receipt naming the hub's message id."""
        for attempt in (1, 2):  # a keep-alive connection the server closed meanwhile is opened again once
            connection = self._connection()
            try:
                connection.request("POST", self.path, body, headers=_SOAP_HEADERS)
                reply = connection.getresponse()
                answer = reply.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        if reply.will_close:
            connection.close()
            self._local.connection = None
        if reply.status != 200 or not self.answer.search(answer):
            raise RuntimeError(f"HTTP {reply.status}, not the answer expected ({self.answer.pattern!r}): {answer[:200]!r}")
        with self._counting:
            self.per_process[self._local.process] += 1
        return answer

    def warm_every_process(self, bodies: list[bytes], processes: int, wait: float = 30.0) -> int:
        """Send ``bodies`` once through each of ``processes`` gateway processes; how many were reached.

        Each process compiles the mappings and schemas on its first request of a
        kind, which must happen off the clock. A connection stays with the process
        that accepted it, and a process defers a new connection to a peer holding
        fewer, so the connections already opened are held while the next is opened,
        until each process has answered on one (``/healthz`` names it). A process
        still starting takes none: then, for up to ``wait`` seconds, all are let go
        and the round is tried again (a round holds a few connections, well under
        the gateway's limit per client).
        """
        warmed: set[str] = set()
        deadline = time.monotonic() + wait
        while len(warmed) < processes and time.monotonic() < deadline:
            held: list[http.client.HTTPConnection] = []
            try:
                while len(warmed) < processes and len(held) < 2 * processes:
                    self._local.connection = None  # held below: the next connection lands beside it
                    held.append(self._connection())
                    if self._local.process not in warmed:
                        for body in bodies:
                            self.post(body)
                        warmed.add(self._local.process)
            finally:
                for connection in held:
                    connection.close()
                self._local.connection = None
            if len(warmed) < processes:
                time.sleep(0.5)
        self.per_process.clear()
        return len(warmed)

    def close(self) -> None:
        """Close this thread's connection (the next post opens one, maybe to another process)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


def gateway_processes(load: Load) -> int:
    """How many gateway processes the stack's ``rabt serve`` runs (1 when it serves in one process)."""
    roots = {name: process.pid for name, process in load.stack.processes.items()}
    return sum(" gateway pid " in use.label for use in process_use(roots).values()) or 1


def gateway_process(connection: http.client.HTTPConnection) -> str:
    """The pid of the gateway process that holds ``connection`` (its ``/healthz`` answer names it), or "?"."""
    try:
        connection.request("GET", "/healthz")
        reply = connection.getresponse()
        reply.read()
    except (OSError, http.client.HTTPException):
        connection.close()  # opened again by the first post
        return "?"
    return reply.getheader("X-Rabt-Process", "?")


def throughput(load: Load, count: int, clients: int, timeout: float) -> dict:
    """Push ``count`` from ``clients`` threads; seconds until all got receipts, until all were applied.

    Also where the CPU went, process by process (:mod:`end_to_end_processes`), how the
    clients' connections spread over the gateway processes, and, on PostgreSQL, the log
    database's commits per message and what its backends waited on.
    """
    sender = KeepAliveSender(load.stack.urls["gateway"])
    roots = {name: process.pid for name, process in load.stack.processes.items()}
    gateways = gateway_processes(load)
    warmed = sender.warm_every_process(border_requests(load, 3), gateways)
    if warmed < gateways:
        progress(f"  warmed {warmed} of {gateways} gateway processes (the others compile on the clock)")
    base = load.wait_applied(3 * warmed, 60)
    signed_requests = border_requests(load, count)
    progress(f"throughput: {count} signed notifications from {clients} client threads …")
    with database_watch(load.stack.database_url) as database:
        database_name = load.stack.database_url.rsplit("/", 1)[-1] if load.stack.database_url else ""
        processes_before = snapshot(roots, database_name)
        cpu = cpu_seconds(load.stack)
        started = time.perf_counter()
        with pool_for(clients) as pool:
            errors = [e for e in pool.map(lambda body: guarded(sender.post, body), signed_requests) if e]
        accepted = time.perf_counter() - started
        cpu_accepted = cpu_seconds(load.stack)
        applied = load.wait_applied(base + count - len(errors), timeout) - base
        done = time.perf_counter() - started
        cpu_after = cpu_seconds(load.stack)
        processes_after = snapshot(roots, database_name)
    progress(f"  applied {applied} of {count} in {done:.1f}s")
    # the client's own CPU while it sent (the polling for licensing's count after it is not the client's)
    client = cpu_accepted["benchmark"] - cpu["benchmark"]
    spread = ", ".join(f"pid {pid}: {n}" for pid, n in sorted(sender.per_process.items()))
    accounting = [f"where the CPU went, SOAP push to applied ({done:.1f} s):",
                  *process_lines(processes_before, processes_after, applied),
                  f"  pushes answered per gateway process (as the {clients} clients' connections landed): {spread}",
                  *(database.lines(applied) if database else [])]
    return {"count": count, "accepted_s": accepted, "applied": applied, "applied_s": done, "errors": errors,
            "cpu": cpu_line(cpu, cpu_after), "cpu_used": (cpu, cpu_after), "client_cpu": client,
            "accounting": accounting, "ceiling": ceiling(processes_before, processes_after, applied)}


@contextmanager
def database_watch(url: str) -> Iterator[DatabaseWatch | None]:
    """Watch the log's PostgreSQL database for the block (None on SQLite)."""
    if not url.startswith("postgresql"):
        yield None
        return
    with DatabaseWatch(url) as watch:
        yield watch
