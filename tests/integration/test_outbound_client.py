"""The zeep-based agency client over real HTTP: timeouts, outages, garbage, contract checks."""

from __future__ import annotations

import socket
import time

import pytest
from lxml import etree
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
