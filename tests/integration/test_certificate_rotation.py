"""A partner renews its signing certificate while the hub runs.

A real gateway (werkzeug on a free port, the real pipeline, the SQLite broker)
serves the police. ``rabt pki register police NEW --replace --overlap-until
DATE`` runs as its own process, as an operator would run it; the gateway's
next request already sees the change (its store looks at the files on every
use here; in production at most every few seconds, or at once on SIGHUP).
An overlap date in the future keeps both certificates accepted; one in the
past leaves only the new one, so both sides are tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from hub import metrics
from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.errors import AgencyFaultError
from hub.pki import PkiPaths, cert_pem, init_pki, issue_certificate, load_certificate, load_private_key, new_private_key
from hub.signing import Identity, Signer, TrustStore
from simulators.police.client import PoliceClient
from simulators.population import Population, PopulationSpec

FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()
PAST = "2000-01-01"


@pytest.fixture
def running(tmp_path):
    """(gateway URL, home, trust store) of a gateway serving the police until the test ends."""
    home = tmp_path / "home"
    init_pki(home / "pki", ["police", "licensing"])
    settings = Settings(home=home, broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}")
    store = TrustStore.load(settings.pki_dir, check_interval=0)
    hub = bootstrap(settings, trust_store=store)
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
    server = make_server("127.0.0.1", 0, gateway_app(hub), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/soap/police", home, store
    server.shutdown()
    thread.join(10)
    hub.close()


def police(url: str, identity: Identity) -> PoliceClient:
    return PoliceClient(url, Signer(identity).sign)


def arrive(client: PoliceClient, number: int):
    worker = Population(PopulationSpec.scaled(1000)).worker(number)
    return client.notify_arrival(worker, visa_no=f"EV-{number:07d}")


def renewal(home, tmp_path) -> tuple[Identity, Identity]:
    """(the police's identity so far, a renewed one whose certificate is in ``tmp_path/new.pem``)."""
    paths = PkiPaths(home / "pki")
    old = Identity("police", load_private_key(paths.agency_key("police")), load_certificate(paths.agency_cert("police")))
    key = new_private_key("ec")
    certificate = issue_certificate("police", key, load_certificate(paths.ca_cert), load_private_key(paths.ca_key))
    (tmp_path / "new.pem").write_bytes(cert_pem(certificate))
    return old, Identity("police", key, certificate)


def register(home, certificate, until: str) -> str:
    """``rabt pki register police CERT --replace --overlap-until UNTIL`` in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "hub", "pki", "register", "police", str(certificate), "--replace", "--overlap-until",
         until], env={**os.environ, "RABT_HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def expiry_lines(identity: Identity) -> str:
    return (f'rabt_certificate_expiry_timestamp_seconds{{party="police",'
            f'serial="{identity.certificate.serial_number:x}"}}')


def test_during_the_overlap_both_certificates_are_accepted(running, tmp_path):
    url, home, _store = running
    old, new = renewal(home, tmp_path)
    assert arrive(police(url, old), 1) is not None
    with pytest.raises(AgencyFaultError, match="unregistered certificate|not the one registered"):
        arrive(police(url, new), 2)  # not registered yet

    said = register(home, tmp_path / "new.pem", FUTURE)
    assert f"stays accepted until {FUTURE}" in said
    assert arrive(police(url, new), 3) is not None
    assert arrive(police(url, old), 4) is not None
    exposition = metrics.exposition().decode()
    assert expiry_lines(old) in exposition and expiry_lines(new) in exposition


def test_after_the_overlap_only_the_new_certificate_is_accepted(running, tmp_path):
    url, home, store = running
    old, new = renewal(home, tmp_path)
    assert arrive(police(url, old), 1) is not None

    said = register(home, tmp_path / "new.pem", PAST)
    assert "already passed" in said
    assert arrive(police(url, new), 2) is not None
    with pytest.raises(AgencyFaultError, match="not the one registered"):
        arrive(police(url, old), 3)
    assert store.certificates_for("police") == [new.certificate]
    exposition = metrics.exposition().decode()
    assert expiry_lines(new) in exposition and expiry_lines(old) not in exposition
