"""A signature whose shape has verified before is read by position, exactly as the full reading reads it.

The profile's refusals against a verifier that knows the shape are in
``test_verify_profile.py`` (every malformed part, every tampered copy, random
damage); here: what is remembered, when, and how much.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.errors import SignatureError
from hub.pki import init_pki
from hub.signature_shapes import SignatureShapes
from hub.signing import DS, Signer, TrustStore, Verifier
from hub.verify import read_signature
from hub.xmlsafe import parse_xml

SAMPLES = sorted((Path(__file__).parents[1] / "samples" / "canonical").glob("*.xml"))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> TrustStore:
    root = tmp_path_factory.mktemp("pki")
    init_pki(root, [], key_type="ec")
    return TrustStore.load(root)


def signed(store: TrustStore, sample: Path = SAMPLES[0]) -> bytes:
    return Signer(store.hub).sign_bytes(etree.parse(str(sample)).getroot())


def test_the_samples_are_several_documents():
    assert len(SAMPLES) >= 2


def test_a_known_shape_is_read_by_position_to_the_same_parts(store):
    shapes = SignatureShapes()
    first = shapes.read(parse_xml(signed(store, SAMPLES[0])), "hub")
    assert not first.known
    shapes.remember(first)
    other = parse_xml(signed(store, SAMPLES[1]))  # another document, another digest and value
    by_position = shapes.read(other, "hub")
    assert by_position.known
    full = read_signature(other, "hub")
    for field in ("signature", "signed_info", "signed_info_prefixes", "method", "content_prefixes", "digest",
                  "value", "certificates", "serials"):
        assert getattr(by_position.parts, field) == getattr(full, field), field
    assert by_position.parts.digest != first.parts.digest


def test_a_shape_is_remembered_only_once_its_signature_verified(store):
    verifier, document = Verifier(store), parse_xml(signed(store))
    value = document.find(f".//{{{DS}}}SignatureValue")
    value.text = value.text[:10] + ("A" if value.text[10] != "A" else "B") + value.text[11:]
    with pytest.raises(SignatureError):
        verifier.verify(document, expected_signer="hub")
    assert verifier.shapes_known == 0
    verifier.verify(parse_xml(signed(store)), expected_signer="hub")
    verifier.verify(parse_xml(signed(store, SAMPLES[1])), expected_signer="hub")
    assert verifier.shapes_known == 1


def test_a_comment_in_the_signature_is_another_shape_and_still_verifies(store):
    verifier = Verifier(store)
    verifier.verify(parse_xml(signed(store)), expected_signer="hub")
    document = parse_xml(signed(store))
    document.find(f".//{{{DS}}}SignedInfo").append(etree.Comment("a note"))
    assert verifier.verify(document, expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 2


def test_a_shape_naming_its_certificate_by_issuer_and_serial_is_not_remembered(store):
    document = parse_xml(signed(store))
    serial = etree.SubElement(document.find(f".//{{{DS}}}X509Data"), f"{{{DS}}}X509IssuerSerial")
    etree.SubElement(serial, f"{{{DS}}}X509IssuerName").text = store.hub.certificate.issuer.rfc4514_string()
    etree.SubElement(serial, f"{{{DS}}}X509SerialNumber").text = str(store.hub.certificate.serial_number)
    verifier = Verifier(store)
    assert verifier.verify(document, expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 0


def test_the_table_is_bounded_and_shapes_beyond_it_are_still_checked_in_full(store):
    shapes = SignatureShapes(limit=2)

    def with_notes(count: int) -> etree._Element:  # a comment's text is not shape; their number is
        document = parse_xml(signed(store))
        for _ in range(count):
            document.find(f".//{{{DS}}}KeyInfo").append(etree.Comment("a note"))
        return document

    for count in (1, 2, 3):
        read = shapes.read(with_notes(count), "hub")
        assert not read.known
        shapes.remember(read)
    assert len(shapes) == 2
    assert shapes.read(with_notes(2), "hub").known
    assert not shapes.read(with_notes(3), "hub").known
