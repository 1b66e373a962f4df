"""Log anchors timestamped by the TSA simulator, across real processes, on SQLite and the real PostgreSQL.

``rabt simulate tsa`` is the TSA; ``rabt serve --role gateway --role stamper
--metrics-port …`` is the hub, with a one-second stamp interval and a
three-second grace period. Police pushes signed border notifications over
SOAP. The test checks that:

* the anchors get stamped, ``rabt audit verify`` passes with every token
  checked, and OpenSSL's own ``openssl ts -verify`` accepts a stored token for
  its anchor's hash against the TSA certificate;
* with the TSA stopped the hub keeps receipting pushes, and once the grace
  period is over ``/readyz`` answers 503 naming the TSA;
* with the TSA started again (same key) ``/readyz`` recovers and every anchor
  taken meanwhile is stamped, oldest first, and the audit passes again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from hub import lifeline
from hub.messagelog import open_message_log, stamps
from hub.messagelog.schema import anchors
from hub.timestamps import load_tsa_certificate, verify_token
from simulators.demo.ports import free_port
from simulators.police.client import PoliceClient, PoliceMessages, police_signer
from simulators.population import Population, PopulationSpec
from tests.integration.test_outage_database import wait_http

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(300)]

GRACE = 3


def wait_until(what: str, probe, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


class TsaProcess:
    """``rabt simulate tsa`` on one port, keeping its key in one folder across restarts."""

    def __init__(self, folder: Path, log_dir: Path) -> None:
        self.folder, self.log_dir, self.port = folder, log_dir, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        log = open(self.log_dir / "tsa.log", "ab")
        self.process = lifeline.popen(
            [sys.executable, "-m", "hub", "simulate", "tsa", "--port-base", str(self.port - 6),
             "--tsa-dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}healthz", self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Hub:
    """``rabt serve`` with the gateway and the stamper, and what the test reads of it."""

    def __init__(self, tmp_path: Path, database_url: str, tsa: TsaProcess, pki_dir: Path) -> None:
        self.home = tmp_path / "home"
        shutil.copytree(pki_dir, self.home / "pki")
        (self.home / "tsa.pem").write_bytes(requests.get(f"{tsa.url}certificate", timeout=10).content)
        self.env = {**os.environ, "RABT_HOME": str(self.home), "RABT_DATABASE_URL": database_url,
                    "RABT_BROKER_URL": f"sqlite:///{self.home / 'broker.sqlite3'}", "PYTHONUNBUFFERED": "1",
                    "RABT_TSA_URL": tsa.url, "RABT_TSA_CERTIFICATE": str(self.home / "tsa.pem"),
                    "RABT_TSA_INTERVAL": "1", "RABT_TSA_GRACE": str(GRACE), "RABT_TSA_TIMEOUT": "2"}
        self.gateway, self.metrics = free_port(), free_port()
        self.certificate = load_tsa_certificate(self.home / "tsa.pem")
        self.log = None
        self.database_url = database_url
        self.process: subprocess.Popen | None = None

    def start(self, log_dir: Path) -> None:
        log = open(log_dir / "hub.log", "ab")
        self.process = lifeline.popen(
            [sys.executable, "-m", "hub", "serve", "--role", "gateway", "--role", "stamper", "--processes", "1",
             "--gateway-port", str(self.gateway), "--metrics-port", str(self.metrics), "--grace", "5"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.gateway}/healthz", self.process)
        self.log = open_message_log(self.database_url, create=False)

    def readiness(self) -> tuple[int, dict]:
        answer = requests.get(f"http://127.0.0.1:{self.metrics}/readyz", timeout=30)
        return answer.status_code, answer.json()

    def anchors(self) -> list:
        with self.log.engine.connect() as conn:
            return conn.execute(sa.select(anchors).order_by(anchors.c.anchor_seq)).all()

    def all_stamped(self, records: int):
        """The anchors once the newest binds ``records`` chain records and each has its token; else None."""
        rows = self.anchors()  # read once: the stamper may add or stamp anchors between two reads
        done = rows and rows[-1].records >= records and all(row.timestamp_token for row in rows)
        return rows if done else None

    def audit(self) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hub", "audit", "verify"], env=self.env, capture_output=True,
                              text=True, timeout=120)

    def stop(self) -> None:
        if self.log is not None:
            self.log.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Police:
    def __init__(self, hub: Hub) -> None:
        self.client = PoliceClient(f"http://127.0.0.1:{hub.gateway}/soap/police", police_signer(hub.home / "pki"),
                                   timeout=30)
        self.messages, self.population = PoliceMessages(), Population(PopulationSpec.scaled(100))
        self.sent = 0

    def push(self, count: int) -> None:
        for _ in range(count):
            i, self.sent = self.sent, self.sent + 1
            arrival = self.messages.arrival(self.population.worker(i), visa_no=f"EV-TSA-{i}", msg_id=f"TSA-{i:04d}")
            receipt = self.client.send(arrival)
            assert receipt.findtext("{*}HubMessageId"), f"push {i} was not receipted"


def chain_records(hub: Hub) -> int:
    with hub.log.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM audit_chain")).scalar_one()


def openssl_verifies(token: bytes, anchor_hash: str, certificate: Path, folder: Path) -> subprocess.CompletedProcess:
    (folder / "token.der").write_bytes(token)
    return subprocess.run(["openssl", "ts", "-verify", "-digest", anchor_hash, "-in", str(folder / "token.der"),
                           "-token_in", "-CAfile", str(certificate)], capture_output=True, text=True, timeout=60)


def test_anchors_are_stamped_verified_by_openssl_and_caught_up_after_a_tsa_outage(tmp_path, database_url, pki_dir):
    tsa = TsaProcess(tmp_path / "tsa", tmp_path)
    tsa.start()
    hub = Hub(tmp_path, database_url, tsa, pki_dir)
    try:
        hub.start(tmp_path)
        police = Police(hub)
        police.push(4)
        stamped = wait_until("every anchor stamped", lambda: hub.all_stamped(chain_records(hub)))
        audit = hub.audit()
        assert audit.returncode == 0, audit.stderr
        assert f"timestamps verified: {len(stamped)} anchors stamped by the pinned TSA" in audit.stdout
        newest = stamped[-1]
        checked = openssl_verifies(newest.timestamp_token, newest.hash, hub.home / "tsa.pem", tmp_path)
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
        assert openssl_verifies(newest.timestamp_token, stamped[0].hash if len(stamped) > 1 else "00" * 32,
                                hub.home / "tsa.pem", tmp_path).returncode != 0  # another digest: refused

        tsa.stop()
        before = len(stamped)
        police.push(3)  # the hub keeps receipting while the TSA is away
        wait_until("an unstamped anchor", lambda: stamps.backlog(hub.log.engine).count >= 1)
        police.push(3)
        wait_until("a second unstamped anchor", lambda: stamps.backlog(hub.log.engine).count >= 2)
        status, body = wait_until("/readyz to name the TSA", lambda: (r := hub.readiness())[0] == 503 and r)
        assert body["checks"]["tsa"]["ok"] is False and "unreachable" in body["checks"]["tsa"]["error"]
        assert body["checks"]["database"]["ok"] is True

        tsa.start()
        rows = wait_until("the backlog stamped", lambda: hub.all_stamped(chain_records(hub)))
        wait_until("/readyz to recover", lambda: hub.readiness()[0] == 200)
        caught_up = [verify_token(bytes(row.timestamp_token), row.hash, hub.certificate) for row in rows[before:]]
        assert len(caught_up) >= 2
        assert [info.serial for info in caught_up] == sorted(info.serial for info in caught_up)  # oldest first
        again = hub.audit()
        assert again.returncode == 0, again.stderr
    finally:
        hub.stop()
        tsa.stop()
