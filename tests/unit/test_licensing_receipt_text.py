"""A DeliveryReceipt written as text is the canonical form of a tree of the schema's elements (as the sender
once built it), valid, and sealed as the tree road sealed it: the hub verifies licensing's signature and reads the same outcomes."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from lxml import etree

from hub import canonical
from hub.envelope import read_envelope
from hub.pki import init_pki
from hub.signing import TrustStore, Verifier
from hub.xmlsafe import parse_xml
from simulators.licensing import answer_text
from simulators.licensing.hub_link import licensing_seal
from simulators.licensing.receipts import ReceiptSender
from simulators.licensing.state import utc_text

R = "{urn:rabt:canonical:v1}"
AT = datetime(2026, 11, 22, 3, 41, 9, 120000, tzinfo=timezone.utc)
OUTCOMES = [
    ("3f0c9a52-7d1e-4b8a-9c61-2e5d8f40a7b3", "applied", None, None),
    ("5d8a1e0c-3b6f-4c92-a7e4-1f0b9d2c6e58", "duplicate", None, None),
    ("c41f7b2a-8e05-4d63-9a1b-7e2d5c0f3a96", "failed", "input", "licensing does not handle <CivilStatusQuery> & more"),
    ("9b2e4c1d-0a7f-4e3b-8d52-6c1f0e9a4b77", "failed", "Not A Code", "line one\r\nline two\twith a tab > that"),
    ("0b1c2d3e-4f50-4a6b-8c7d-8e9f0a1b2c3d", "failed", "apply-window", None),
    ("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "failed", "internal", "لم يطبق: quote \" and apostrophe '"),
]


def tree_form(outcomes, committed_at=AT) -> bytes:
    """The receipt as a tree of the schema's elements, in exclusive C14N: what the sender once built and sent."""
    body = etree.Element(f"{R}DeliveryReceipt", nsmap={"rabt": R[1:-1]})
    etree.SubElement(body, f"{R}Consumer").text = "licensing"
    etree.SubElement(body, f"{R}CommittedAt").text = utc_text(committed_at)
    for message_id, result, code, reason in outcomes:
        node = etree.SubElement(body, f"{R}Outcome")
        etree.SubElement(node, f"{R}MessageId").text = message_id
        etree.SubElement(node, f"{R}Result").text = result
        if result == "failed":
            etree.SubElement(node, f"{R}Code").text = code if re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", code or "") \
                else "internal"
            etree.SubElement(node, f"{R}Reason").text = reason or "no reason given"
    return etree.tostring(body, method="c14n", exclusive=True)


@pytest.mark.parametrize("count", [1, 2, 6])
def test_the_text_is_the_canonical_form_of_the_tree_and_valid(count):
    text = answer_text.delivery_receipt("licensing", utc_text(AT), OUTCOMES[:count])
    assert text == tree_form(OUTCOMES[:count])
    body = parse_xml(text)
    canonical.validate(body)
    assert [o.findtext(R + "Code") for o in body.iter(R + "Outcome")][3:count] == ["internal", "apply-window",
                                                                                    "internal"][:max(count - 3, 0)]


def test_a_reason_with_a_character_xml_cannot_carry_is_sent_with_a_replacement():
    text = answer_text.delivery_receipt("licensing", utc_text(AT), [
        ("3f0c9a52-7d1e-4b8a-9c61-2e5d8f40a7b3", "failed", "internal", "nul \x00 and \udc80 here")])
    assert parse_xml(text).findtext(f"{R}Outcome/{R}Reason") == "nul \ufffd and \ufffd here"


def test_a_sealed_receipt_verifies_as_licensings_and_lists_the_outcomes(tmp_path):
    init_pki(tmp_path / "pki", ["licensing"], key_type="ec")
    sender = ReceiptSender(lambda: None, licensing_seal(tmp_path / "pki"), now=lambda: AT)
    message = sender._sealed(OUTCOMES)
    verified = Verifier(TrustStore.load(tmp_path / "pki")).verify(parse_xml(message.body),
                                                                  expected_signer="licensing")
    header, body = read_envelope(verified.element)
    assert (header.message_type, header.source_agency, header.destination) == ("DeliveryReceipt", "licensing", "hub")
    assert message.routing_key == "hub.DeliveryReceipt.licensing" and message.message_id == header.message_id
    assert etree.tostring(body, method="c14n", exclusive=True) == tree_form(OUTCOMES)
