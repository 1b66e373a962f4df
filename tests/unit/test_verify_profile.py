"""The hub's verifier against two independent ones (signxml, libxmlsec1) on every sample.

Each sample is signed three ways (the hub's signer, signxml, and xmlsec1 from a
template with an InclusiveNamespaces PrefixList) and must be accepted by all
three verifiers; tampered and wrapped copies must be refused by all three.
What lies outside the profile — valid XML-DSig that the hub does not accept —
and every malformed part must be a SignatureError naming the part.
"""

from __future__ import annotations

import base64
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import XMLSigner, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

from hub.errors import CertificateError, SignatureError
from hub.pki import PkiPaths, init_pki, load_certificate
from hub.signing import DS, Signer, TrustStore, Verifier
from hub.verify import EXC_C14N
from hub.xmlsafe import parse_xml

SAMPLES = sorted((Path(__file__).parents[1] / "samples").rglob("*.xml"))
XMLSEC1 = shutil.which("xmlsec1")


@pytest.fixture(scope="module", params=["rsa", "ec"])
def pki(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(f"pki-{request.param}")
    init_pki(root, [], key_type=request.param)
    return root


@pytest.fixture(scope="module")
def store(pki) -> TrustStore:
    return TrustStore.load(pki)


def hub_signed(store: TrustStore, sample: Path) -> bytes:
    return Signer(store.hub).sign_bytes(etree.parse(str(sample)).getroot())


def signxml_signed(store: TrustStore, sample: Path) -> bytes:
    identity = store.hub
    method = identity.signature_method.rpartition("#")[2]
    signer = XMLSigner(c14n_algorithm=EXC_C14N, signature_algorithm=method)
    signed = signer.sign(etree.parse(str(sample)).getroot(), key=identity.key, cert=[identity.certificate])
    return etree.tostring(signed)


TEMPLATE = f"""<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{{method}}"/>
<ds:Reference URI=""><ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xsi"/></ds:Transform>
</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>
</ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"""


def xmlsec1_signed(pki: Path, store: TrustStore, sample: Path, tmp_path: Path) -> bytes:
    document = etree.parse(str(sample)).getroot()
    document.append(etree.fromstring(TEMPLATE.replace("{method}", store.hub.signature_method)))
    template = tmp_path / "template.xml"
    template.write_bytes(etree.tostring(document))
    paths = PkiPaths(pki)
    result = subprocess.run([XMLSEC1, "--sign", "--privkey-pem", f"{paths.hub_key},{paths.hub_cert}",
                             str(template)], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def xmlsec1_accepts(pki: Path, data: bytes, tmp_path: Path) -> bool:
    path = tmp_path / "to-verify.xml"
    path.write_bytes(data)
    result = subprocess.run([XMLSEC1, "--verify", "--trusted-pem", str(PkiPaths(pki).ca_cert), str(path)],
                            capture_output=True, timeout=30)
    return result.returncode == 0


def signxml_accepts(store: TrustStore, data: bytes) -> bool:
    try:
        XMLVerifier().verify(data, x509_cert=store.hub.certificate)
    except (InvalidSignature, InvalidInput):
        return False
    return True


def hub_accepts(store: TrustStore, data: bytes, verifier: Verifier | None = None) -> bool:
    try:
        (verifier or Verifier(store)).verify(parse_xml(data), expected_signer="hub")
    except SignatureError:
        return False
    return True


def all_three(pki, store, data, tmp_path) -> tuple[bool, bool, bool]:
    return hub_accepts(store, data), signxml_accepts(store, data), xmlsec1_accepts(pki, data, tmp_path)


SIGNERS = {"hub": lambda pki, store, sample, tmp: hub_signed(store, sample),
           "signxml": lambda pki, store, sample, tmp: signxml_signed(store, sample),
           "xmlsec1": xmlsec1_signed}


def test_xmlsec1_is_installed():
    assert XMLSEC1, "xmlsec1 is not installed (apt-get install -y xmlsec1)"


@pytest.mark.parametrize("made_by", SIGNERS)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sample_is_accepted_by_all_three_and_tampering_refused_by_all(pki, store, sample, made_by, tmp_path):
    signed = SIGNERS[made_by](pki, store, sample, tmp_path)
    assert all_three(pki, store, signed, tmp_path) == (True, True, True)
    knows_the_shape = Verifier(store)
    verified = knows_the_shape.verify(parse_xml(signed), expected_signer="hub").element
    assert knows_the_shape.shapes_known == 1
    original = etree.parse(str(sample)).getroot()
    assert etree.tostring(verified, method="c14n", exclusive=True) == \
        etree.tostring(original, method="c14n", exclusive=True, with_comments=False)
    for name, tampered in tampered_copies(signed).items():
        assert all_three(pki, store, tampered, tmp_path) == (False, False, False), name
        assert not hub_accepts(store, tampered, knows_the_shape), f"{name}, by a verifier that knows its shape"


def tampered_copies(signed: bytes) -> dict[str, bytes]:
    document = etree.fromstring(signed)
    signature = document.find(f"{{{DS}}}Signature")
    copies = {}
    for part in ("DigestValue", "SignatureValue"):
        changed = etree.fromstring(signed)
        node = changed.find(f".//{{{DS}}}{part}")
        value = bytearray(base64.b64decode(node.text))
        value[len(value) // 2] ^= 1
        node.text = base64.b64encode(bytes(value)).decode()
        copies[f"changed {part}"] = etree.tostring(changed)
    changed = etree.fromstring(signed)
    first_text = next(e for e in changed.iter() if isinstance(e.tag, str) and (e.text or "").strip())
    first_text.text = first_text.text.strip() + "X"
    copies["changed content"] = etree.tostring(changed)
    wrapped = etree.Element(document.tag, nsmap=document.nsmap)
    document.remove(signature)
    etree.SubElement(wrapped, "Wrapper").append(document)
    wrapped.append(signature)
    copies["signed document moved under an evil root"] = etree.tostring(wrapped)
    beside = etree.fromstring(signed)
    beside.insert(0, etree.fromstring(etree.tostring(beside[0])))
    beside[0].tail = None
    copies["unsigned copy inserted beside the signed content"] = etree.tostring(beside)
    return copies


@pytest.fixture(scope="module")
def signed(store) -> bytes:
    return hub_signed(store, SAMPLES[0])


def mutated(signed: bytes, path: str, change) -> etree._Element:
    document = parse_xml(signed)
    change(document.find(path.replace("ds:", f"{{{DS}}}")), document)
    return document


def set_text(text):
    def change(node, _):
        node.text = text
    return change


def set_attribute(name, value):
    def change(node, _):
        node.set(name, value)
    return change


MALFORMED = {
    "empty SignatureValue": ("ds:Signature/ds:SignatureValue", set_text(""), "ds:SignatureValue is empty"),
    "non-base64 SignatureValue": ("ds:Signature/ds:SignatureValue", set_text("not base64!"),
                                  "ds:SignatureValue is not base64"),
    "short SignatureValue": ("ds:Signature/ds:SignatureValue", set_text("AAAA"), "SignatureValue"),
    "empty X509Certificate": (".//ds:X509Certificate", set_text(" "), "ds:X509Certificate is empty"),
    "empty X509IssuerSerial": (".//ds:X509Data", lambda node, _: etree.SubElement(node, f"{{{DS}}}X509IssuerSerial"),
                               "ds:X509IssuerSerial is empty"),
    "missing SignedInfo": ("ds:Signature/ds:SignedInfo", lambda node, _: node.getparent().remove(node),
                           "ds:SignedInfo"),
    "empty DigestValue": (".//ds:DigestValue", set_text(""), "ds:DigestValue is empty"),
    "non-base64 DigestValue": (".//ds:DigestValue", set_text("%%%"), "ds:DigestValue is not base64"),
    "short DigestValue": (".//ds:DigestValue", set_text("AAAA"), "not a SHA-256 digest"),
    "XSLT transform": (".//ds:Transform", set_attribute("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116"),
                       "ds:Transforms must be enveloped-signature then exclusive C14N"),
    "XPath transform": (".//ds:Transforms", lambda node, _: etree.SubElement(
        node, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"), "ds:Transforms"),
    "C14N with comments": (".//ds:CanonicalizationMethod",
                           set_attribute("Algorithm", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"),
                           "ds:CanonicalizationMethod"),
    "SHA-1 digest": (".//ds:DigestMethod", set_attribute("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1"),
                     "ds:DigestMethod"),
    "RSA-SHA1": (".//ds:SignatureMethod", set_attribute("Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
                 "ds:SignatureMethod"),
    "HMAC": (".//ds:SignatureMethod", set_attribute("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
             "ds:SignatureMethod"),
    "second reference": (".//ds:Reference", lambda node, _: node.getparent().append(etree.fromstring(
        etree.tostring(node))), "exactly one reference"),
    "reference by id": (".//ds:Reference", set_attribute("URI", "#body"), 'URI=""'),
    "RetrievalMethod": (".//ds:KeyInfo", lambda node, _: etree.SubElement(
        node, f"{{{DS}}}RetrievalMethod", URI="http://evil.example/key"), "ds:KeyInfo may hold only"),
    "ds:Object": ("ds:Signature", lambda node, _: etree.SubElement(node, f"{{{DS}}}Object"), "ds:Object"),
    "second signature": ("ds:Signature", lambda node, doc: doc.append(etree.fromstring(etree.tostring(node))),
                         "more than one ds:Signature"),
}


@pytest.mark.parametrize("knows_the_shape", [False, True], ids=["new verifier", "verifier knowing the shape"])
@pytest.mark.parametrize("case", MALFORMED)
def test_each_malformed_or_foreign_part_is_a_signature_error_naming_it(signed, store, case, knows_the_shape):
    # a verifier that has verified the pristine signature reads a signature of the same shape by
    # position: a value made empty, short or not base64 must be refused with the same words
    path, change, named = MALFORMED[case]
    document = mutated(signed, path, change)
    verifier = Verifier(store)
    if knows_the_shape:
        verifier.verify(parse_xml(signed), expected_signer="hub")
    with pytest.raises(SignatureError) as caught:
        verifier.verify(document, expected_signer="hub")
    assert named in caught.value.reason
    assert caught.value.agency == "hub"


def test_a_comment_slipped_into_signed_text_does_not_change_what_is_read(store):
    # comments are outside the digest (URI=""), so this still verifies — but what the
    # consumer reads must be the signed text, not the part before the comment
    data = hub_signed(store, SAMPLES[0])
    document = parse_xml(data)
    node = next(e for e in document.iter() if isinstance(e.tag, str) and len((e.text or "").strip()) > 2)
    text = node.text
    node.text = text[:1]
    node.append(etree.Comment("x"))
    node[-1].tail = text[1:]
    verified = Verifier(store).verify(document, expected_signer="hub").element
    found = verified.find(etree.QName(node).text) if verified.tag != node.tag else verified
    assert found is not None and found.text == text


def test_a_key_info_with_the_issuer_chain_is_accepted_leaf_pinned(pki, store, tmp_path):
    ca = base64.b64encode(load_certificate(PkiPaths(pki).ca_cert).public_bytes(Encoding.DER)).decode()
    document = parse_xml(hub_signed(store, SAMPLES[0]))
    etree.SubElement(document.find(f".//{{{DS}}}X509Data"), f"{{{DS}}}X509Certificate").text = ca
    data = etree.tostring(document)
    assert Verifier(store).verify(parse_xml(data)).signer == "hub"
    assert xmlsec1_accepts(pki, data, tmp_path)
    only_ca = parse_xml(data)
    x509_data = only_ca.find(f".//{{{DS}}}X509Data")
    x509_data.remove(x509_data[0])
    with pytest.raises(CertificateError, match="not the one registered"):
        Verifier(store).verify(only_ca, expected_signer="hub")


def test_an_issuer_serial_naming_another_certificate_is_refused(signed, store):
    document = parse_xml(signed)
    serial = etree.SubElement(document.find(f".//{{{DS}}}X509Data"), f"{{{DS}}}X509IssuerSerial")
    etree.SubElement(serial, f"{{{DS}}}X509IssuerName").text = "CN=someone"
    etree.SubElement(serial, f"{{{DS}}}X509SerialNumber").text = str(store.hub.certificate.serial_number + 1)
    with pytest.raises(CertificateError, match="X509IssuerSerial"):
        Verifier(store).verify(document, expected_signer="hub")
    serial[1].text = str(store.hub.certificate.serial_number)
    assert Verifier(store).verify(document, expected_signer="hub").signer == "hub"


def test_a_signature_method_that_does_not_fit_the_key_is_refused(signed, store):
    other = "ecdsa-sha256" if b"rsa-sha256" in signed else "rsa-sha256"
    method = f"http://www.w3.org/2001/04/xmldsig-more#{other}"
    document = mutated(signed, ".//ds:SignatureMethod", set_attribute("Algorithm", method))
    with pytest.raises(SignatureError, match="does not fit|is .* bytes"):
        Verifier(store).verify(document, expected_signer="hub")


def test_random_damage_to_a_signature_is_refused_as_hub_errors_only(store):
    # bytes changed, cut or inserted in and around ds:Signature: whatever still parses must be
    # verified or refused with a hub error, never an internal one (a Server fault to partners)
    from hub.errors import RabtError

    signed = hub_signed(store, SAMPLES[0])
    original = etree.tostring(etree.parse(str(SAMPLES[0])).getroot(), method="c14n", exclusive=True,
                              with_comments=False)
    start = signed.index(b"<ds:Signature") - 100
    rnd, verifier, checked = random.Random(17), Verifier(store), 0
    verifier.verify(parse_xml(signed), expected_signer="hub")  # damage to a known shape's values is read by position
    for _ in range(1500):
        data = bytearray(signed)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(start, len(data))
            choice = rnd.random()
            if choice < 0.4:
                data[at] = rnd.randrange(32, 127)
            elif choice < 0.7:
                del data[at:at + rnd.randint(1, 40)]
            else:
                data[at:at] = rnd.choice([b"<", b">", b"=", b"/", b"A", b"<ds:X509IssuerSerial/>", b"&amp;"])
        try:
            document = parse_xml(bytes(data))
        except RabtError:
            continue
        checked += 1
        try:
            verified = verifier.verify(document, expected_signer=rnd.choice(["hub", None]))
        except RabtError:
            continue
        assert etree.tostring(verified.element, method="c14n", exclusive=True) == original
    assert checked > 300
