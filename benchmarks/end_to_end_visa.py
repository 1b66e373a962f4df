"""The visa phase of ``end_to_end.py``: CheckVisaEligibility at a fixed rate, via the hub and directly.

The police's question goes through the gateway (request/reply to licensing
and back); then as many direct ``GET /api/visa-eligibility`` calls to
licensing at the same rate, for comparison. The generator must not be what
is measured, so

* every request is signed and serialised before the clock starts;
* the schedule is open loop: request ``i`` is due at ``start + i / rate``
  whatever happened to the others, and its latency counts from that due
  time, so a backed-up client or server cannot hide behind a late send;
* one thread sends every request over keep-alive connections it drives with
  a selector (:mod:`lean_loop`), each request a whole ``bytes`` made before
  the clock and each answer read by a minimal HTTP parser (:mod:`lean_http`)
  and checked with two byte searches, not an XML parse: a sender thread per
  connection with ``http.client`` cost the generator 0.5-1.5 ms of CPU per
  request, up to a quarter of a core taken from the system at 200/s;
* the report says how late the generator itself was (from the due time to
  the moment the request was sent, later when all the connections were
  busy): if that is not small, the figures are the generator's, not the
  system's.

A ``Server.Busy`` fault is counted apart from errors: it is the hub's
bulkhead speaking, a refusal by design, but one the target says should not
happen at this rate.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests

from end_to_end_load import KeepAliveSender, Load, cpu_line, cpu_seconds, gateway_processes, progress
from lean_http import Answer, prepared_request
from lean_loop import Exchanges, Flight
from simulators.police.client import PoliceMessages, soap_envelope

VISA_PROFESSION_OTHER = "2211"  # no vacancy for it on the benchmark's licence: the "no" answer
#: keep-alive connections per path, opened before the clock; also the most requests in flight at once.
#: Under the gateway's per-client connection limit (50 per process), above the in-flight
#: count at 200/s even with 100 ms answers (20).
SENDERS = 40
_FLAG = re.compile(rb"EligibleFlag>\s*([YN])\s*<")
_FAULT_CODE = re.compile(rb"faultcode>([^<]*)<")
_SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
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
    """Seconds from each due time to the moment its request was sent."""
    in_flight: list[int] = field(default_factory=list)
    """Requests under way (this one included) as each was sent: what the hub's bulkhead must admit."""


@dataclass
class VisaPath:
    """One way to ask: prepared requests to one server, and how the answer to request i is checked.

    ``check`` returns None for the expected answer or :data:`BUSY`, and raises for anything else.
    """

    exchanges: Exchanges
    requests: list[bytes]
    check: Callable[[int, Answer], str | None]


def open_loop(path: VisaPath, first: int, count: int, rate: float) -> Outcome:
    """Requests ``first`` … ``first + count - 1`` of ``path``, the n-th due at start + n / rate; what came of them.

    Open loop: each is sent at its due time whatever became of the others (later only when
    every connection is busy, which its lag shows), and its latency counts from that due time.
    """
    outcome = Outcome()

    def answered(index: int, due: float) -> Callable[[Flight, Answer | Exception], None]:
        def done(flight: Flight, result: Answer | Exception) -> None:
            finished = time.perf_counter()
            outcome.in_flight.append(flight.alongside)
            try:
                if isinstance(result, Exception):
                    raise result
                verdict = path.check(index, result)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                outcome.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                return
            outcome.lag.append(flight.began - due)
            if verdict == BUSY:
                outcome.busy += 1
            else:
                outcome.latencies.append(finished - due)
        return done

    exchanges, start = path.exchanges, time.perf_counter() + 0.05
    for n in range(count):
        due = start + n / rate
        while (delay := due - time.perf_counter()) > 0:
            exchanges.poll(delay)  # answers that come meanwhile are read and checked
        exchanges.start(path.requests[first + n], answered(first + n, due))
    exchanges.drain()
    return outcome


def hub_answer(answer: Answer, eligible: bool) -> str | None:
    """None for the police's visa check answered ``eligible`` through the hub, :data:`BUSY` for a Busy fault."""
    if answer.status != 200:
        code = _FAULT_CODE.search(answer.body)
        fault = code[1].decode(errors="replace") if code else answer.body[:120].decode(errors="replace")
        if fault.endswith("Server.Busy"):
            return BUSY
        raise RuntimeError(f"gateway answered HTTP {answer.status}: {fault}")
    flag = _FLAG.search(answer.body)
    if flag is None or flag[1] != (b"Y" if eligible else b"N"):
        raise RuntimeError(f"visa check through the hub answered {flag and flag[1]!r}, expected eligible={eligible}")
    return None


def direct_answer(answer: Answer, eligible: bool) -> None:
    """None when licensing's own API answered ``eligible``."""
    if answer.status != 200:
        raise RuntimeError(f"licensing answered HTTP {answer.status}")
    if json.loads(answer.body)["eligible"] is not eligible:
        raise RuntimeError(f"direct visa check answered not {eligible}")


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


def visa_paths(load: Load, count: int) -> tuple[VisaPath, VisaPath, list[bytes]]:
    """Request ``i`` through the gateway and directly: same licence, same question, expected answer checked.

    Also the signed SOAP bodies, for a warm-up.
    """
    licence, nationality, profession = visa_licence(load)
    eligible = [i % 2 == 0 for i in range(count)]
    messages = PoliceMessages()
    asked = [profession if yes else VISA_PROFESSION_OTHER for yes in eligible]
    bodies = [soap_envelope(load.sign(messages.visa_check(licence, nationality, p))) for p in asked]
    queries = [f"/api/visa-eligibility?{urlencode({'licence_number': licence, 'profession_code': p, 'nationality': nationality})}"
               for p in asked]
    gateway, licensing = urlsplit(load.stack.urls["gateway"]), urlsplit(load.stack.urls["licensing"])
    hub = VisaPath(Exchanges(gateway.hostname, gateway.port, SENDERS),
                   [prepared_request("POST", gateway.hostname, gateway.port, "/soap/police", body, _SOAP_HEADERS)
                    for body in bodies],
                   lambda i, answer: hub_answer(answer, eligible[i]))
    direct = VisaPath(Exchanges(licensing.hostname, licensing.port, SENDERS),
                      [prepared_request("GET", licensing.hostname, licensing.port, query) for query in queries],
                      lambda i, answer: direct_answer(answer, eligible[i]))
    return hub, direct, bodies


def visa_latency(load: Load, rate: float, seconds: float) -> dict:
    """The police's visa check through the hub at ``rate``, then as many direct calls to licensing."""
    count = int(rate * seconds)
    hub, direct, bodies = visa_paths(load, count + WARM_CHECKS + 2)
    try:
        return _measured(load, hub, direct, bodies, count, rate)
    finally:
        hub.exchanges.close()
        direct.exchanges.close()


def _measured(load: Load, hub: VisaPath, direct: VisaPath, bodies: list[bytes], count: int, rate: float) -> dict:
    # Mappings, schemas and both paths' code warmed off the clock, and every gateway server thread too: each
    # opens its own broker connection on its first question (~8 ms alone, up to 60 ms when several open at
    # once), and with 20 warm-up checks 8 of the 32 threads of two processes did so in the first checks on
    # the clock, which with the checks queued behind them were over half of the slowest 1%. waitress hands
    # a request to the thread idle longest, so a few sequential checks per thread reach every one.
    # Every gateway process started and warmed on a yes and a no (the same two requests for each: a question
    # goes the whole way to licensing however often it is asked), so none starts or compiles on the clock.
    gateways = gateway_processes(load)
    sender = KeepAliveSender(load.stack.urls["gateway"], answer=_FLAG)
    if (warmed := sender.warm_every_process(bodies[-2:], gateways)) < gateways:
        progress(f"  warmed {warmed} of {gateways} gateway processes (the others start and compile on the clock)")
    hub.exchanges.open(SENDERS), direct.exchanges.open(SENDERS)  # held by the gateway processes in turn
    open_loop(hub, count, WARM_CHECKS, 100.0), open_loop(direct, count, WARM_CHECKS, 100.0)
    progress(f"visa checks: {count} through the gateway at {rate:g}/s …")
    cpu = cpu_seconds(load.stack)
    via_hub = open_loop(hub, 0, count, rate)
    cpu_hub = cpu_seconds(load.stack)
    progress(f"visa checks: {count} direct to licensing at {rate:g}/s …")
    direct_ = open_loop(direct, 0, count, rate)
    return {"count": count, "hub": via_hub, "direct": direct_, "cpu_used": (cpu, cpu_hub),
            "cpu": (cpu_line(cpu, cpu_hub), cpu_line(cpu_hub, cpu_seconds(load.stack)))}
