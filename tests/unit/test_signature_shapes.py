"""A signature whose shape has verified before is read by position, exactly as the full reading reads it.

The profile's refusals against a verifier that knows the shape are in
``test_verify_profile.py`` (every malformed part, every tampered copy, random
damage); here: what is remembered, when, and how much.
"""

from __future__ import annotations

import base64
import copy
from concurrent.futures import ThreadPoolExecutor
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


ALL_SAMPLES = sorted((Path(__file__).parents[1] / "samples").rglob("*.xml"))


def knowing(store: TrustStore) -> Verifier:
    verifier = Verifier(store)
    verifier.verify(parse_xml(signed(store)), expected_signer="hub")
    assert verifier.shapes_known == 1
    return verifier


def refusal(verifier: Verifier, document: etree._Element | bytes) -> str | None:
    """None if ``verifier`` accepts the document, else what it said (a tree is verified as it is: the
    hardened parse would drop a processing instruction the test put in)."""
    try:
        verifier.verify(parse_xml(document) if isinstance(document, bytes) else copy.deepcopy(document),
                        expected_signer="hub")
    except SignatureError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_by_position_the_signed_info_is_signed_as_its_exclusive_c14n_byte_for_byte(store, sample):
    shapes = SignatureShapes()
    shapes.remember(shapes.read(parse_xml(signed(store)), "hub"))
    data = signed(store, sample)  # once: ECDSA signatures differ each time
    read = shapes.read(parse_xml(data), "hub")
    assert read.known
    full = read_signature(parse_xml(data), "hub")
    assert read.parts.canonical_signed_info == etree.tostring(full.signed_info, method="c14n", exclusive=True,
                                                              with_comments=False)
    assert (read.parts.digest, read.parts.value, read.parts.certificates) == (full.digest, full.value,
                                                                              full.certificates)


def test_a_signed_info_of_another_layout_is_read_in_full_and_then_known(store):
    document = parse_xml(signed(store))
    signed_info = document.find(f".//{{{DS}}}SignedInfo")
    for element in signed_info.iter():  # another stack's line breaks: the same profile, other canonical bytes
        element.tail = "\n"
    canonical = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
    value = base64.b64encode(Signer(store.hub).signature_value(canonical)).decode("ascii")
    document.find(f".//{{{DS}}}SignatureValue").text = value
    verifier = knowing(store)
    assert not verifier._shapes.read(copy.deepcopy(document), "hub").known
    assert verifier.verify(copy.deepcopy(document), expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 2
    read = verifier._shapes.read(document, "hub")
    assert read.known
    assert read.parts.canonical_signed_info == canonical


def digest_value_changed(store: TrustStore, change) -> etree._Element:
    document = parse_xml(signed(store, SAMPLES[1]))
    change(document.find(f".//{{{DS}}}DigestValue"))
    return document


def read_by_position(verifier: Verifier, document: etree._Element) -> bool:
    try:
        return verifier._shapes.read(copy.deepcopy(document), "hub").known
    except SignatureError:  # refused by the full reading
        return False


@pytest.mark.parametrize(("change", "by_position"), [
    (lambda node: node.insert(0, etree.Comment("x")), False),  # after its text: outside the signed form, accepted
    (lambda node: setattr(node, "text", node.text[:8]) or node.append(etree.Comment(node.text)), False),
    (lambda node: node.append(etree.ProcessingInstruction("pi", "x")), False),
    (lambda node: setattr(node, "text", node.text[:8] + "\r" + node.text[8:]), False),  # C14N writes &#xD;
    (lambda node: setattr(node, "text", node.text + ">"), False),  # C14N writes &gt;
    (lambda node: setattr(node, "text", ""), False),  # refused while read: the same words
    (lambda node: setattr(node, "text", "\u00a0" + node.text), True),  # whitespace to str.split() alike
], ids=["comment after", "comment inside", "processing instruction", "carriage return", "markup character",
        "empty", "unicode space"])
def test_a_digest_value_that_is_more_or_other_than_text_is_read_as_the_full_reading_reads_it(store, change,
                                                                                             by_position):
    document = digest_value_changed(store, change)
    verifier = knowing(store)
    assert read_by_position(verifier, document) == by_position
    assert refusal(verifier, document) == refusal(Verifier(store), document)


def test_a_comment_elsewhere_in_signed_info_is_another_template_of_the_same_shape(store):
    verifier = knowing(store)
    document = parse_xml(signed(store, SAMPLES[1]))
    document.find(f".//{{{DS}}}Reference").insert(1, etree.Comment("a note"))
    read = verifier._shapes.read(copy.deepcopy(document), "hub")
    assert not read.known  # the shape outside SignedInfo is the same; its canonical form (comments kept) is not
    assert verifier.verify(document, expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 2
    again = parse_xml(signed(store, SAMPLES[2]))
    again.find(f".//{{{DS}}}Reference").insert(1, etree.Comment("a note"))
    read = verifier._shapes.read(again, "hub")
    assert read.known
    assert read.parts.canonical_signed_info == etree.tostring(read.parts.signed_info, method="c14n",
                                                              exclusive=True, with_comments=False)


def test_the_content_s_comments_are_taken_out_and_a_processing_instruction_is_not_taken_for_one(store):
    verifier = knowing(store)
    document = parse_xml(signed(store, SAMPLES[1]))
    signature = document.find(f"{{{DS}}}Signature")
    document.remove(signature)  # the content changed before it is signed: PIs are signed, comments are not
    document.append(etree.ProcessingInstruction("note", "<!-- not a comment -->"))
    data = Signer(store.hub).sign_bytes(document)
    with_pi = etree.fromstring(data)  # not the hardened parse: it drops processing instructions
    with_pi[0].append(etree.Comment("a comment"))
    verified = verifier.verify(with_pi, expected_signer="hub").element
    assert not list(verified.iter(etree.Comment))
    assert [pi.text for pi in verified.iter(etree.ProcessingInstruction)] == ["<!-- not a comment -->"]


def test_one_verifier_shared_by_threads_verifies_every_document_and_refuses_every_tampered_one(store):
    verifier = Verifier(store)
    good = [signed(store, sample) for sample in SAMPLES[:6]]
    bad = [data.replace(b">", b"><x/>", 1) for data in good]  # an element slipped in first
    assert all(a != b for a, b in zip(good, bad, strict=True))

    def check(index: int) -> tuple[bool, bool]:
        data, tampered = good[index % len(good)], bad[index % len(bad)]
        return refusal(verifier, data) is None, refusal(verifier, tampered) is not None

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(ok and refused for ok, refused in pool.map(check, range(200)))
    assert verifier.shapes_known == 1


def test_a_known_template_read_in_full_once_is_not_kept_twice(store):
    verifier = knowing(store)
    document = parse_xml(signed(store, SAMPLES[1]))
    value = document.find(f".//{{{DS}}}DigestValue")
    value.text = value.text[:8] + "\n" + value.text[8:]  # a line break C14N keeps: other signed bytes
    canonical = etree.tostring(document.find(f".//{{{DS}}}SignedInfo"), method="c14n", exclusive=True)
    document.find(f".//{{{DS}}}SignatureValue").text = base64.b64encode(
        Signer(store.hub).signature_value(canonical)).decode("ascii")
    assert verifier.verify(copy.deepcopy(document), expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 1  # the line break sits in the DigestValue's place: the same template
    value.text = value.text.replace("\n", "\r")
    canonical = etree.tostring(document.find(f".//{{{DS}}}SignedInfo"), method="c14n", exclusive=True)
    document.find(f".//{{{DS}}}SignatureValue").text = base64.b64encode(
        Signer(store.hub).signature_value(canonical)).decode("ascii")
    assert not verifier._shapes.read(copy.deepcopy(document), "hub").known  # &#xD;: read in full
    assert verifier.verify(document, expected_signer="hub").signer == "hub"
    assert verifier.shapes_known == 1
