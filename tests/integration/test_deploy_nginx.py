"""The deployment as shipped: real nginx (``deploy/nginx``) terminating mutual TLS in front of ``rabt serve``.

Certificates come from ``rabt pki`` (CA, the proxy's server certificate for
127.0.0.1, the police's client certificate); the hub runs as
``rabt serve --role gateway --role relay --role console`` with the public URL and
one trusted proxy hop; the police's requests are signed by the police
simulator's own client. Real processes on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from hub import lifeline
from hub.pki import PkiPaths, init_pki
from hub.pki_tls import TlsPaths, issue_client_certificate
from simulators.demo.ports import free_port
from simulators.police.client import BORDER_NS, PoliceClient, new_msg_id, police_signer
from simulators.population import Population, PopulationSpec
from tests.integration.nginx_proxy import Nginx

pytestmark = pytest.mark.timeout(180)
XSD = "{http://www.w3.org/2001/XMLSchema}"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
          "X-Forwarded-For": "203.0.113.9"}


def rabt(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """(proxy URLs, direct gateway URL, pki folder) of nginx in front of a running hub."""
    home = tmp_path_factory.mktemp("deploy")
    agencies, console, gateway, hub_console = free_port(), free_port(), free_port(), free_port()
    public = f"https://127.0.0.1:{agencies}"
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}",
           "RABT_PUBLIC_URL": public, "RABT_TRUSTED_PROXY_HOPS": "1"}
    rabt(env, "pki", "init", "--agency", "police", "--agency", "licensing")
    rabt(env, "pki", "server", "--name", "localhost", "--name", "127.0.0.1")
    rabt(env, "pki", "client", "police")
    pki, tls = PkiPaths(home / "pki"), TlsPaths(home / "pki")
    with open(home / "serve.log", "wb") as log:
        roles = ["--role", "gateway", "--role", "relay", "--role", "console"]
        hub = lifeline.popen([sys.executable, "-m", "hub", "serve", *roles, "--gateway-port", str(gateway),
                              "--console-port", str(hub_console)], env=env, stdout=log, stderr=subprocess.STDOUT)
    proxy = Nginx(home / "nginx", {
        "RABT_SERVER_NAME": "localhost", "RABT_AGENCY_LISTEN": f"127.0.0.1:{agencies}",
        "RABT_CONSOLE_LISTEN": f"127.0.0.1:{console}", "RABT_TLS_CERT": str(tls.server_cert),
        "RABT_TLS_KEY": str(tls.server_key), "RABT_CLIENT_CA": str(pki.ca_cert),
        "RABT_GATEWAY_UPSTREAM": f"127.0.0.1:{gateway}", "RABT_CONSOLE_UPSTREAM": f"127.0.0.1:{hub_console}",
        "RABT_MAX_BODY": "10m"})
    try:
        proxy.wait_listening(agencies)
        wait_until_up(f"http://127.0.0.1:{gateway}/healthz", hub, home)
        wait_until_up(f"http://127.0.0.1:{hub_console}/healthz", hub, home)
        yield {"public": public, "console": f"https://127.0.0.1:{console}", "gateway": f"http://127.0.0.1:{gateway}",
               "pki": home / "pki", "nginx": proxy}
    finally:
        proxy.stop()
        hub.terminate()
        assert hub.wait(30) == 0, (home / "serve.log").read_text()


def wait_until_up(url: str, process: subprocess.Popen, home: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rabt serve exited: {(home / 'serve.log').read_text()}"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # the port may queue connections before a process serves
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def agency_session(pki: Path, client: str | None = "police") -> requests.Session:
    """An HTTPS session trusting the hub's CA, presenting ``client``'s TLS certificate (None: no certificate)."""
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE (or a proxy) from the environment overrides verify=
    session.verify = str(PkiPaths(pki).ca_cert)
    if client is not None:
        tls = TlsPaths(pki)
        session.cert = (str(tls.client_cert(client)), str(tls.client_key(client)))
    return session


def refused_by_nginx(session: requests.Session, url: str) -> str:
    """How nginx refused: a TLS failure, or its own 400 page (the hub never answered)."""
    try:
        reply = session.get(url, timeout=10)
    except (requests.exceptions.SSLError, requests.ConnectionError) as exc:
        return f"TLS: {exc}"
    assert reply.status_code == 400, reply.text
    assert "rabt" not in reply.headers.get("Server", "") and "<center>nginx</center>" in reply.text, reply.text
    return reply.text


def test_an_agency_with_its_client_certificate_gets_a_receipt(deployment):
    police = PoliceClient(f"{deployment['public']}/soap/police", police_signer(deployment["pki"]),
                          session=agency_session(deployment["pki"]))
    worker = Population(PopulationSpec.scaled(1000)).worker(7)
    msg_id = new_msg_id("ARR")
    receipt = police.notify_arrival(worker, visa_no="EV-0000007", msg_id=msg_id)
    assert receipt.tag == f"{{{BORDER_NS}}}NotificationReceipt"
    assert receipt.findtext(f"{{{BORDER_NS}}}MsgId") == msg_id
    assert receipt.findtext(f"{{{BORDER_NS}}}Duplicate") == "false"
    assert receipt.findtext(f"{{{BORDER_NS}}}HubMessageId")


def test_without_a_client_certificate_nginx_refuses_before_the_hub(deployment):
    anonymous = agency_session(deployment["pki"], client=None)
    answer = refused_by_nginx(anonymous, f"{deployment['public']}/soap/police?wsdl")
    assert "TLS:" in answer or "No required SSL certificate was sent" in answer


def test_a_client_certificate_from_another_ca_is_refused(deployment, tmp_path):
    init_pki(tmp_path, [])  # a look-alike CA: same names, other keys
    issue_client_certificate(tmp_path, "police")
    session = agency_session(deployment["pki"], client=None)
    tls = TlsPaths(tmp_path)
    session.cert = (str(tls.client_cert("police")), str(tls.client_key("police")))
    answer = refused_by_nginx(session, f"{deployment['public']}/soap/police?wsdl")
    assert "TLS:" in answer or "The SSL certificate error" in answer


def served_addresses(session: requests.Session, url: str,
                     headers: dict[str, str] | None = None) -> tuple[bytes, set[str]]:
    """The WSDL at ``url`` as served, and every soap:address and schemaLocation in it."""
    reply = session.get(url, headers=headers or {}, timeout=10)
    assert reply.status_code == 200, reply.text
    root = etree.fromstring(reply.content)
    return reply.content, ({n.get("location") for n in root.iter("{*}address")}
                           | {n.get("schemaLocation") for n in root.iter(f"{XSD}import", f"{XSD}include")})


def test_the_wsdl_through_the_proxy_advertises_the_public_https_address(deployment):
    session = agency_session(deployment["pki"])
    _, addresses = served_addresses(session, f"{deployment['public']}/soap/police?wsdl")
    assert f"{deployment['public']}/soap/police" in addresses
    assert len(addresses) > 1 and all(a.startswith(f"{deployment['public']}/soap/police") for a in addresses)
    schema = next(a for a in addresses if a.endswith(".xsd"))
    assert session.get(schema, timeout=10).status_code == 200  # and what it advertises is really served there


def test_a_forged_host_header_changes_nothing(deployment):
    session = agency_session(deployment["pki"])
    honest, _ = served_addresses(session, f"{deployment['public']}/soap/police?wsdl")
    forged, _ = served_addresses(session, f"{deployment['public']}/soap/police?wsdl", FORGED)
    direct, _ = served_addresses(requests.Session(), f"{deployment['gateway']}/soap/police?wsdl", FORGED)
    assert forged == honest == direct
    assert b"evil.example" not in forged


def test_the_console_has_its_own_port_without_a_client_certificate(deployment):
    session = agency_session(deployment["pki"], client=None)
    assert session.get(f"{deployment['console']}/healthz", timeout=10).status_code == 200
    assert session.get(f"{deployment['public']}/healthz", timeout=10).status_code == 400  # agencies' port: mTLS
