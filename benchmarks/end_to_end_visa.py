"""The visa phase of ``end_to_end.py``: CheckVisaEligibility at a fixed rate, via the hub and directly.

The police's question goes through the gateway (request/reply to licensing
and back); then as many direct ``GET /api/visa-eligibility`` calls to
licensing at the same rate, for comparison. The generator must not be what
is measured, so

* every request is signed and serialised before the clock starts;
* the schedule is open loop: request ``i`` is due at ``start + i / rate``
  whatever happened to the others, and its latency counts from that due
  time, so a backed-up client or server cannot hide behind a late send;
* sends go over plain ``http.client`` keep-alive connections, one per
  sender thread (``requests`` cost the generator more CPU per call than the
  hub's whole check), and an answer is read with two byte searches, not an
  XML parse;
* the report says how late the generator itself was (from the due time to
  the moment a sender began the request): if that is not small, the figures
  are the generator's, not the system's.

A ``Server.Busy`` fault is counted apart from errors: it is the hub's
bulkhead speaking, a refusal by design, but one the target says should not
happen at this rate.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests

from end_to_end_load import KeepAliveSender, Load, cpu_line, cpu_seconds, gateway_processes, progress
from simulators.police.client import PoliceMessages, soap_envelope

VISA_PROFESSION_OTHER = "2211"  # no vacancy for it on the benchmark's licence: the "no" answer
#: sender threads: each holds one keep-alive connection, so this also bounds the requests in flight.
#: Under the gateway's per-client connection limit (50 per process), above the in-flight
#: count at 200/s even with 100 ms answers (20).
SENDERS = 40
_FLAG = re.compile(rb"EligibleFlag>\s*([YN])\s*<")
_FAULT_CODE = re.compile(rb"faultcode>([^<]*)<")
BUSY = "busy"
#: checks through each path before the clock starts: more than three per gateway server thread of two processes
WARM_CHECKS = 100


@dataclass
class Outcome:
    """What one path answered: latencies (s) from each due time, Busy count, errors, the generator's lag."""

    latencies: list[float] = field(default_factory=list)
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    """Seconds from each due time to the moment a sender thread began that request."""
    in_flight: list[int] = field(default_factory=list)
    """Requests under way (this one included) as each began: what the hub's bulkhead must admit."""


class Connections:
    """One keep-alive HTTP connection per thread to one host, opened again after a failure."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self._local = threading.local()

    def exchange(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One request on this thread's connection: status and body."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            reply = connection.getresponse()
            return reply.status, reply.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._local.connection = None
            raise


def open_loop(call: Callable[[int], str | None], count: int, rate: float, senders: int = SENDERS) -> Outcome:
    """``call(i)`` for i < ``count``, request i due at start + i / rate; what came of them.

    ``call`` returns None for an expected answer or :data:`BUSY`, and raises
    for anything else (counted as an error with its message).
    """
    outcome, jobs = Outcome(), queue.SimpleQueue()
    lock = threading.Lock()
    under_way = [0]

    def sender() -> None:
        while (job := jobs.get()) is not None:
            index, due = job
            began = time.perf_counter()
            with lock:
                under_way[0] += 1
                outcome.in_flight.append(under_way[0])
            try:
                answer = call(index)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                answer = exc
            finished = time.perf_counter()
            with lock:
                under_way[0] -= 1
                if isinstance(answer, Exception):
                    outcome.errors.append(f"{type(answer).__name__}: {answer}"[:300])
                    continue
                outcome.lag.append(began - due)
                if answer == BUSY:
                    outcome.busy += 1
                else:
                    outcome.latencies.append(finished - due)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.05
    for index in range(count):
        due = start + index / rate
        if (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        jobs.put((index, due))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return outcome


def visa_licence(load: Load) -> tuple[str, str, str]:
    """An approved commercial licence (the hub asks commerce) and a nationality and profession it has room for."""
    worker = load.population.find_worker(nationality="IND")
    employer = load.population.find_employer(cr_status="active", chamber_status="valid")
    reply = requests.post(f"{load.stack.urls['licensing']}/api/applications", timeout=60, json={
        "licence_type": "commercial", "employer_cr": employer.cr_number,
        "vacancies": [{"profession_code": worker.profession_code, "count": 50}]})
    decision = (reply.json().get("decision") or {}) if reply.ok else {}
    if reply.status_code != 201 or decision.get("decision") != "approved":
        raise RuntimeError(f"benchmark licence not approved: HTTP {reply.status_code} {reply.text[:300]}")
    return decision["licence_number"], worker.nationality, worker.profession_code


def visa_calls(load: Load, count: int) -> tuple[Callable[[int], str | None], Callable[[int], str | None], list[bytes]]:
    """Call ``i`` through the gateway and directly: same licence, same question, expected answer checked.

    Also the signed requests, for a warm-up.
    """
    licence, nationality, profession = visa_licence(load)
    cases = [(profession, True) if i % 2 == 0 else (VISA_PROFESSION_OTHER, False) for i in range(count)]
    messages = PoliceMessages()
    bodies = [soap_envelope(load.sign(messages.visa_check(licence, nationality, p))) for p, _ in cases]
    queries = [f"/api/visa-eligibility?{urlencode({'licence_number': licence, 'profession_code': p, 'nationality': nationality})}"
               for p, _ in cases]
    gateway, licensing = Connections(load.stack.urls["gateway"]), Connections(load.stack.urls["licensing"])
    soap_headers = {"Content-Type": "text/xml; charset=utf-8"}

    def via_hub(i: int) -> str | None:
        status, body = gateway.exchange("POST", "/soap/police", bodies[i], soap_headers)
        if status != 200:
            code = _FAULT_CODE.search(body)
            fault = code[1].decode(errors="replace") if code else body[:120].decode(errors="replace")
            if fault.endswith("Server.Busy"):
                return BUSY
            raise RuntimeError(f"gateway answered HTTP {status}: {fault}")
        flag = _FLAG.search(body)
        if flag is None or flag[1] != (b"Y" if cases[i][1] else b"N"):
            raise RuntimeError(f"visa check through the hub answered {flag and flag[1]!r}, expected eligible={cases[i][1]}")
        return None

    def direct(i: int) -> str | None:
        status, body = licensing.exchange("GET", queries[i])
        if status != 200:
            raise RuntimeError(f"licensing answered HTTP {status}")
        if json.loads(body)["eligible"] is not cases[i][1]:
            raise RuntimeError(f"direct visa check answered not {cases[i][1]}")
        return None

    return via_hub, direct, bodies


def visa_latency(load: Load, rate: float, seconds: float) -> dict:
    """The police's visa check through the hub at ``rate``, then as many direct calls to licensing."""
    count = int(rate * seconds)
    # Mappings, schemas and both paths' code warmed off the clock, and every gateway server thread too: each
    # opens its own broker connection on its first question (~8 ms alone, up to 60 ms when several open at
    # once), and with 20 warm-up checks 8 of the 32 threads of two processes did so in the first checks on
    # the clock, which with the checks queued behind them were over half of the slowest 1%. waitress hands
    # a request to the thread idle longest, so a few sequential checks per thread reach every one.
    warm = WARM_CHECKS
    via_hub, direct, bodies = visa_calls(load, count + warm + 2)
    # every gateway process started and warmed on a yes and a no (the same two requests for each: a question
    # goes the whole way to licensing however often it is asked), so none starts or compiles on the clock
    gateways = gateway_processes(load)
    sender = KeepAliveSender(load.stack.urls["gateway"], answer=_FLAG)
    if (warmed := sender.warm_every_process(bodies[-2:], gateways)) < gateways:
        progress(f"  warmed {warmed} of {gateways} gateway processes (the others start and compile on the clock)")
    open_loop(lambda i: via_hub(count + i), warm, 100.0), open_loop(lambda i: direct(count + i), warm, 100.0)
    progress(f"visa checks: {count} through the gateway at {rate:g}/s …")
    cpu = cpu_seconds(load.stack)
    hub = open_loop(via_hub, count, rate)
    cpu_hub = cpu_seconds(load.stack)
    progress(f"visa checks: {count} direct to licensing at {rate:g}/s …")
    direct_ = open_loop(direct, count, rate)
    return {"count": count, "hub": hub, "direct": direct_, "cpu_used": (cpu, cpu_hub),
            "cpu": (cpu_line(cpu, cpu_hub), cpu_line(cpu_hub, cpu_seconds(load.stack)))}
