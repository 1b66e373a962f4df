"""``rabt worker police --metrics-port`` as its own process: its /metrics over real HTTP carry the
deliveries and circuit states, and a console in another process sees the circuit through the states the
worker reports to the message log's database: closed while the agency answers, open (an alarm) once it
is down."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import requests
from click.testing import CliRunner
from outbound_helpers import Asker, canonical, simulator, wait_for
from prometheus_client.parser import text_string_to_metric_families

from hub import lifeline
from hub.bootstrap import bootstrap, console_app
from hub.cli import main
from hub.config import Settings
from hub.errors import ReplyTimeoutError
from hub.pki import init_pki
from hub.routing import load_routes
from hub.signing import TrustStore
from hub.transports import open_transport
from simulators.demo.ports import free_port


def scrape(url: str, token: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_worker_process_serves_its_counters_and_circuits(tmp_path):
    home = tmp_path / "home"
    init_pki(home / "pki", ["licensing", "police"])
    made = CliRunner().invoke(main, ["console", "token", "prometheus", "--role", "viewer"], env={"RABT_HOME": str(home)})
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    broker, routes, port = f"sqlite:///{tmp_path / 'broker.sqlite3'}", load_routes(), free_port()
    url = f"http://127.0.0.1:{port}"
    with simulator("police") as police, open_transport(broker, routes=routes) as transport:
        transport.declare(routes)
        env = os.environ | {"RABT_HOME": str(home), "RABT_BROKER_URL": broker,
                            "RABT_POLICE_CIVIL_REGISTRY_URL": police.url("civil-registry"),
                            "RABT_POLICE_TRANSFER_URL": police.url("transfer"),
                            "RABT_OUTBOUND_ATTEMPTS": "1", "RABT_OUTBOUND_BREAKER_FAILURES": "2",
                            "RABT_OUTBOUND_BREAKER_RESET": "600"}
        process = lifeline.popen([sys.executable, "-m", "hub", "worker", "police", "--metrics-port", str(port)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: _answers(f"{url}/healthz"), timeout=30)
            assert requests.get(f"{url}/metrics", timeout=5).status_code == 401
            asker = Asker(home / "pki", TrustStore.load(home / "pki"), transport)
            _, header, _ = asker.ask(canonical("CivilStatusQuery", CivilNumber=police.population.citizen(2).civil_number),
                                     "police", timeout=30)
            assert header.message_type == "CivilStatusRecord"
            delivered = ("rabt_messages_delivered_total",
                         frozenset({"agency": "police", "message_type": "CivilStatusQuery"}.items()))
            samples = wait_for(lambda: (s := scrape(f"{url}/metrics", token)).get(delivered) == 1 and s)
            assert samples[("rabt_end_to_end_latency_seconds_count", frozenset())] == 1
            circuit = ("rabt_circuit_state", frozenset({"agency": "police", "service": "civil-registry"}.items()))
            assert samples[circuit] == 0
            # a token made while the process runs counts within a second or two: the users file is watched
            later = CliRunner().invoke(main, ["console", "token", "grafana", "--role", "viewer"],
                                       env={"RABT_HOME": str(home)})
            assert later.exit_code == 0, later.output
            wait_for(lambda: _status(f"{url}/metrics", later.stdout.strip().splitlines()[0]) == 200, 10)
            # a console in this (other) process reads the circuit the worker process reported
            hub = bootstrap(Settings(home=home, broker_url=broker))
            app = console_app(hub, breaker_states=lambda: {})  # not this process's breakers: the reports only
            try:
                row = wait_for(lambda: _police_row(app, token)["circuit"] == "closed" and _police_row(app, token))
                assert "reported by 1 worker process(es)" in row["circuit_detail"]
                assert not _alarmed(app, token)
                police.fault(mode="down")
                for _ in range(2):  # two failed calls open the circuit (RABT_OUTBOUND_BREAKER_FAILURES)
                    with contextlib.suppress(ReplyTimeoutError):  # the worker retries later, through the broker
                        asker.ask(canonical("CivilStatusQuery", CivilNumber=police.population.citizen(2).civil_number),
                                  "police", timeout=3)
                row = wait_for(lambda: _police_row(app, token)["circuit"] == "open" and _police_row(app, token), 60)
                assert f":{process.pid} " in row["circuit_detail"]
                assert wait_for(lambda: _alarmed(app, token)) == [("RabtCircuitOpen", "police")]
            finally:
                app.extensions["rabt_console"].console.broker.close()
                hub.close()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert f"metrics listening on {url}/metrics".encode() in stderr


def _police_row(app, token: str) -> dict:
    overview = app.test_client().get("/api/v1/overview", headers={"Authorization": f"Bearer {token}"}).json
    return next(a for a in overview["adapters"] if a["name"] == "police")


def _alarmed(app, token: str) -> list[tuple[str, str]]:
    alarms = app.test_client().get("/api/v1/alarms", headers={"Authorization": f"Bearer {token}"}).json["alarms"]
    return [(a["name"], a["subject"]) for a in alarms if a["name"] == "RabtCircuitOpen"]


def _status(url: str, token: str) -> int:
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
