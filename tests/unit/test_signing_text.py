"""The Signer writes ds:Signature as text from pieces made once: checked here against what it must be.

Every entry point must write the same bytes for the same document (RSA
PKCS#1 v1.5 is deterministic), those bytes must hold what an enveloped
signature over the document holds — the document itself, the digest of its
canonical form, SignedInfo in canonical form, a value over it, the
certificate — and the ECDSA value must be the r and s of OpenSSL's DER.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from hub.pki import init_pki
from hub.signature_values import raw_ecdsa
from hub.signing import DS, Signer, TrustStore
from tests.conftest import SAMPLES

SIGNATURE = f"{{{DS}}}Signature"
EDGE_CASES = [
    b"<a/>",
    b"<a>text only</a>",
    b'<a xmlns="urn:x" b="2" a="1"><b>\xc3\xa9\xe2\x80\x8f &amp; &lt;/a&gt;</b><!-- a comment --></a>',
    b"<r:a xmlns:r='urn:r' xmlns:unused='urn:u'><r:b><![CDATA[</r:a> in text]]></r:b>\n</r:a>",
    # a signature below the root is content like any other, and the DS namespace in text too
    f'<a><b><ds:Signature xmlns:ds="{DS}"><ds:SignedInfo/></ds:Signature></b><c>{DS}</c></a>'.encode(),
    # a signature directly under the root is replaced, wherever it stands and however many there are
    f'<a><Signature xmlns="{DS}"/><b/><ds:Signature xmlns:ds="{DS}">old</ds:Signature></a>'.encode(),
    f'<a xmlns:ds="{DS}"><b/><ds:Signature><ds:SignatureValue>old</ds:SignatureValue></ds:Signature></a>'.encode(),
]
DOCUMENTS = EDGE_CASES + sorted(path.read_bytes() for path in SAMPLES.rglob("*.xml"))


@pytest.fixture(scope="module", params=["rsa", "ec"])
def signer(request, tmp_path_factory) -> Signer:
    folder = tmp_path_factory.mktemp(f"pki-{request.param}")
    init_pki(folder, [], key_type=request.param)
    return Signer(TrustStore.load(folder).hub)


def unsigned_canonical(document: bytes) -> bytes:
    """The document's exclusive C14N without the signatures directly under its root: what gets signed."""
    element = etree.fromstring(document)
    for old in element.findall(SIGNATURE):
        element.remove(old)
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def without_value(signed: bytes) -> bytes:
    return re.sub(rb"<ds:SignatureValue>[^<]*</ds:SignatureValue>", b"", signed)


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_every_entry_point_writes_the_same_document(signer, document):
    canonical = unsigned_canonical(document)
    signed = signer.sign_canonical(canonical)
    digested, digest = signer.sign_canonical_digested(canonical)
    assert digest == hashlib.sha256(digested).hexdigest()
    from_tree = signer.sign_bytes(etree.fromstring(document))
    as_tree = etree.tostring(signer.sign(etree.fromstring(document)))
    if signer.identity.signature_method.endswith("rsa-sha256"):
        assert signed == digested == from_tree
        assert as_tree == etree.tostring(etree.fromstring(signed))
    else:  # ECDSA signs with a fresh nonce each time: all but the value is the same
        assert without_value(signed) == without_value(digested) == without_value(from_tree)
        assert without_value(as_tree) == without_value(etree.tostring(etree.fromstring(signed)))


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_the_signature_is_what_an_enveloped_signature_over_the_document_must_be(signer, document):
    canonical = unsigned_canonical(document)
    signed = signer.sign_canonical(canonical)
    root = etree.fromstring(signed)
    signature = root[-1]
    assert signature.tag == SIGNATURE
    root.remove(signature)
    assert etree.tostring(root, method="c14n", exclusive=True) == canonical
    signed_info = etree.tostring(signature[0], method="c14n", exclusive=True)
    assert signed_info in signed  # written in the canonical form a verifier computes
    digest = signature.findtext(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue")
    assert base64.b64decode(digest) == hashlib.sha256(canonical).digest()
    certificate = signature.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert base64.b64decode(certificate) == signer.identity.certificate.public_bytes(Encoding.DER)
    value = base64.b64decode(signature.findtext(f"{{{DS}}}SignatureValue"))
    public_key = signer.identity.certificate.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        half = len(value) // 2
        der = encode_dss_signature(int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big"))
        public_key.verify(der, signed_info, ec.ECDSA(hashes.SHA256()))
    else:
        public_key.verify(value, signed_info, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()], ids=lambda c: c.name)
def test_the_ecdsa_value_is_r_and_s_of_the_der_signature(curve):
    size = (curve.key_size + 7) // 8
    order_bits = curve.key_size
    # the extremes of r and s (one byte, a leading zero byte in DER, the widest), then real signatures
    edges = [1, 0x7F, 0x80, 0xFF, 2 ** (8 * size - 9), 2 ** (8 * size - 8), 2 ** (order_bits - 1), 2 ** order_bits - 1]
    ders = [encode_dss_signature(r, s) for r in edges for s in edges]
    key = ec.generate_private_key(curve)
    ders += [key.sign(str(n).encode(), ec.ECDSA(hashes.SHA256())) for n in range(1000)]
    for der in ders:
        r, s = decode_dss_signature(der)
        assert raw_ecdsa(der, size) == r.to_bytes(size, "big") + s.to_bytes(size, "big")
