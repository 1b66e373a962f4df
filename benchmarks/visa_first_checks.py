"""How long the first visa checks take on RabbitMQ: just after a gateway starts, and after it sat quiet.

    python benchmarks/visa_first_checks.py                    # 3 rounds, 12 checks one after another each time
    python benchmarks/visa_first_checks.py --at-once          # the 12 sent at once
    python benchmarks/visa_first_checks.py --rounds 5 --heartbeat 5

Each round starts ``rabt serve --role gateway --processes 1`` (waitress,
16 threads) on a fresh port over RabbitMQ, on queues of the benchmark's own,
with a heartbeat of ``--heartbeat`` seconds negotiated (RabbitMQ closes a
connection silent for two of them: quiet hours, compressed). Licensing is a
thread of this script answering each question signed. Once ``/healthz``
answers and ``--settle`` seconds have passed, ``--checks`` visa checks are
sent one after another (waitress hands each to the server thread idle
longest, so each reaches another thread), or with ``--at-once`` all at once (a
burst); then again after ``--idle`` seconds of quiet; then once more (warm:
the floor). Each check's latency is from its send to its answer, over a new
HTTP connection; each phase also counts the broker connections the gateway
process opened during it (its sockets to port 5672 that were not there
before, from ``/proc``). Prints one JSON line per round and the medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hub
import requests
from hub import lifeline

ROOT = Path(hub.__file__).resolve().parents[1]  # the tree this interpreter runs (a base checkout, say)
sys.path.insert(0, str(ROOT))

from hub.bootstrap import bootstrap  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.pki import init_pki  # noqa: E402
from hub.routing import load_routes  # noqa: E402
from hub.signing import Verifier  # noqa: E402
from hub.transports.testing import DEFAULT_AMQP_URL  # noqa: E402
from simulators.demo.ports import free_port  # noqa: E402
from simulators.police.client import PoliceClient, police_signer  # noqa: E402
from tests.integration.test_gateway_police import Gateway, LicensingResponder, licensing_signer  # noqa: E402


def routes_file(folder: Path) -> Path:
    path = folder / "routes.toml"
    path.write_text(f'queue_prefix = "bench-{uuid.uuid4().hex[:8]}."\ndestinations = ["licensing", "police", "hub"]\n',
                    encoding="utf-8")
    return path


def checks(pki: Path, count: int) -> list[bytes]:
    police = PoliceClient("http://unused", police_signer(pki))
    return [police.prepare(police.messages.visa_check(f"PL-{uuid.uuid4().hex[:8].upper()}", "IND", "911101"))
            for _ in range(count)]


def one(url: str, body: bytes) -> float:
    """Milliseconds the check took."""
    began = time.perf_counter()
    reply = requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert reply.status_code == 200 and b"EligibleFlag" in reply.content, reply.text[:300]
    return (time.perf_counter() - began) * 1000


def sent(url: str, bodies: list[bytes], at_once: bool) -> list[float]:
    """Milliseconds each check took, sent one after another or all at once."""
    if not at_once:
        return [one(url, body) for body in bodies]
    start = threading.Barrier(len(bodies))

    def together(body: bytes) -> float:
        start.wait(30)
        return one(url, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(together, bodies))


def broker_sockets(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds to port 5672 (AMQP)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            held.add(target[8:-1])
    to_broker = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(":1628") and fields[9] in held:  # remote port 5672
                to_broker.add(fields[9])
    return to_broker


def phase(url: str, pid: int, bodies: list[bytes], at_once: bool) -> dict:
    before = broker_sockets(pid)
    latencies = sent(url, bodies, at_once)
    return {"ms": [round(v, 1) for v in latencies], "opened": len(broker_sockets(pid) - before)}


def up(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the gateway did not come up"
        time.sleep(0.1)


def one_round(env: dict[str, str], home: Path, pki: Path, args) -> dict[str, dict]:
    port = free_port()
    log = home / f"gateway-{port}.log"
    with open(log, "wb") as out:
        process = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--processes", "1",
                                  "--gateway-port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/soap/police"
    try:
        up(f"http://127.0.0.1:{port}", process, log)
        time.sleep(args.settle)
        figures = {"after_start": phase(url, process.pid, checks(pki, args.checks), args.at_once)}
        time.sleep(args.idle)
        figures["after_idle"] = phase(url, process.pid, checks(pki, args.checks), args.at_once)
        figures["warm"] = phase(url, process.pid, checks(pki, args.checks), args.at_once)
        return figures
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checks", type=int, default=12, help="checks per phase (default: waiting_replies of 16)")
    parser.add_argument("--at-once", action="store_true", help="send each phase's checks at once")
    parser.add_argument("--heartbeat", type=int, default=5)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after /healthz before the first checks")
    parser.add_argument("--idle", type=float, default=0.0, help="quiet seconds (default: 3 heartbeats + 2)")
    args = parser.parse_args()
    args.idle = args.idle or 3 * args.heartbeat + 2
    home = Path(tempfile.mkdtemp(prefix="rabt-first-checks-"))
    pki = home / "pki"
    init_pki(pki, ["police", "licensing"])
    url = f"{DEFAULT_AMQP_URL}?heartbeat={args.heartbeat}"
    routes = routes_file(home)
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": url, "RABT_ROUTES_FILE": str(routes)}
    responder_hub = bootstrap(Settings(home=home, broker_url=DEFAULT_AMQP_URL), routes=load_routes(routes))
    with responder_hub.open_transport() as admin:
        admin.declare(responder_hub.routes)
    gateway = Gateway("amqp", responder_hub, "", Verifier(responder_hub.trust_store), None)
    rounds: list[dict[str, dict]] = []
    try:
        with LicensingResponder(gateway, licensing_signer(pki)):
            for n in range(args.rounds):
                rounds.append(one_round(env, home, pki, args))
                print(json.dumps({"round": n + 1, **rounds[-1]}), flush=True)
    finally:
        with responder_hub.open_transport() as admin:
            admin.undeclare(responder_hub.routes)
        responder_hub.close()
    for name in rounds[0]:
        every = [v for r in rounds for v in r[name]["ms"]]
        firsts = [r[name]["ms"][0] for r in rounds]
        opened = sum(r[name]["opened"] for r in rounds)
        print(f"{name:11} median {statistics.median(every):6.1f} ms  p90 {statistics.quantiles(every, n=10)[-1]:6.1f} ms"
              f"  max {max(every):6.1f} ms  first (median) {statistics.median(firsts):6.1f} ms"
              f"  connections opened {opened / len(rounds):4.1f}/round  ({len(every)} checks, {len(rounds)} rounds)")


if __name__ == "__main__":
    main()
