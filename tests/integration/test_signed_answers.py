"""Every answer the gateway gives is signed by the hub, logged, and a fault with HTTP 500.

Requests signed the enveloped way get their receipt, reply or fault detail
signed the same way (checked by the hub's verifier, as a partner's test
client would, and by ``xmlsec1 --verify`` on the answer element as its own
document); input the hub cannot read gets a fault signed with WS-Security
over the Body. zeep raises ``zeep.exceptions.Fault`` — never a transport
error — for unknown agencies and operations (WS-I Basic Profile R1126).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import xmlsec
import zeep
from lxml import etree
from zeep.wsse.signature import verify_envelope

from hub.pki import PkiPaths
from hub.signing import DS
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from tests.conftest import broker_url, declared
from tests.integration.test_gateway_police import (
    SOAP, LicensingResponder, SignedByPolice, _served_gateway, call, licensing_signer, police_sample, signed_request,
)
from tests.integration.test_gateway_wssec import WSSE_ID_ATTRIBUTES

XMLSEC1 = shutil.which("xmlsec1")
BORDER = "urn:om:rop:border:2020"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, trust_store, pki_dir):
    home = tmp_path_factory.mktemp("gateway-answers")
    broker, routes = broker_url("sqlite", home), isolated_routes()
    with declared(broker, routes):
        yield from _served_gateway("sqlite", home, broker, routes, trust_store, pki_dir)


class KeepsAnswers(zeep.Plugin):
    """zeep ingress hook: keeps each answer envelope as it arrived, for the checks zeep does not do."""

    def __init__(self) -> None:
        self.envelopes: list[etree._Element] = []

    def ingress(self, envelope, http_headers, operation):
        self.envelopes.append(envelope)
        return envelope, http_headers


@pytest.fixture
def answers() -> KeepsAnswers:
    return KeepsAnswers()


@pytest.fixture
def police(gateway, answers) -> zeep.Client:
    return zeep.Client(f"{gateway.url}?wsdl", plugins=[SignedByPolice(gateway.sign), answers])


def xmlsec1_verifies(pki_dir: Path, tmp_path: Path, data: bytes, *extra: str) -> bool:
    path = tmp_path / "answer.xml"
    path.write_bytes(data)
    result = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(PkiPaths(pki_dir).hub_cert), *extra,
                             str(path)], capture_output=True, timeout=30)
    return result.returncode == 0


def hub_signed(gateway, pki_dir, tmp_path, element: etree._Element) -> etree._Element:
    """``element`` (signed enveloped) checked by the hub's verifier and by xmlsec1, as its own document."""
    standalone = etree.tostring(element, method="c14n", exclusive=True)
    assert xmlsec1_verifies(pki_dir, tmp_path, standalone)
    return gateway.verifier.verify(parse_xml(standalone), expected_signer="hub").element


def test_a_receipt_is_signed_by_the_hub_and_logged(gateway, police, answers, pki_dir, tmp_path):
    sample = police_sample("NotifyResidenceRenewal")
    receipt = call(police, sample)
    element = answers.envelopes[-1].find(f"{{{SOAP}}}Body")[0]
    assert element.find(f"{{{DS}}}Signature") is not None
    assert hub_signed(gateway, pki_dir, tmp_path, element).findtext("{*}HubMessageId") == receipt.HubMessageId
    [logged] = gateway.hub.log.find(correlation_id=receipt.HubMessageId, source_agency="hub")
    assert (logged.message_type, logged.destination, logged.status) == ("NotificationReceipt", "police", "published")
    assert parse_xml(logged.raw).find(f"{{{SOAP}}}Body")[0].findtext("{*}MsgId") == sample.findtext("{*}MsgId")


def test_a_reply_is_signed_by_the_hub(gateway, police, answers, pki_dir, tmp_path):
    with LicensingResponder(gateway, licensing_signer(pki_dir)):
        verdict = call(police, police_sample("CheckVisaEligibility"))
    element = answers.envelopes[-1].find(f"{{{SOAP}}}Body")[0]
    assert hub_signed(gateway, pki_dir, tmp_path, element).findtext("{*}EligibleFlag") == verdict.EligibleFlag == "Y"


def test_a_fault_to_a_signed_request_is_signed_in_its_detail(gateway, pki_dir, tmp_path):
    reply = requests.post(gateway.url, data=signed_request(gateway, police_sample("NotifyArrival", VisaNo=None)),
                          headers={"Content-Type": "text/xml"}, timeout=15)
    assert reply.status_code == 500
    fault = parse_xml(reply.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    error = hub_signed(gateway, pki_dir, tmp_path, fault.find(f"detail/{{{BORDER}}}ServiceError"))
    assert fault.findtext("faultcode") == "soap:Client.Schema"
    assert (error.findtext(f"{{{BORDER}}}ErrorCode"), error.findtext(f"{{{BORDER}}}ErrorText")) == (
        "schema", fault.findtext("faultstring"))


@pytest.mark.parametrize("data", [b"not xml at all", b"<soap:Envelope xmlns:soap='x'/>",
                                  b"<!DOCTYPE a [<!ENTITY e 'x'>]><a/>"])
def test_a_fault_to_unreadable_input_is_signed_over_its_body(gateway, pki_dir, tmp_path, data):
    reply = requests.post(gateway.url, data=data, headers={"Content-Type": "text/xml"}, timeout=15)
    assert reply.status_code == 500
    envelope = parse_xml(reply.content)
    verify_envelope(envelope, str(PkiPaths(pki_dir).hub_cert))  # zeep's check
    assert xmlsec1_verifies(pki_dir, tmp_path, reply.content, *WSSE_ID_ATTRIBUTES)
    assert envelope.findtext(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/faultcode").startswith("soap:Client")


def test_a_changed_signed_fault_fails_xmlsec1(gateway, pki_dir, tmp_path):
    reply = requests.post(gateway.url, data=b"not xml", headers={"Content-Type": "text/xml"}, timeout=15)
    forged = reply.content.replace(b"soap:Client", b"soap:Server", 1)
    assert forged != reply.content
    assert not xmlsec1_verifies(pki_dir, tmp_path, forged, *WSSE_ID_ATTRIBUTES)


class SignedWithXmlsec(zeep.Plugin):
    """The partner guide's enveloped zeep client: the request element signed by libxmlsec1, no Rabt code."""

    def __init__(self, pki_dir: Path) -> None:
        self.paths = PkiPaths(pki_dir)

    def egress(self, envelope, http_headers, operation, binding_options):
        body = envelope.find(f"{{{SOAP}}}Body")
        payload = copy.deepcopy(body[0])
        sig = xmlsec.template.create(payload, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
        payload.append(sig)
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="")
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig)))
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_file(str(self.paths.agency_key("police")), xmlsec.KeyFormat.PEM)
        context.key.load_cert_from_file(str(self.paths.agency_cert("police")), xmlsec.KeyFormat.PEM)
        context.sign(sig)
        body.replace(body[0], payload)
        return envelope, http_headers


def test_the_partner_guides_enveloped_zeep_client_is_receipted(gateway, pki_dir, answers, tmp_path):
    client = zeep.Client(f"{gateway.url}?wsdl", plugins=[SignedWithXmlsec(pki_dir), answers])
    sample = police_sample("NotifyArrival")
    value = client.get_element(sample.tag).parse(sample, client.wsdl.types)
    receipt = client.service.NotifyArrival(**{name: value[name] for name in value if name != "_value_1"})
    assert (receipt.MsgId, receipt.Duplicate) == (sample.findtext("{*}MsgId"), False)
    hub_signed(gateway, pki_dir, tmp_path, answers.envelopes[-1].find(f"{{{SOAP}}}Body")[0])


def police_service(gateway, path: str) -> tuple[zeep.Client, object]:
    client = zeep.Client(f"{gateway.url}?wsdl", plugins=[SignedByPolice(gateway.sign)])
    return client, client.create_service("{urn:om:rop:hubgateway:2020}PoliceGatewayPortBinding",
                                         f"{gateway.base_url}{path}")


def test_zeep_raises_a_fault_for_an_unknown_agency(gateway):
    client, service = police_service(gateway, "/soap/nosuch")
    sample = police_sample("NotifyArrival")
    value = client.get_element(sample.tag).parse(sample, client.wsdl.types)
    with pytest.raises(zeep.exceptions.Fault) as fault:
        service.NotifyArrival(**{name: value[name] for name in value if name != "_value_1"})
    assert fault.value.code == "soap:Client.UnknownAgency"


class AsksForAnOperationNotOffered(zeep.Plugin):
    """zeep egress hook: the request element renamed to an operation the gateway does not offer."""

    def egress(self, envelope, http_headers, operation, binding_options):
        envelope.find(f"{{{SOAP}}}Body")[0].tag = f"{{{BORDER}}}NotifyNothing"
        return envelope, http_headers


def test_zeep_raises_a_fault_for_an_unknown_operation(gateway):
    client = zeep.Client(f"{gateway.url}?wsdl", plugins=[AsksForAnOperationNotOffered(), SignedByPolice(gateway.sign)])
    with pytest.raises(zeep.exceptions.Fault) as fault:
        call(client, police_sample("NotifyArrival"))
    assert fault.value.code == "soap:Client.UnknownOperation"
    assert fault.value.message.startswith("police has no operation NotifyNothing")
