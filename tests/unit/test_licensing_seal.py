"""Licensing's seal: an answer's envelope signed from its header and body, or from its body written as canonical
text, is the envelope the tree road signs, and libxmlsec1 verifies it."""

from __future__ import annotations

import copy
import hashlib
import shutil
import subprocess

import pytest
from lxml import etree

from hub.envelope import build_envelope, canonical_envelope_of, new_header
from hub.errors import SchemaError
from hub.pki import PkiPaths, init_pki
from hub.signing import TrustStore, Verifier
from hub.xmlsafe import parse_xml
from simulators.licensing import answer_text, canonical_io, one_pass_readers, rules
from simulators.licensing.hub_link import SignerSeal, licensing_seal, outgoing, reply_text


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("home") / "pki"
    init_pki(root, ["police", "licensing"])  # RSA: its signatures are the same for the same bytes
    return root


def by_builders(licence_number: str, verdict: rules.VisaAnswer) -> etree._Element:
    """The VisaEligibilityResult as canonical_io's element builders build it."""
    remaining = canonical_io.leaf("RemainingVacancies", verdict.remaining)
    return canonical_io.element("VisaEligibilityResult", canonical_io.leaf("LicenceNumber", licence_number),
                                canonical_io.leaf("Eligible", "true" if verdict.eligible else "false"),
                                canonical_io.reason(verdict.reason.code, verdict.reason.text), remaining)


def answer() -> tuple:
    verdict = rules.VisaAnswer(True, rules.Reason("vacancy-available", "one & only <free> vacancy"), 1)
    body = by_builders("PL-2024-0046671", verdict)
    header = new_header(message_type="VisaEligibilityResult", source_agency="licensing", source_system="licensing",
                        destination="police", raw_payload=etree.tostring(body))
    return header, body


def test_the_envelope_signed_from_header_and_body_is_byte_for_byte_the_tree_roads_and_verifies(pki):
    seal = licensing_seal(pki)
    assert isinstance(seal, SignerSeal)
    header, body = answer()
    by_tree = seal(build_envelope(header, copy.deepcopy(body)))
    assert seal.envelope(header, body) == by_tree
    verified = Verifier(TrustStore.load(pki)).verify(parse_xml(by_tree), expected_signer="licensing")
    assert verified.element.findtext(".//{urn:rabt:canonical:v1}Code") == "vacancy-available"


def test_outgoing_takes_the_seals_own_road_and_leaves_the_body_where_it_was(pki):
    seal = licensing_seal(pki)
    header, body = answer()
    message = outgoing(header, body, seal)
    assert body.getparent() is None  # not moved into an envelope tree
    assert message.body == seal(build_envelope(header, copy.deepcopy(body)))
    assert message.routing_key == "police.VisaEligibilityResult.licensing"


def test_a_plain_callable_seal_still_gets_the_envelope_tree(pki):
    header, body = answer()
    seen = []
    outgoing(header, body, lambda envelope: seen.append(envelope) or b"<sealed/>")
    assert [etree.QName(envelope).localname for envelope in seen] == ["Envelope"]


VERDICTS = [
    rules.VisaAnswer(True, rules.Reason("vacancy-available", "one & only <free> vacancy > none"), 1),
    rules.VisaAnswer(False, rules.Reason("no-vacancy", "none left"), 0),
    rules.VisaAnswer(False, rules.Reason("licence-not-found", None), None),
    rules.VisaAnswer(False, rules.Reason("licence-not-valid", "سبب " + "x" * 5000), None),
]


@pytest.mark.parametrize("verdict", VERDICTS)
def test_the_answer_written_as_text_is_the_builders_tree_in_canonical_form_and_as_serialized(verdict):
    written = answer_text.visa_eligibility_result("PL-1 & <2>", verdict)
    tree = by_builders("PL-1 & <2>", verdict)
    assert written == etree.tostring(tree, method="c14n", exclusive=True)
    assert written == etree.tostring(tree, encoding="UTF-8")  # the bytes its payload digest is taken over
    assert len(etree.fromstring(written).findtext(".//{urn:rabt:canonical:v1}Text") or "") <= 4000


@pytest.mark.parametrize("bad", ["PL-\x01", "PL-\ud800", "PL-\ufffe"])
def test_an_answer_holding_a_character_xml_cannot_carry_is_refused(bad):
    with pytest.raises(SchemaError, match="cannot carry"):
        answer_text.visa_eligibility_result(bad, VERDICTS[1])


def xmlsec1_verifies(pki, signed: bytes, tmp_path) -> bool:
    binary = shutil.which("xmlsec1")
    assert binary, "xmlsec1 is not installed"
    path = tmp_path / "answer.xml"
    path.write_bytes(signed)
    result = subprocess.run([binary, "--verify", "--pubkey-cert-pem", str(PkiPaths(pki).agency_cert("licensing")),
                             str(path)], capture_output=True, timeout=30)
    return result.returncode == 0


def test_an_answer_sealed_from_its_text_is_the_tree_roads_envelope_and_xmlsec1_verifies_it(pki, tmp_path):
    seal = licensing_seal(pki)
    header, body = answer()
    content = etree.tostring(body, method="c14n", exclusive=True)
    sealed = seal.envelope_of(header, content)
    assert sealed == seal(build_envelope(header, copy.deepcopy(body)))
    assert xmlsec1_verifies(pki, sealed, tmp_path)
    tampered = sealed.replace(b"vacancy-available", b"vacancy-availablf")
    assert not xmlsec1_verifies(pki, tampered, tmp_path)


def test_a_body_not_in_the_form_the_text_road_vouches_for_is_refused():
    header, body = answer()
    for content in (etree.tostring(body, xml_declaration=True, encoding="UTF-8"),  # not canonical
                    b"<rabt:VisaEligibilityQuery xmlns:rabt=\"urn:rabt:canonical:v1\"></rabt:VisaEligibilityQuery>"):
        with pytest.raises(SchemaError, match="exclusive C14N"):
            canonical_envelope_of(header, content)


class Kept:
    """A transport that keeps what it is told to reply."""

    def __init__(self) -> None:
        self.replies = []

    def reply(self, delivery, message) -> None:
        self.replies.append(message)


def delivery_asking():
    from hub.transports import Delivery, Message

    request = new_header(message_type="VisaEligibilityQuery", source_agency="police", source_system="police",
                         destination="licensing", raw_payload=b"<q/>")
    return request, Delivery(Message(b"<q/>", "licensing.VisaEligibilityQuery.police", request.message_id,
                                     "corr-1", "amq.rabbitmq.reply-to.x"), "licensing", 1, False)


@pytest.mark.parametrize("signed", [True, False])
def test_reply_text_answers_the_asker_through_either_seal(pki, signed):
    request, delivery = delivery_asking()
    seal = licensing_seal(pki) if signed else (lambda envelope: etree.tostring(envelope, method="c14n"))
    content = answer_text.visa_eligibility_result("PL-1", VERDICTS[0])
    transport = Kept()
    header = reply_text(delivery, request, "VisaEligibilityResult", content, seal, transport)
    [message] = transport.replies
    assert (message.correlation_id, message.message_id) == ("corr-1", header.message_id)
    assert message.routing_key == "police.VisaEligibilityResult.licensing"
    assert header.payload_digest == hashlib.sha256(content).hexdigest()
    envelope = parse_xml(message.body)
    if signed:
        envelope = Verifier(TrustStore.load(pki)).verify(envelope, expected_signer="licensing").element
    body = envelope.find("{urn:rabt:canonical:v1}Body")[0]
    assert etree.tostring(body, method="c14n", exclusive=True) == content


def query(*fields: tuple[str, str]) -> etree._Element:
    return canonical_io.element("VisaEligibilityQuery", *(canonical_io.leaf(tag, text) for tag, text in fields))


FULL = (("LicenceNumber", " PL-1 "), ("LicenceType", "private"), ("ProfessionCode", "911101"),
        ("WorkerNationality", "IND"), ("WorkerPassportNumber", "P1234567"))


def read_one_by_one(body: etree._Element) -> dict:
    """The query's fields read with req and opt, a find per field."""
    req, opt = canonical_io.req, canonical_io.opt
    return {"licence_number": req(body, "LicenceNumber"), "licence_type": req(body, "LicenceType"),
            "profession_code": req(body, "ProfessionCode"), "nationality": req(body, "WorkerNationality"),
            "passport_number": opt(body, "WorkerPassportNumber")}


@pytest.mark.parametrize("fields", [
    FULL, FULL[:4], FULL[:4] + (("WorkerPassportNumber", "  "),),
    FULL + (("LicenceNumber", "PL-2"),),  # a second of one name: the first is read, as find() reads it
    (("LicenceNumber", "PL-1"), ("Unknown", "x")) + FULL[1:],
])
def test_the_visa_query_read_in_one_pass_is_what_req_and_opt_read(fields):
    body = query(*fields)
    assert one_pass_readers.visa_query(body) == read_one_by_one(body)
    assert one_pass_readers.visa_query(query(*FULL)) == {
        "licence_number": "PL-1", "licence_type": "private", "profession_code": "911101", "nationality": "IND",
        "passport_number": "P1234567"}


@pytest.mark.parametrize("missing", range(4))
def test_a_visa_query_without_a_required_field_names_it(missing):
    fields = FULL[:missing] + ((FULL[missing][0], " "),) + FULL[missing + 1:]
    for body in (query(*fields), query(*(FULL[:missing] + FULL[missing + 1:]))):  # empty, then absent
        with pytest.raises(SchemaError) as refused:
            one_pass_readers.visa_query(body)
        with pytest.raises(SchemaError) as by_req:
            read_one_by_one(body)
        assert refused.value.reason == by_req.value.reason == f"VisaEligibilityQuery: {FULL[missing][0]} is missing"
