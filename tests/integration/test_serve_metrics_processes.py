"""``rabt serve --processes 2`` with the console: its ``/metrics`` counts what both gateway children received.

The real command on 127.0.0.1 with the embedded broker, the gateway, an
outbound worker (police; its agency is never called, its circuits only have
to be known) and the console. Signed police pushes go in concurrently on
fresh connections until each child's own metric file (``RABT_HOME/metrics-processes``)
shows it received some; the console's ``/metrics`` must then count every push
once. A child is SIGKILLed: its master starts another, and what the dead one
counted is still counted, with the new child's pushes on top.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from test_serve_processes import Served, wait_for

from hub import lifeline
from simulators.demo.ports import free_port
from simulators.police.client import BORDER_NS, PoliceClient, new_msg_id, police_signer
from simulators.population import Population, PopulationSpec

pytestmark = pytest.mark.timeout(120)

PROCESSES = 2
#: pushes sent at once, each on its own connection, so the kernel hands them to both children
AT_ONCE = 6
RECEIVED = "rabt_messages_received_total"
#: nobody answers here: the police worker only needs endpoints to start (it is never asked to call them)
NOWHERE = "http://127.0.0.1:9/unused"


class Hub(Served):
    """The master, its console, and the pushes sent so far."""

    def __init__(self, process: subprocess.Popen, port: int, home: Path, console_port: int, token: str) -> None:
        super().__init__(process, port, home)
        self.console = f"http://127.0.0.1:{console_port}"
        self.token = token
        self.population = Population(PopulationSpec.scaled(1000))
        self.pushed = 0

    def scrape(self) -> dict[tuple[str, frozenset], float]:
        """The console's ``/metrics`` as ``(sample name, labels) → value``."""
        answer = requests.get(f"{self.console}/metrics", headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        assert answer.status_code == 200, answer.text[:300]
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(answer.text) for s in family.samples}

    def received(self) -> float:
        return sum(value for (name, _), value in self.scrape().items() if name == RECEIVED)

    def push(self, count: int) -> None:
        """``count`` signed arrival notices at once, each from a new client (a new connection)."""
        signer = police_signer(self.home / "pki")
        first, self.pushed = self.pushed, self.pushed + count
        with ThreadPoolExecutor(count) as pool:
            receipts = list(pool.map(lambda n: self._push_one(signer, n), range(first, first + count)))
        assert all(receipt.findtext(f"{{{BORDER_NS}}}HubMessageId") for receipt in receipts)

    def _push_one(self, signer, number: int):
        police = PoliceClient(f"{self.url}/soap/police", signer, timeout=20)
        try:
            return police.notify_arrival(self.population.worker(number), visa_no=f"EV-{number:07d}",
                                         msg_id=new_msg_id("ARR"))
        finally:
            police.session.close()

    def received_by(self, pid: int) -> float:
        """What child ``pid`` counted, read from its own file alone."""
        files = [str(path) for path in (self.home / "metrics-processes").glob(f"counter_{pid}.db")]
        return sum(sample.value for family in MultiProcessCollector.merge(files)
                   for sample in family.samples if sample.name == RECEIVED)


@pytest.fixture
def hub(tmp_path) -> Iterator[Hub]:
    home = tmp_path / "home"
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": f"sqlite:///{tmp_path / 'broker.sqlite3'}",
           "RABT_POLICE_CIVIL_REGISTRY_URL": NOWHERE, "RABT_POLICE_TRANSFER_URL": NOWHERE}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "police", "--agency", "licensing"],
                   env=env, check=True, capture_output=True)
    made = subprocess.run([sys.executable, "-m", "hub", "console", "token", "prometheus", "--role", "viewer"],
                          env=env, check=True, capture_output=True, text=True)
    port, console_port = free_port(), free_port()
    stale = home / "metrics-processes" / "counter_1.db"  # a previous run's file: must not count
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    with open(home / "serve.log", "wb") as log:
        process = lifeline.popen(
            [sys.executable, "-m", "hub", "serve", "--role", "gateway", "--role", "worker", "--role", "console",
             "--processes", str(PROCESSES), "--gateway-port", str(port), "--console-port", str(console_port),
             "--grace", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    served = Hub(process, port, home, console_port, made.stdout.strip().splitlines()[0])
    try:
        wait_for(lambda: len(served.children()) == PROCESSES and _answers(served.url) and _answers(served.console),
                 served, "two children and the console", timeout=40)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        for pid in served.children():
            os.kill(pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


def test_console_metrics_count_every_push_whichever_child_took_it_and_after_one_is_killed(hub):
    children = hub.children()
    assert not (hub.home / "metrics-processes" / "counter_1.db").exists()  # emptied when the master started
    while not all(hub.received_by(pid) for pid in children):
        assert hub.pushed < 10 * AT_ONCE, f"pushes never reached both children: {hub.pushed} sent"
        hub.push(AT_ONCE)
    assert sum(hub.received_by(pid) for pid in children) == hub.pushed
    assert hub.received() == hub.pushed

    samples = hub.scrape()
    assert samples[("rabt_circuit_state", frozenset({"agency": "police", "service": "civil-registry"}.items()))] == 0
    expiry = {dict(labels)["party"]: value for (name, labels), value in samples.items()
              if name == "rabt_certificate_expiry_timestamp_seconds"}
    assert expiry["police"] > time.time() and expiry["licensing"] > time.time()
    last = [value for (name, _), value in samples.items() if name == "rabt_last_processed_timestamp_seconds"]
    assert len(last) == 1 and time.time() - 120 < last[0] <= time.time()  # one gauge, no per-process copies

    victim = min(children)
    counted_by_victim = hub.received_by(victim)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(hub.children()) == PROCESSES and victim not in hub.children(), hub, "a restarted child")
    assert hub.received() == hub.pushed  # the dead child's counts stay counted
    assert hub.received_by(victim) == counted_by_victim
    hub.push(AT_ONCE)
    assert hub.received() == hub.pushed
    restarts = hub.scrape()[("rabt_role_restarts_total", frozenset({"role": "gateway-process"}.items()))]
    assert restarts == 1
