"""Request/reply calls waiting on a silent destination cannot take the gateway's every thread.

The gateway runs under waitress with its real, bounded thread pool (as in
``rabt serve``) on the embedded broker, and nobody answers for licensing: each
visa check holds a thread until its reply timeout. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import threading

import pytest
import requests
from lxml import etree

from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.serve import WsgiRole
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from simulators.police.client import PoliceClient, police_signer
from simulators.population import Population, PopulationSpec

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
THREADS, WAITING, REPLY_TIMEOUT = 3, 2, 4.0
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def gateway(tmp_path, trust_store):
    routes = isolated_routes()
    hub = bootstrap(Settings(home=tmp_path, broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}"),
                    trust_store=trust_store, routes=routes)
    with hub.open_transport() as admin:
        admin.declare(routes)
    app = gateway_app(hub, {"REPLY_TIMEOUT": REPLY_TIMEOUT, "MAX_WAITING_REPLIES": WAITING})
    role = WsgiRole("gateway", app, "127.0.0.1", 0, threads=THREADS)
    stop = threading.Event()
    runner = threading.Thread(target=role.run, args=(stop,), daemon=True)
    runner.start()
    yield hub, f"{role.endpoint.url}/soap/police"
    stop.set()
    runner.join(15)
    hub.close()


@pytest.fixture
def signed(pki_dir):
    """Signed police requests, built by the police simulator's own client."""
    police = PoliceClient("http://unused", police_signer(pki_dir))
    worker = Population(PopulationSpec.scaled(1000)).worker(3)
    build = {"CheckVisaEligibility": lambda: police.messages.visa_check("PL-1", "IND", "7112"),
             "NotifyArrival": lambda: police.messages.arrival(worker, visa_no="EV-0000001")}
    return lambda operation: police.prepare(build[operation]())


def post(url: str, body: bytes) -> tuple[int, str | None, str]:
    reply = requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    fault = parse_xml(reply.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    return reply.status_code, None if fault is None else fault.findtext("faultcode"), reply.text


def questions_waiting(hub) -> int:
    """Visa questions sent and not taken (nobody consumes for licensing): each holds a gateway thread."""
    with hub.open_transport() as transport:
        return sum(queue.ready for queue in transport.queue_stats() if queue.name.endswith(".licensing"))


def questions_logged(hub) -> int:
    return len(hub.log.find(source_agency="police", message_type="VisaEligibilityQuery"))


def test_a_full_bulkhead_answers_busy_and_pushes_still_get_their_receipts(gateway, signed):
    hub, url = gateway
    results: list[tuple[int, str | None, str]] = []
    waiting = [threading.Thread(target=lambda: results.append(post(url, signed("CheckVisaEligibility"))))
               for _ in range(WAITING)]
    for thread in waiting:
        thread.start()
    deadline = threading.Event()
    while questions_waiting(hub) < WAITING and not deadline.wait(0.05):
        pass  # each question is on licensing's queue while its request waits for the answer

    status, code, text = post(url, signed("CheckVisaEligibility"))
    assert (status, code) == (500, "soap:Server.Busy"), text
    assert f"{WAITING} requests are already waiting for licensing's answer" in text
    assert questions_waiting(hub) == WAITING  # the refused question was not sent

    status, code, text = post(url, signed("NotifyArrival"))
    assert (status, code) == (200, None), text
    assert all(thread.is_alive() for thread in waiting), "the push was only served after a visa check ended"

    for thread in waiting:
        thread.join(REPLY_TIMEOUT + 10)
    assert [code for _, code, _ in results] == ["soap:Server.Timeout"] * WAITING
    assert questions_logged(hub) == WAITING  # the unanswered ones, given up; the refused one never was
    status, code, text = post(url, signed("CheckVisaEligibility"))  # the slots are free again
    assert code == "soap:Server.Timeout", text


def test_busy_answers_in_a_flood_are_each_signed_by_the_hub_and_each_refusal_recorded(gateway, signed):
    hub, url = gateway
    waiting = [threading.Thread(target=post, args=(url, signed("CheckVisaEligibility"))) for _ in range(WAITING)]
    for thread in waiting:
        thread.start()
    deadline = threading.Event()
    while questions_waiting(hub) < WAITING and not deadline.wait(0.05):
        pass
    refused_before = len(hub.log.refusals(agency="police"))

    busy = [post(url, signed("CheckVisaEligibility")) for _ in range(3)]

    assert [(status, code) for status, code, _ in busy] == [(500, "soap:Server.Busy")] * 3
    for _, _, text in busy:
        # the fault's detail carries the hub's enveloped signature, whichever Busy answer it is
        detail = parse_xml(text.encode()).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/detail")[0]
        standalone = parse_xml(etree.tostring(detail, method="c14n", exclusive=True))
        verified = hub.verifier.verify(standalone, expected_signer="hub")
        assert "already waiting for licensing's answer" in verified.element.findtext("{*}ErrorText")
    assert len(hub.log.refusals(agency="police")) == refused_before + 3  # each one recorded, none skipped
    for thread in waiting:
        thread.join(REPLY_TIMEOUT + 10)
