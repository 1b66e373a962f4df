"""The load ``end_to_end.py`` drives through a running stack: border pushes (visa checks: ``end_to_end_visa``).

Everything here talks to the stack as its users do — the police over SOAP to
the gateway, anyone over licensing's HTTP API — and reads licensing's
database only to see when the pushed notifications are applied. Requests are
signed before the clock starts, so the figures measure the system, not the
police's signing.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa

from end_to_end_floor import tree_cpu_seconds
from end_to_end_processes import DatabaseWatch, ceiling, process_lines, process_use, snapshot
from lean_http import Answer, Connection, prepared_request
from lean_loop import Exchanges, Flight, closed_loop
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
    """Posts prepared requests to the gateway over keep-alive connections and checks each answer.

    The cheapest client that still checks each answer (:mod:`lean_http`): a request
    serialized whole before the clock and sent in one call, no parsing of the answer
    beyond its status and finding ``answer`` in its body (default: the receipt's hub
    message id). :meth:`push_all` keeps every connection of :meth:`connections` busy
    from one thread (:mod:`lean_loop`); :meth:`warm_every_process` posts one at a time.
    """

    def __init__(self, gateway_url: str, timeout: float = 30.0, answer: re.Pattern = _HUB_MESSAGE_ID) -> None:
        parts = urlsplit(gateway_url)
        self.host, self.port, self.path = parts.hostname, parts.port, f"{parts.path}/soap/police"
        self.timeout = timeout
        self.answer = answer
        #: pushes answered by each gateway process (its pid), as the connections landed
        self.per_process: Counter[str] = Counter()

    def prepared(self, bodies: list[bytes]) -> list[bytes]:
        """Each SOAP body as the whole HTTP request that posts it."""
        return [prepared_request("POST", self.host, self.port, self.path, body, _SOAP_HEADERS) for body in bodies]

    def check(self, answer: Answer) -> None:
        """RuntimeError unless ``answer`` is a 200 holding the expected answer."""
        if answer.status != 200 or not self.answer.search(answer.body):
            raise RuntimeError(f"HTTP {answer.status}, not the answer expected ({self.answer.pattern!r}): "
                               f"{answer.body[:200]!r}")

    def connections(self, clients: int) -> Exchanges:
        """``clients`` keep-alive connections, opened now (off the clock), each labelled with its gateway process."""
        exchanges = Exchanges(self.host, self.port, clients, self.timeout, greet=_greet)
        try:
            exchanges.open(clients)
        except BaseException:
            exchanges.close()
            raise
        return exchanges

    def push_all(self, exchanges: Exchanges, requests: list[bytes]) -> list[str]:
        """Every prepared request posted over ``exchanges``, all its connections busy, each answer checked; the errors."""
        errors: list[str] = []

        def answered(flight: Flight, result: Answer | Exception) -> None:
            try:
                if isinstance(result, Exception):
                    raise result
                self.check(result)
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the benchmark
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                self.per_process[flight.connection.label] += 1

        closed_loop(exchanges, requests, exchanges.limit, answered)
        return errors

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
        requests, warmed = self.prepared(bodies), set()
        deadline = time.monotonic() + wait
        while len(warmed) < processes and time.monotonic() < deadline:
            held: list[Connection] = []
            try:
                while len(warmed) < processes and len(held) < 2 * processes:
                    held.append(connection := Connection(self.host, self.port, self.timeout))
                    _greet(connection)
                    if connection.label not in warmed:
                        for request in requests:
                            self.check(connection.exchange(request))
                        warmed.add(connection.label)
            finally:
                for connection in held:
                    connection.close()
            if len(warmed) < processes:
                time.sleep(0.5)
        return len(warmed)


def gateway_processes(load: Load) -> int:
    """How many gateway processes the stack's ``rabt serve`` runs (1 when it serves in one process)."""
    roots = {name: process.pid for name, process in load.stack.processes.items()}
    return sum(" gateway pid " in use.label for use in process_use(roots).values()) or 1


def _greet(connection: Connection) -> None:
    """Label ``connection`` with the pid of the gateway process holding it (its ``/healthz`` answer names it), or "?"."""
    try:
        answer = connection.exchange(prepared_request("GET", connection.host, connection.port, "/healthz"))
    except OSError:
        connection.close()  # opened again by the first post
        connection.label = "?"
        return
    connection.label = answer.headers.get("x-rabt-process", "?")


def throughput(load: Load, count: int, clients: int, timeout: float) -> dict:
    """Push ``count`` over ``clients`` connections at once; seconds until all got receipts, until all were applied.

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
    signed_requests = sender.prepared(border_requests(load, count))
    progress(f"throughput: {count} signed notifications over {clients} keep-alive connections at once …")
    with database_watch(load.stack.database_url) as database, sender.connections(clients) as connections:
        database_name = load.stack.database_url.rsplit("/", 1)[-1] if load.stack.database_url else ""
        processes_before = snapshot(roots, database_name)
        cpu = cpu_seconds(load.stack)
        started = time.perf_counter()
        errors = sender.push_all(connections, signed_requests)
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
