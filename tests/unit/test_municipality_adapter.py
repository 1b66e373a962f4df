"""Muscat Municipality health cards: the worker-record query, and only the granted fields in the signed answer.

The end-to-end check (signed, routed, accepted by xmlsec1) is the adapter contract
suite: ``python -m pytest tests/contract/test_adapter_contract.py -k municipality``;
the demo's scenario runs it as separate processes on both transports.
"""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from adapters.municipality import ADAPTER, NS
from hub import canonical
from hub.access import AccessRights
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.contracts import AgencyContracts
from hub.envelope import canonical_envelope, read_envelope
from hub.gateway import create_app as create_gateway
from hub.mapping import Mappings
from hub.pki import PkiPaths, init_pki, load_certificate, load_private_key
from hub.registry import adapter_names, load_adapter
from hub.signing import DS, Identity, Signer, TrustStore, Verifier
from hub.transports.base import Message
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from simulators.municipality.app import create_app
from simulators.police.client import soap_envelope
from simulators.registry import SIMULATORS
from tests.conftest import SAMPLES

SAMPLE = SAMPLES / "municipality" / "GetWorkerRecord.xml"
WHOLE_RECORD = SAMPLES / "canonical" / "WorkerRecord.xml"
MAPPINGS = Mappings()
R = "{urn:rabt:canonical:v1}"
A = f"{{{NS}}}"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
#: the sample record's values of the fields the municipality is not granted (employer, licence, status)
WITHHELD = (b"1187720", b"CL-2024-0001234", b"in-country")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PkiPaths:
    paths = PkiPaths(tmp_path_factory.mktemp("pki"))
    init_pki(paths.root, ["municipality", "licensing"])
    return paths


def signer_for(pki: PkiPaths, party: str) -> Signer:
    return Signer(Identity(party, load_private_key(pki.agency_key(party)), load_certificate(pki.agency_cert(party))))


def contracts() -> AgencyContracts:
    return AgencyContracts(ADAPTER.schema_dir, "municipality")


def whole_record() -> etree._Element:
    return parse_xml(WHOLE_RECORD.read_bytes())


def test_adapter_and_simulator_are_found_by_name():
    assert "municipality" in adapter_names() and load_adapter("municipality") is ADAPTER
    assert (ADAPTER.schema_dir / ADAPTER.gateway_wsdl).is_file()
    assert SIMULATORS["municipality"].factory == "simulators.municipality.app:create_app"


def test_the_sample_meets_the_contract_signed_enveloped_or_bare(pki):
    contracts().validate(parse_xml(SAMPLE.read_bytes()))
    contracts().validate(signer_for(pki, "municipality").sign(parse_xml(SAMPLE.read_bytes())))


def test_sample_maps_to_a_canonical_query_in_canonical_field_names():
    body = MAPPINGS.transform("municipality", "WorkerRecordQuery", parse_xml(SAMPLE.read_bytes()))
    canonical.validate(body)
    assert body.findtext(f"{R}CivilNumber") == "118457203"
    assert [f.text for f in body.findall(f"{R}Field")] == ["NameEn", "Profession", "Employer"]


def test_the_answer_mapping_writes_what_the_record_holds_and_nothing_else():
    whole = MAPPINGS.transform("municipality", "WorkerRecordResponse", whole_record(),
                               source_message_id="MUN-HC-2024-000417", hub_message_id="hub-1")
    contracts().validate(whole)
    assert whole.findtext(f"{A}EmployerCRNo") == "1187720"
    projected = AccessRights.load().projection("municipality", "WorkerRecord").apply(whole_record()).body
    answer = MAPPINGS.transform("municipality", "WorkerRecordResponse", projected,
                                source_message_id="MUN-HC-2024-000417", hub_message_id="hub-1")
    contracts().validate(answer)
    assert [etree.QName(c).localname for c in answer] == [
        "MessageId", "HubMessageId", "NameAr", "NameEn", "ResidentCardNo", "Nationality", "ProfessionCode"]


class LicensingAnswers:
    """A transport whose request/reply is answered by licensing with the whole record, signed by licensing."""

    def __init__(self, licensing: Signer) -> None:
        self.licensing = licensing
        self.asked: list[bytes] = []

    def request(self, question: Message, timeout: float) -> Message:
        self.asked.append(question.body)
        header, _ = read_envelope(parse_xml(question.body))
        reply = header.reply_header(message_type="WorkerRecord", source_agency="licensing",
                                    source_system="licensing", raw_payload=WHOLE_RECORD.read_bytes())
        signed = self.licensing.sign_bytes(parse_xml(canonical_envelope(reply, whole_record())))
        return Message(body=signed, routing_key="", message_id=reply.message_id, correlation_id=header.correlation_id)

    def close(self) -> None:
        """Nothing to release."""


def test_the_signed_answer_holds_only_granted_fields_and_the_log_names_the_projection(tmp_path, pki):
    trust_store = TrustStore.load(pki.root)
    hub = bootstrap(Settings(home=tmp_path), trust_store=trust_store, routes=isolated_routes())
    licensing = LicensingAnswers(signer_for(pki, "licensing"))
    app = create_gateway(hub.pipeline, {"municipality": ADAPTER}, mappings=hub.mappings,
                         limits=hub.settings.xml_limits, open_transport=lambda: licensing)
    request = signer_for(pki, "municipality").sign(parse_xml(SAMPLE.read_bytes()))
    reply = app.test_client().post("/soap/municipality", data=soap_envelope(request),
                                   content_type="text/xml; charset=utf-8")
    try:
        assert reply.status_code == 200, reply.data[:500]
        assert licensing.asked and b"WorkerRecordQuery" in licensing.asked[0]
        assert not any(value in reply.data for value in WITHHELD), "a withheld field left the hub"
        answer = parse_xml(reply.data).find(f"{SOAP}Body")[0]
        assert answer.find(f"{{{DS}}}Signature") is not None
        verified = Verifier(trust_store).verify(copy.deepcopy(answer), expected_signer="hub")
        assert verified.element.findtext(f"{A}NameEn") == "Mohammad Abdul Karim"
        assert verified.element.find(f"{A}EmployerCRNo") is None and verified.element.find(f"{A}LicenceNo") is None
        (record,) = hub.log.find(message_type="WorkerRecord")
        assert b"1187720" in record.envelope, "the log keeps licensing's whole answer as received"
        (sent,) = hub.log.find(message_type="WorkerRecordResponse")
        assert sent.envelope == reply.data and sent.correlation_id == record.correlation_id
        (projection,) = [e.detail for e in hub.log.events(sent.message_id) if e.status == "projected"]
        assert projection.startswith("projection municipality/WorkerRecord: sent NameAr, NameEn")
    finally:
        hub.close()


def test_simulator_messages_meet_the_contract_and_map_to_canonical(pki):
    app = create_app({"workers": 50})
    client = app.test_client()
    assert client.get("/healthz").get_json()["agency"] == "municipality"
    payload = parse_xml(client.get("/messages/record-query?worker=7&field=NameEn&field=EmployerCRNo").data)
    contracts().validate(signer_for(pki, "municipality").sign(payload))
    body = MAPPINGS.transform("municipality", "WorkerRecordQuery", payload)
    canonical.validate(body)
    assert body.findtext(f"{R}CivilNumber") == app.extensions["rabt_simulator"]["population"].worker(7).civil_number
    assert client.get("/messages/record-query?worker=x").status_code == 404
    assert client.get("/messages/record-query?worker=1&field=Salary").status_code == 404
