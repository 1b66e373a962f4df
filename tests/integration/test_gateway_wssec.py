"""The police sign with WS-Security, as standard SOAP stacks do, at the real gateway over HTTP.

Two real clients: zeep with its own ``BinarySignature`` plugin (the request
built from the served WSDL with nothing but typed arguments), and a request
in the shape Apache CXF/WSS4J sends (token, Timestamp, InclusiveNamespaces,
Ids on the Signature and KeyInfo) signed by ``xmlsec1 --sign`` on the command
line. Every answer comes back signed over its Body and is checked with zeep's
own verification and with ``xmlsec1 --verify``; every attack is a Client
fault naming the part, recorded as a refusal.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import xmlsec
import zeep
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from zeep.wsse.signature import BinarySignature, verify_envelope

from hub.envelope import read_envelope
from hub.pki import PkiPaths, load_certificate
from hub.transports.testing import isolated_routes
from hub.wssec import WSU, WSU_ID
from hub.xmlsafe import parse_xml
from simulators.police.client import PoliceClient, police_ws_security, soap_envelope
from simulators.population import Population, PopulationSpec
from tests.conftest import broker_url, declared
from tests.integration.test_gateway_police import (
    SOAP, LicensingResponder, _served_gateway, licensing_signer, police_sample,
)

XMLSEC1 = shutil.which("xmlsec1")
#: the shape WSS4J (Apache CXF) sends: token, Timestamp, InclusiveNamespaces, Ids on Signature, KeyInfo, STR
WSS4J_TEMPLATE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
    '<soap:Header>'
    '<wsse:Security soap:mustUnderstand="1">'
    '<wsse:BinarySecurityToken EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" wsu:Id="X509-1">{certificate}</wsse:BinarySecurityToken>'
    '<wsu:Timestamp wsu:Id="TS-1">'
    '<wsu:Created>{created}</wsu:Created>'
    '<wsu:Expires>{expires}</wsu:Expires>'
    '</wsu:Timestamp>'
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="SIG-1">'
    '<ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">'
    '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="soap"/>'
    '</ds:CanonicalizationMethod>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#TS-1">'
    '<ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">'
    '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="wsse soap"/>'
    '</ds:Transform>'
    '</ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    '<ds:DigestValue/>'
    '</ds:Reference>'
    '<ds:Reference URI="#id-B1">'
    '<ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">'
    '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList=""/>'
    '</ds:Transform>'
    '</ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    '<ds:DigestValue/>'
    '</ds:Reference>'
    '</ds:SignedInfo>'
    '<ds:SignatureValue/>'
    '<ds:KeyInfo Id="KI-1">'
    '<wsse:SecurityTokenReference wsu:Id="STR-1">'
    '<wsse:Reference URI="#X509-1" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"/>'
    '</wsse:SecurityTokenReference>'
    '</ds:KeyInfo>'
    '</ds:Signature>'
    '</wsse:Security>'
    '</soap:Header>'
    '<soap:Body wsu:Id="id-B1">'
    '</soap:Body>'
    '</soap:Envelope>'
)
WSSE_ID_ATTRIBUTES = ["--id-attr:Id", f"{SOAP}:Body", "--id-attr:Id", f"{WSU}:Timestamp"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, trust_store, pki_dir):
    """One gateway on the embedded broker: how a request was signed does not depend on the transport."""
    home = tmp_path_factory.mktemp("gateway-wssec")
    broker, routes = broker_url("sqlite", home), isolated_routes()
    with declared(broker, routes):
        yield from _served_gateway("sqlite", home, broker, routes, trust_store, pki_dir)


class PoliceWsSecurity:
    """zeep's ``wsse`` hook as a police integrator sets it up: their key signs, the hub's certificate checks."""

    def __init__(self, pki_dir: Path) -> None:
        paths = PkiPaths(pki_dir)
        self.signature = BinarySignature(str(paths.agency_key("police")), str(paths.agency_cert("police")),
                                         signature_method=xmlsec.Transform.RSA_SHA256,
                                         digest_method=xmlsec.Transform.SHA256)
        self.hub_certificate = str(paths.hub_cert)
        self.verified = 0

    def apply(self, envelope, headers):
        return self.signature.apply(envelope, headers)

    def verify(self, envelope):
        verify_envelope(envelope, self.hub_certificate)  # raises SignatureVerificationFailed
        self.verified += 1
        return envelope


@pytest.fixture(scope="module")
def wsse(pki_dir) -> PoliceWsSecurity:
    return PoliceWsSecurity(pki_dir)


@pytest.fixture(scope="module")
def police(gateway, wsse) -> zeep.Client:
    return zeep.Client(f"{gateway.url}?wsdl", wsse=wsse)


def typed_call(client: zeep.Client, sample: etree._Element):
    """The operation called with typed arguments only: no signature element, no trick."""
    value = client.get_element(sample.tag).parse(sample, client.wsdl.types)
    arguments = {name: value[name] for name in value if name != "_value_1"}
    return getattr(client.service, etree.QName(sample).localname)(**arguments)


def xmlsec1(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([XMLSEC1, *arguments], capture_output=True, timeout=30)


def wss4j_request(pki_dir: Path, tmp_path: Path, payload: etree._Element, *, party: str = "police",
                  created: dt.datetime | None = None) -> bytes:
    """``payload`` in a WSS4J-shaped envelope (token, signed Timestamp and Body) signed by ``xmlsec1 --sign``."""
    paths = PkiPaths(pki_dir)
    created = created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    certificate = base64.b64encode(load_certificate(paths.agency_cert(party)).public_bytes(Encoding.DER)).decode()
    template = WSS4J_TEMPLATE.format(
        certificate=certificate, created=f"{created:%Y-%m-%dT%H:%M:%SZ}",
        expires=f"{created + dt.timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}")
    envelope = etree.fromstring(template.encode())
    envelope.find(f"{{{SOAP}}}Body").append(payload)
    path = tmp_path / "wss4j-template.xml"
    path.write_bytes(etree.tostring(envelope))
    signed = xmlsec1("--sign", "--privkey-pem", f"{paths.agency_key(party)},{paths.agency_cert(party)}",
                     *WSSE_ID_ATTRIBUTES, str(path))
    assert signed.returncode == 0, signed.stderr
    return signed.stdout


def post(gateway, data: bytes) -> requests.Response:
    return requests.post(gateway.url, data=data, timeout=15, headers={"Content-Type": "text/xml; charset=utf-8"})


def hub_signed_with_xmlsec1(pki_dir: Path, tmp_path: Path, data: bytes) -> bool:
    path = tmp_path / "answer.xml"
    path.write_bytes(data)
    result = xmlsec1("--verify", "--pubkey-cert-pem", str(PkiPaths(pki_dir).hub_cert), *WSSE_ID_ATTRIBUTES, str(path))
    return result.returncode == 0


# ------------------------------------------------------------------ accepted


def test_zeeps_binary_signature_plugin_sends_a_push_built_from_the_wsdl(gateway, police, wsse):
    sample = police_sample("NotifyArrival")
    verified_before = wsse.verified
    receipt = typed_call(police, sample)
    assert (receipt.MsgId, receipt.Duplicate) == (sample.findtext("{*}MsgId"), False)
    assert wsse.verified == verified_before + 1  # the hub's answer passed zeep's own check
    stored = gateway.hub.log.get(receipt.HubMessageId)
    assert b"BinarySecurityToken" in stored.raw  # the request as received
    header, body = read_envelope(gateway.verifier.verify(parse_xml(stored.envelope), expected_signer="hub").element)
    assert (header.source_agency, header.message_type) == ("police", "WorkerArrival")


def test_zeeps_plugin_asks_the_visa_question_and_gets_a_signed_answer(gateway, police, wsse, pki_dir):
    with LicensingResponder(gateway, licensing_signer(pki_dir)) as licensing:
        answer = typed_call(police, police_sample("CheckVisaEligibility"))
    assert (answer.EligibleFlag, answer.ReasonCode) == ("Y", "vacancy-available")
    [(query_id, _)] = licensing.answered
    assert answer.HubMessageId == query_id


def test_a_wss4j_shaped_request_signed_by_xmlsec1_is_receipted_with_a_signed_body(gateway, pki_dir, tmp_path):
    sample = police_sample("NotifyDeparture")
    reply = post(gateway, wss4j_request(pki_dir, tmp_path, sample))
    assert reply.status_code == 200, reply.text
    assert hub_signed_with_xmlsec1(pki_dir, tmp_path, reply.content)
    receipt = parse_xml(reply.content).find(f"{{{SOAP}}}Body")[0]
    assert receipt.findtext("{*}MsgId") == sample.findtext("{*}MsgId")
    assert gateway.hub.log.get(receipt.findtext("{*}HubMessageId")).message_type == "WorkerDeparture"


def test_the_police_simulator_client_signs_with_ws_security_when_asked(gateway, pki_dir):
    worker = Population(PopulationSpec.scaled(1000)).worker(5)
    client = PoliceClient(gateway.url, None, sign_envelope=police_ws_security(pki_dir))
    try:
        assert b"BinarySecurityToken" in client.prepare(client.messages.departure(worker))
        receipt = client.notify_departure(worker, port="SOH")
    finally:
        client.close()
    assert gateway.hub.log.get(receipt.findtext("{*}HubMessageId")).message_type == "WorkerDeparture"


# ------------------------------------------------------------------ refused


def refused(gateway, pki_dir, tmp_path, data: bytes, fault_code: str = "soap:Client.Signature") -> str:
    """Post ``data``: a 500 whose Fault is signed over the Body, recorded as a refusal; its faultstring."""
    refusals = len(gateway.hub.log.refusals("police", limit=10_000))
    reply = post(gateway, data)
    assert reply.status_code == 500
    envelope = parse_xml(reply.content)
    verify_envelope(envelope, str(PkiPaths(pki_dir).hub_cert))
    assert hub_signed_with_xmlsec1(pki_dir, tmp_path, reply.content)
    fault = envelope.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault.findtext("faultcode") == fault_code, fault.findtext("faultstring")
    assert len(gateway.hub.log.refusals("police", limit=10_000)) == refusals + 1
    return fault.findtext("faultstring")


@pytest.fixture
def request_of(pki_dir, tmp_path):
    """A fresh WSS4J-shaped NotifyArrival as a tree, to be attacked before it is sent."""
    return lambda **kw: etree.fromstring(wss4j_request(pki_dir, tmp_path, police_sample("NotifyArrival"), **kw))


def test_a_tampered_body_is_refused(gateway, pki_dir, tmp_path, request_of):
    envelope = request_of()
    envelope.find(".//{*}VisaNo").text = "EV-2099-0000001"
    assert refused(gateway, pki_dir, tmp_path, etree.tostring(envelope)) == \
        "the signed soap:Body was changed (digest mismatch)"


def test_a_body_swapped_behind_a_wrapped_signed_one_is_refused(gateway, pki_dir, tmp_path, request_of):
    envelope = request_of()
    body = envelope.find(f"{{{SOAP}}}Body")
    wrapper = etree.SubElement(envelope.find(f"{{{SOAP}}}Header"), "{urn:attacker}Wrapper")
    wrapper.append(copy.deepcopy(body[0]))
    wrapper.set(WSU_ID, body.attrib.pop(WSU_ID))  # the signed content under the signed Id, elsewhere
    body[0].find("{*}VisaNo").text = "EV-2099-0000001"
    reason = refused(gateway, pki_dir, tmp_path, etree.tostring(envelope))
    assert reason.endswith("does not name the soap:Body or the wsu:Timestamp (once each)")


def test_a_second_body_is_refused(gateway, pki_dir, tmp_path, request_of):
    envelope = request_of()
    envelope.append(copy.deepcopy(envelope.find(f"{{{SOAP}}}Body")))
    assert refused(gateway, pki_dir, tmp_path, etree.tostring(envelope), "soap:Client") == \
        "SOAP Envelope must hold exactly one Body, found 2"


def test_a_stale_timestamp_is_refused(gateway, pki_dir, tmp_path, request_of):
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=10)
    reason = refused(gateway, pki_dir, tmp_path, etree.tostring(request_of(created=created)))
    assert reason.startswith("wsu:Timestamp ") and ("stale" in reason or "expired" in reason)


def test_a_token_that_is_not_the_polices_pinned_certificate_is_refused(gateway, pki_dir, tmp_path, request_of):
    reason = refused(gateway, pki_dir, tmp_path, etree.tostring(request_of(party="commerce")))
    assert reason == "wsse:BinarySecurityToken is not the certificate registered for 'police'"


def test_an_unsigned_timestamp_is_refused(gateway, pki_dir, tmp_path, request_of):
    envelope = request_of()
    references = envelope.findall(".//{http://www.w3.org/2000/09/xmldsig#}Reference")
    timestamp_reference = next(r for r in references if r.get("URI") == "#TS-1")
    timestamp_reference.getparent().remove(timestamp_reference)  # the signature no longer covers it
    reason = refused(gateway, pki_dir, tmp_path, etree.tostring(envelope))
    assert reason == "the wsu:Timestamp is not signed"


def test_a_request_without_any_signature_names_both_styles(gateway, pki_dir, tmp_path):
    fault = post(gateway, soap_envelope(police_sample("NotifyArrival")))
    assert fault.status_code == 500
    assert b"no ds:Signature (nor a wsse:Security header)" in fault.content
