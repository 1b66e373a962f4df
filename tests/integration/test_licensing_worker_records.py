"""Licensing answers a WorkerRecordQuery from what the police told it, over each transport's request/reply."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.signing import Verifier
from hub.transports import open_transport
from hub.xmlsafe import parse_xml
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.state import LicensingState
from simulators.licensing.worker_records import worker_record

from test_licensing_consumer import NOW, R, Pki, Servers, delivery, message, sample, signed

WORKER = "118457203"  # the canonical samples' arriving worker, given this civil number


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("home"))


@pytest.fixture
def state(tmp_path: Path) -> LicensingState:
    return LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")


def arrived(state: LicensingState, pki: Pki) -> None:
    arrival = sample("WorkerArrival")
    passport = arrival.find(f"{R}Worker/{R}PassportNumber")
    civil = etree.Element(f"{R}CivilNumber")
    civil.text = WORKER
    passport.addprevious(civil)
    LicensingConsumer(state, pki.verify, now=lambda: NOW).handle(delivery(*signed(pki.hub, arrival)))


def fields(record: etree._Element) -> dict[str, str]:
    return {etree.QName(child).localname: child.text for child in record}


def test_the_record_comes_from_the_latest_border_event(state, pki):
    arrived(state, pki)
    record = fields(worker_record(state, WORKER, ("NameAr", "NameEn", "CivilNumber", "Nationality", "Employer",
                                                  "Status")))
    assert record["NameEn"] == "Rajesh Kumar Nair" and record["NameAr"] == "راجيش كومار ناير"
    assert (record["CivilNumber"], record["Nationality"], record["Status"]) == (WORKER, "IND", "in-country")
    assert "Employer" in record and "AsOf" in record
    assert list(fields(worker_record(state, WORKER, ("NameEn",)))) == ["NameEn", "AsOf"]
    assert worker_record(state, "999999999", ("NameEn",)) is None


def ask(transport, pki: Pki, civil_number: str, *wanted: str) -> etree._Element:
    query = etree.Element(f"{R}WorkerRecordQuery", nsmap={"rabt": R[1:-1]})
    etree.SubElement(query, f"{R}CivilNumber").text = civil_number
    for name in wanted:
        etree.SubElement(query, f"{R}Field").text = name
    header, data = signed(pki.hub, query, source="municipality")
    answer = transport.request(message(header, data), timeout=10)
    verified = Verifier(pki.trust).verify(parse_xml(answer.body), expected_signer="licensing").element
    assert verified.findtext(f"{R}Header/{R}Destination") == "municipality"
    return verified.find(f"{R}Body")[0]


def test_a_query_over_the_broker_is_answered_signed_and_an_unknown_worker_is_a_not_found_fault(broker, state, pki):
    arrived(state, pki)
    with Servers(broker.url, broker.routes) as servers, open_transport(broker.url, routes=broker.routes) as transport:
        servers.start("licensing", lambda t: LicensingConsumer(
            state, pki.verify, transport=t, seal=pki.licensing.sign_bytes, now=lambda: NOW).handle)
        record = ask(transport, pki, WORKER, "NameEn", "Employer")
        unknown = ask(transport, pki, "999999999")
    assert etree.QName(record).localname == "WorkerRecord"
    assert list(fields(record)) == ["NameEn", "Employer", "AsOf"]
    assert etree.QName(unknown).localname == "Fault" and unknown.findtext(f"{R}Code") == "not-found"
