"""``rabt worker police`` as a process: answers over the embedded broker, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from outbound_helpers import Asker, canonical, simulator, text

from hub import lifeline
from hub.pki import init_pki
from hub.routing import load_routes
from hub.signing import TrustStore
from hub.transports import open_transport


def test_worker_command_answers_and_stops_on_sigterm(tmp_path):
    home = tmp_path / "home"
    init_pki(home / "pki", ["licensing", "police"])
    broker = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    routes = load_routes()
    with simulator("police") as police, open_transport(broker, routes=routes) as transport:
        transport.declare(routes)
        env = os.environ | {"RABT_HOME": str(home), "RABT_BROKER_URL": broker,
                            "RABT_POLICE_CIVIL_REGISTRY_URL": police.url("civil-registry"),
                            "RABT_POLICE_TRANSFER_URL": police.url("transfer")}
        process = lifeline.popen([sys.executable, "-m", "hub", "worker", "police"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            asker = Asker(home / "pki", TrustStore.load(home / "pki"), transport)
            citizen = police.population.citizen(2)
            _, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police",
                                        timeout=30)
            assert header.message_type == "CivilStatusRecord"
            assert text(body, "MaritalStatus") == citizen.marital_status
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert b"worker police: consuming police" in stderr
