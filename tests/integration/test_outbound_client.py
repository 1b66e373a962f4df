"""The zeep-based agency client over real HTTP: timeouts, outages, garbage, contract checks."""

from __future__ import annotations

import io
import socket
import time

import pytest
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken
from outbound_helpers import simulator

from adapters.police.outbound import OUTBOUND
from hub.adapter import AGENCY_SCHEMAS
from hub.errors import (
    AgencyError,
    AgencyUnavailableError,
    ConfigError,
    ParseError,
    SchemaError,
)
from hub.outbound.client import AgencyClient, AgencySoapFault
from hub.outbound.config import OutboundSettings

SERVICE = OUTBOUND[0]
ROP = "urn:om:rop:civilregistry:2019"


def civil_query(number: str = "10000001") -> etree._Element:
    element = etree.Element(f"{{{ROP}}}GetMaritalStatus")
    etree.SubElement(element, f"{{{ROP}}}CivilNo").text = number
    return element


def client(url: str, **settings) -> AgencyClient:
    return AgencyClient("police", SERVICE, AGENCY_SCHEMAS / "police", url, OutboundSettings(**settings))


@pytest.fixture(scope="module")
def police():
    with simulator("police") as sim:
        yield sim


@pytest.fixture(autouse=True)
def no_faults(police):
    yield
    police.clear()


def test_answer_element_comes_back_raw(police):
    agency = client(police.url("civil-registry"))
    answer = agency.post(civil_query())
    element = agency.read(answer)
    assert element.tag == f"{{{ROP}}}GetMaritalStatusResponse"
    assert element.findtext(f"{{{ROP}}}CivilNo") == "10000001"
    assert answer.status == 200 and b"GetMaritalStatusResponse" in answer.raw


def test_timeout_is_honoured(police):
    police.fault(mode="timeout", seconds=10)
    agency = client(police.url("civil-registry"), call_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(AgencyUnavailableError, match="no answer in time") as caught:
        agency.post(civil_query())
    assert time.monotonic() - started < 3
    assert caught.value.recoverable


def test_connection_refused_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AgencyUnavailableError, match="cannot connect"):
        client(f"http://127.0.0.1:{port}/soap/civil-registry").post(civil_query())


@pytest.mark.parametrize("rule, match", [
    ({"mode": "down"}, "HTTP 503, Retry-After 30"),
    ({"mode": "down", "how": "close"}, "cannot connect"),
    ({"mode": "http-error", "status": 502}, "HTTP 502"),
])
def test_outages_are_unavailable(police, rule, match):
    police.fault(**rule)
    with pytest.raises(AgencyUnavailableError, match=match):
        client(police.url("civil-registry")).post(civil_query())


def test_wrong_endpoint_path_is_a_permanent_error(police):
    with pytest.raises(AgencyError, match="HTTP 404") as caught:
        client(f"{police.base}/soap/no-such-service").post(civil_query())
    assert not caught.value.recoverable


def test_soap_fault_is_read_with_detail(police):
    agency = client(police.url("civil-registry"))
    with pytest.raises(AgencySoapFault) as caught:
        agency.read(agency.post(civil_query("19999999")))
    fault = caught.value
    assert fault.fault_code == "soap:Client.UnknownCivilNumber" and fault.client_side
    assert fault.detail.findtext(f".//{{{ROP}}}ErrorCode") == "CS-1404"


@pytest.mark.parametrize("payload", ["xxe", "billion-laughs"])
def test_hostile_answer_is_refused_quickly(police, payload):
    police.fault(mode="hostile", payload=payload)
    agency = client(police.url("civil-registry"))
    started = time.monotonic()
    with pytest.raises(ParseError, match="DOCTYPE is not allowed"):
        agency.read(agency.post(civil_query()))
    assert time.monotonic() - started < 2


def test_malformed_answer_is_refused(police):
    police.fault(mode="malformed")
    agency = client(police.url("civil-registry"))
    with pytest.raises(ParseError, match="not well-formed"):
        agency.read(agency.post(civil_query()))


def test_request_for_another_operation_is_refused_before_sending(police):
    with pytest.raises(SchemaError, match="GetMaritalStatus"):
        client(police.url("civil-registry")).post(etree.Element(f"{{{ROP}}}SomethingElse"))


def test_declared_operation_must_exist_in_the_wsdl():
    from dataclasses import replace

    with pytest.raises(ConfigError, match="no operation Nope"):
        AgencyClient("police", replace(SERVICE, operation="Nope"), AGENCY_SCHEMAS / "police",
                     "http://127.0.0.1:9/x", OutboundSettings())
    with pytest.raises(ConfigError, match="no service"):
        AgencyClient("police", replace(SERVICE, service="Nope"), AGENCY_SCHEMAS / "police",
                     "http://127.0.0.1:9/x", OutboundSettings())


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def wire(police):
    """The request bodies the simulator received, recorded in front of its Flask app."""
    received: list[bytes] = []
    inner = police.app.wsgi_app

    def recording(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        received.append(body)
        environ["wsgi.input"] = io.BytesIO(body)
        return inner(environ, start_response)

    police.app.wsgi_app = recording
    yield received
    police.app.wsgi_app = inner


def test_zeeps_own_ws_security_reaches_the_agency(police, wire):
    # zeep's UsernameToken, passed through the hub's client, lands in the envelope the
    # agency receives, beside the mapping's body; and the answer is still read as before
    agency = AgencyClient("police", SERVICE, AGENCY_SCHEMAS / "police", police.url("civil-registry"),
                          OutboundSettings(), wsse=UsernameToken("hub-user", "s3cret", use_digest=True))
    element = agency.read(agency.post(civil_query("10000002")))
    assert element.findtext(f"{{{ROP}}}CivilNo") == "10000002"
    sent = etree.fromstring(wire[-1])
    token = sent.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    assert token is not None and token.findtext(f"{{{WSSE}}}Username") == "hub-user"
    assert b"s3cret" not in wire[-1]  # digest mode: the password itself never travels
    assert sent.findtext(f"{{{SOAP}}}Body/{{{ROP}}}GetMaritalStatus/{{{ROP}}}CivilNo") == "10000002"


class StampHeader(zeep.Plugin):
    """A caller's own plugin: adds a SOAP header, and sees the parsed answer come back."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def egress(self, envelope, http_headers, operation, binding_options):
        header = envelope.find(f"{{{SOAP}}}Header")
        if header is None:
            header = etree.Element(f"{{{SOAP}}}Header")
            envelope.insert(0, header)
        etree.SubElement(header, "{urn:test:stamp}Stamp").text = operation.name
        http_headers["X-Stamp"] = "yes"
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        self.answers.append(etree.QName(envelope.find(f"{{{SOAP}}}Body")[0]).localname)
        return envelope, http_headers


def test_caller_plugins_run_on_the_way_out_and_in(police, wire):
    stamp = StampHeader()
    agency = AgencyClient("police", SERVICE, AGENCY_SCHEMAS / "police", police.url("civil-registry"),
                          OutboundSettings(), plugins=[stamp])
    agency.read(agency.post(civil_query()))
    sent = etree.fromstring(wire[-1])
    assert sent.findtext(f"{{{SOAP}}}Header/{{urn:test:stamp}}Stamp") == "GetMaritalStatus"
    assert stamp.answers == ["GetMaritalStatusResponse"]


def test_the_mapping_element_is_sent_as_built(police, wire):
    # zeep renders nothing of its own in the body: comments, prefixes and order stay the mapping's
    request = etree.fromstring(f'<r:GetMaritalStatus xmlns:r="{ROP}"><!-- kept --><r:CivilNo>10000001</r:CivilNo>'
                               "</r:GetMaritalStatus>")
    client(police.url("civil-registry")).post(request)
    body = etree.fromstring(wire[-1]).find(f"{{{SOAP}}}Body")
    def canonical(element):
        return etree.tostring(element, method="c14n", exclusive=True)

    assert len(body) == 1 and canonical(body[0]) == canonical(request)
