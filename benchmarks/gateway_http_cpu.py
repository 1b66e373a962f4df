"""What the HTTP server adds to a push: the gateway's CPU per push over waitress against the app called directly.

    python benchmarks/gateway_http_cpu.py                       # ECDSA, 8 clients, 3 rounds of 400 pushes
    python benchmarks/gateway_http_cpu.py --clients 4 --rounds 4 --count 600

One process holds a gateway (``push_instructions.InProcessGateway``: the hub's
WSGI app on a SQLite message log and the embedded broker, no relay) and, like
a ``rabt serve`` gateway process, serves it through :class:`hub.serve.WsgiRole`
(waitress, the gateway's connection limits, the gated listener) with its
metrics in multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, as a gateway child
of ``rabt serve --processes N`` counts them). Rounds alternate two phases over
fresh signed police notifications:

* **direct** — ``--clients`` threads of this process call the WSGI app;
* **http** — ``--clients`` threads of a separate client process post the
  same kind of requests over keep-alive connections.

Printed for each, per push, of this process (every thread): CPU (user +
system, ``getrusage``), context switches, time in and runs of the garbage
collector, and read and write calls and KB written (``/proc/self/io``: the
message log's WAL frames and checkpoints, sockets, the waitress trigger). The
difference between the phases is what the server, its threads and the
hand-overs between them cost. The client process's CPU is not counted. The
server is started as ``rabt serve`` starts it, then the garbage collector is
settled as there (:func:`hub.roles.settle_garbage_collector`); ``--threads``,
``--send-bytes`` and ``--switch-interval`` try other server settings.

Measured on a shared 2-core machine (ECDSA, 4 clients): direct 1.72-1.89 ms,
http 1.89-2.58 ms CPU per push (0.2-0.5 ms, 11-25%, for waitress); 43 writes
and 90 KB per push direct, 56 and 124 KB over HTTP (smaller groups per commit).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: this run's metric files (its own folder, removed at the end), set before prometheus_client is imported
METRICS_FOLDER = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rabt-bench-metrics-")

from push_instructions import GATEWAY_PATH, WARM, InProcessGateway, signed_requests

_CLIENT = r"""
import http.client, sys, threading
from concurrent.futures import ThreadPoolExecutor
port, clients, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
import pathlib
bodies = [p.read_bytes() for p in sorted(pathlib.Path(folder).iterdir())]
local = threading.local()
def push(body):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", sys.argv[4], body, {"Content-Type": "text/xml; charset=utf-8",
                                             "SOAPAction": '"urn:om:rop:hubgateway:2020#Notify"'})
    answer = conn.getresponse()
    data = answer.read()
    if answer.status != 200 or b"HubMessageId" not in data:
        raise SystemExit(f"push refused: {answer.status} {data[:300]!r}")
with ThreadPoolExecutor(clients) as pool:
    list(pool.map(push, bodies))
"""


def cpu_and_switches() -> tuple[float, int]:
    """CPU seconds and context switches of every thread of this process so far."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime, used.ru_nvcsw + used.ru_nivcsw


def io_counts() -> dict[str, int]:
    """This process's read and write calls and bytes so far (``/proc/self/io``)."""
    return {k: int(v) for k, v in (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())}


def direct(gateway: InProcessGateway, bodies: list[bytes], clients: int) -> None:
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(gateway.push, bodies))


def written(bodies: list[bytes], scratch: Path) -> Path:
    """A folder holding ``bodies``, one file each, for the client process to read."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    for i, body in enumerate(bodies):
        (folder / f"{i:06d}").write_bytes(body)
    return folder


def over_http(port: int, folder: Path, clients: int) -> None:
    subprocess.run([sys.executable, "-c", _CLIENT, str(port), str(clients), str(folder), GATEWAY_PATH], check=True)


class GcClock:
    """Collections and the seconds they took, per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.count, self.seconds, self._started = [0, 0, 0], [0.0, 0.0, 0.0], 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def reading(self) -> tuple[list[int], list[float]]:
        return list(self.count), list(self.seconds)


def measured(run, clock: GcClock) -> dict:
    """CPU seconds, context switches, collections and seconds in them of this process while ``run()`` ran."""
    (cpu, switches), (collections, in_gc), io = cpu_and_switches(), clock.reading(), io_counts()
    run()
    (after_cpu, after_switches), (after_collections, after_gc) = cpu_and_switches(), clock.reading()
    io = {k: v - io[k] for k, v in io_counts().items()}
    return {"cpu": after_cpu - cpu, "switches": after_switches - switches, "io": io,
            "collections": [a - b for a, b in zip(after_collections, collections)],
            "gc": sum(after_gc) - sum(in_gc)}


def report(results: dict[str, list[dict]], count: int) -> list[str]:
    """The table: per push, the mean of the rounds (CPU also each round)."""
    head = (f"{'phase':<8}{'CPU ms/push, each round':<36}{'mean':>7}{'switches/push':>15}{'gc ms/push':>12}"
            f"{'gc runs/1000 (gen 0/1/2)':>26}{'reads':>7}{'writes':>7}{'KB written':>11}  (calls and bytes per push)")
    lines = [head]
    for phase, runs in results.items():
        cpu = [r["cpu"] / count * 1000 for r in runs]

        def per(key: str, runs=runs) -> float:
            return sum(r["io"][key] for r in runs) / len(runs) / count

        collections = "/".join(f"{sum(r['collections'][g] for r in runs) / len(runs) / count * 1000:.0f}"
                               for g in range(3))
        lines.append(f"{phase:<8}{', '.join(f'{c:.2f}' for c in cpu):<36}{sum(cpu) / len(cpu):>7.2f}"
                     f"{sum(r['switches'] for r in runs) / len(runs) / count:>15.1f}"
                     f"{sum(r['gc'] for r in runs) / len(runs) / count * 1000:>12.3f}{collections:>26}"
                     f"{per('syscr'):>7.1f}{per('syscw'):>7.1f}{per('wchar') / 1024:>11.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    from hub.config_roles import GatewaySettings
    from hub.roles import settle_garbage_collector
    from hub.serve import ConnectionLimits, WsgiRole

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="pushes per phase")
    parser.add_argument("--rounds", type=int, default=3, help="times each phase runs, alternated")
    parser.add_argument("--clients", type=int, default=8, help="threads pushing at once")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="ec")
    parser.add_argument("--threads", type=int, default=None, help="server threads (default: the gateway's)")
    parser.add_argument("--send-bytes", type=int, default=None, help="waitress send_bytes (default: the gateway's)")
    parser.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval, seconds")
    parser.add_argument("--phases", nargs="+", default=["direct", "http"], choices=("direct", "http"))
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="rabt-bench-http-"))
    stop = threading.Event()
    try:
        gateway = InProcessGateway(home, "sqlite:///" + str(home / "broker.sqlite3"), args.key_type)
        settings = GatewaySettings()
        limits = ConnectionLimits.for_gateway(settings, behind_proxy=False)
        if args.send_bytes is not None:
            limits = dataclasses.replace(limits, send_bytes=args.send_bytes)
        if args.switch_interval is not None:
            sys.setswitchinterval(args.switch_interval)
        role = WsgiRole("gateway", gateway.app, "127.0.0.1", 0, threads=args.threads or settings.threads, limits=limits)
        serving = threading.Thread(target=role.run, args=(stop,), daemon=True)
        serving.start()
        bodies = signed_requests(home / "pki", WARM + len(args.phases) * args.rounds * args.count, 0)
        settle_garbage_collector()  # as rabt serve does once its parts are built
        over_http(role.endpoint.port, written(bodies[:WARM // 2], home), args.clients)
        direct(gateway, bodies[WARM // 2:WARM], args.clients)
        clock, results = GcClock(), {phase: [] for phase in args.phases}
        offset = WARM
        for _ in range(args.rounds):
            for phase in args.phases:
                chunk = bodies[offset:offset + args.count]
                offset += args.count
                folder = written(chunk, home) if phase == "http" else None
                run = ((lambda c=chunk: direct(gateway, c, args.clients)) if phase == "direct" else
                       (lambda f=folder: over_http(role.endpoint.port, f, args.clients)))
                results[phase].append(measured(run, clock))
        stop.set()
        serving.join(15)
        gateway.hub.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(METRICS_FOLDER, ignore_errors=True)
    print(f"$ python benchmarks/gateway_http_cpu.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print("\n".join(report(results, args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
