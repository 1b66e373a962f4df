"""Licensing's seal: an answer's envelope signed from its header and body is the envelope the tree road signs."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from hub.envelope import build_envelope, new_header
from hub.pki import init_pki
from hub.signing import TrustStore, Verifier
from hub.xmlsafe import parse_xml
from simulators.licensing import canonical_io, rules
from simulators.licensing.hub_link import SignerSeal, licensing_seal, outgoing


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("home") / "pki"
    init_pki(root, ["police", "licensing"])  # RSA: its signatures are the same for the same bytes
    return root


def answer() -> tuple:
    verdict = rules.VisaAnswer(True, rules.Reason("vacancy-available", "one & only <free> vacancy"), 1)
    body = canonical_io.visa_eligibility_result("PL-2024-0046671", verdict)
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


def test_the_answer_is_built_as_the_element_builders_would_build_it():
    verdict = rules.VisaAnswer(False, rules.Reason("no-vacancy", "none left"), None)
    built = canonical_io.visa_eligibility_result("PL-1", verdict)
    by_builders = canonical_io.element("VisaEligibilityResult", canonical_io.leaf("LicenceNumber", "PL-1"),
                                       canonical_io.leaf("Eligible", "false"),
                                       canonical_io.reason("no-vacancy", "none left"))
    assert etree.tostring(built) == etree.tostring(by_builders)
    assert canonical_io.visa_query(canonical_io.element(
        "VisaEligibilityQuery", canonical_io.leaf("LicenceNumber", " PL-1 "), canonical_io.leaf("LicenceType", "private"),
        canonical_io.leaf("ProfessionCode", "911101"), canonical_io.leaf("WorkerNationality", "IND"))) == {
        "licence_number": "PL-1", "licence_type": "private", "profession_code": "911101", "nationality": "IND",
        "passport_number": None}
