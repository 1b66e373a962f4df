"""The PostgreSQL message log unreachable for 30 s: retryable faults meanwhile, nothing half-written, all resumes.

A real ``rabt serve --role gateway --role relay --metrics-port …`` process
whose message log is a fresh database on the shared PostgreSQL, reached
through :class:`OutageProxy` (the server itself is never touched; the broker
is the embedded one, in the test's folder). Police client threads push signed
border notifications before, during and after a 30 s cut:

* during the cut every push is answered at once with the SOAP fault
  ``Server.Unavailable`` saying to send it again later, and the process's
  ``/readyz`` says not ready, naming the database;
* each refused push sent again after the cut is receipted;
* the log then holds exactly the receipted messages, each once, its chain
  verifies (``rabt audit verify``), the relay has published them all, and the
  hub logged the outage once when it began and once when it ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from hub import lifeline
from hub.errors import AgencyFaultError
from hub.messagelog import open_message_log
from simulators.demo.ports import free_port
from simulators.police.client import PoliceClient, PoliceMessages, police_signer
from simulators.population import Population, PopulationSpec
from tests.outage_proxy import OutageProxy

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(300), pytest.mark.postgres]

CUT_SECONDS = 30
CLIENTS = 4


def environment(home: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "RABT_HOME": str(home), "RABT_DATABASE_URL": database_url,
            "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}", "PYTHONUNBUFFERED": "1"}


class Police:
    """Pushes notifications from client threads; remembers which were receipted and which faulted how."""

    def __init__(self, home: Path, gateway: str) -> None:
        self.home, self.gateway = home, gateway
        self.population = Population(PopulationSpec.scaled(100))
        self.receipts: dict[int, str] = {}  # push number → hub message id
        self.faults: dict[int, str] = {}  # push number → fault code and text, while not receipted
        self.sent: dict = {}  # push number → the notification element
        self._local = threading.local()
        self._lock = threading.Lock()

    def push(self, i: int) -> None:
        if not hasattr(self._local, "client"):
            self._local.client = PoliceClient(f"{self.gateway}/soap/police", police_signer(self.home / "pki"),
                                              timeout=30)
            self._local.messages = PoliceMessages()
        if i not in self.sent:  # a push sent again is the very same document, as a partner resends it
            worker = self.population.worker(i % 100)
            self.sent[i] = self._local.messages.arrival(worker, visa_no=f"EV-{i}", msg_id=f"OUTAGE-DB-{i:04d}")
        try:
            receipt = self._local.client.send(self.sent[i])
        except AgencyFaultError as fault:
            with self._lock:
                self.faults[i] = f"{fault.fault_code.split(':')[-1]}: {fault.reason}"
            return
        with self._lock:
            self.receipts[i] = receipt.findtext("{*}HubMessageId")
            self.faults.pop(i, None)

    def push_all(self, numbers) -> None:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(self.push, numbers))


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "rabt serve exited"
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url}")


def test_postgres_log_gone_for_30_s_gives_retryable_faults_and_nothing_half_written(tmp_path, new_postgres_database):
    home = tmp_path / "home"
    database = new_postgres_database()
    with OutageProxy(5432) as proxy:
        env = environment(home, database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        subprocess.run([sys.executable, "-m", "hub", "pki", "init"], env=env, check=True, capture_output=True)
        gateway, metrics = free_port(), free_port()
        log_file = open(tmp_path / "hub.log", "wb")
        hub = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--role", "relay",
                              "--gateway-port", str(gateway), "--metrics-port", str(metrics)],
                             env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{gateway}/healthz", hub)
            police = Police(home, f"http://127.0.0.1:{gateway}")
            police.push_all(range(0, 40))
            assert police.faults == {} and len(police.receipts) == 40
            assert requests.get(f"http://127.0.0.1:{metrics}/readyz", timeout=30).status_code == 200

            proxy.cut()
            cut_at = time.monotonic()
            readiness = requests.get(f"http://127.0.0.1:{metrics}/readyz", timeout=30)
            police.push_all(range(40, 100))
            during = dict(police.faults)
            time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
            proxy.restore()

            deadline = time.monotonic() + 60
            while police.faults and time.monotonic() < deadline:  # the partner sends the refused ones again
                police.push_all(sorted(police.faults))
                time.sleep(0.5)
            police.push_all(range(100, 120))  # and goes on as before
            wait_ready = time.monotonic() + 30
            while requests.get(f"http://127.0.0.1:{metrics}/readyz", timeout=30).status_code != 200:
                assert time.monotonic() < wait_ready, "not ready again after the database came back"
                time.sleep(0.5)
            assert hub.poll() is None  # the process lived through it
            with open_message_log(database, create=False) as log:  # the relay resumed: it publishes them all
                deadline = time.monotonic() + 30
                while (backlog := log.stats().outbox_backlog) and time.monotonic() < deadline:
                    time.sleep(0.2)
        finally:
            hub.send_signal(signal.SIGTERM)
            code = hub.wait(30)
            log_file.close()

    assert code == 0
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["database"]["ok"] is False
    assert "OperationalError" in readiness.json()["checks"]["database"]["error"]
    assert len(during) == 60 and all(text.startswith("Server.Unavailable: ") and "again later" in text
                                     for text in during.values()), sorted(set(during.values()))[:3]
    assert police.faults == {} and len(police.receipts) == 120

    with open_message_log(database, create=False) as log:
        stored = [m.message_id for m in log.find(source_agency="police", limit=1000)]
        published = len(log.find(source_agency="police", status="published", limit=1000))
    assert sorted(stored) == sorted(police.receipts.values())  # each receipted push once, nothing else
    assert backlog == 0 and published == 120  # and the relay published them all
    audit = subprocess.run([sys.executable, "-m", "hub", "audit", "verify", "--database-url", database],
                           env=env, capture_output=True, text=True, timeout=120)
    assert audit.returncode == 0 and "chain intact" in audit.stdout, audit.stderr
    hub_log = (tmp_path / "hub.log").read_text()
    assert "Traceback" not in hub_log and "crashed" not in hub_log
    # the relay reads the outbox twice a second, so it met the outage: said once when it began, once when it ended
    assert hub_log.count("outbox: message log unreachable") == 1
    assert hub_log.count("outbox: message log reachable again") == 1
