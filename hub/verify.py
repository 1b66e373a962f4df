"""The one XML-DSig profile the hub accepts, read and checked in one pass.

Assembled from lxml's exclusive C14N and ``cryptography``, like the signer,
rather than a general XML-DSig library: a general verifier accepts what the
standard allows (XPath and XSLT transforms, references by Id, several
references, keys fetched from elsewhere), and every one of those is a way to
get content past a check that its consumer then trusts. This module accepts
exactly what the hub documents for partners::

    <ds:Signature>                          a child of the document's root, the only one
      <ds:SignedInfo>
        <ds:CanonicalizationMethod>         exclusive C14N (optional InclusiveNamespaces)
        <ds:SignatureMethod>                RSA-SHA256 or ECDSA-SHA256
        <ds:Reference URI="">               exactly one, the whole document
          <ds:Transforms>                   enveloped-signature, then exclusive C14N
          <ds:DigestMethod>                 SHA-256
          <ds:DigestValue>
      <ds:SignatureValue>
      <ds:KeyInfo>                          optional: X509Data (certificate, issuer/serial,
                                            subject, SKI) and KeyName, nothing fetched

Anything else is refused with a :class:`~hub.errors.SignatureError` naming the
part, so a partner's malformed signature is a Client fault, never an internal
error. The order of checks matters: the SignatureValue over SignedInfo is
checked before its DigestValue is believed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from hub.errors import SignatureError

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIGNATURE_METHODS = frozenset({RSA_SHA256, ECDSA_SHA256})

# made once, as the signer's are: they hold no state, and each verification built them again (~2 µs for ECDSA)
_PKCS1, _SHA256_HASH, _ECDSA_SHA256 = padding.PKCS1v15(), hashes.SHA256(), ec.ECDSA(hashes.SHA256())

_INCLUSIVE_NAMESPACES = f"{{{EXC_C14N}}}InclusiveNamespaces"
_X509_PARTS = frozenset(f"{{{DS}}}{name}" for name in ("X509Certificate", "X509IssuerSerial", "X509SubjectName",
                                                      "X509SKI"))


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


_SIGNATURE, _SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO = map(_ds, ("Signature", "SignedInfo", "SignatureValue",
                                                                  "KeyInfo"))
_SIGNED_INFO_TAGS = list(map(_ds, ("CanonicalizationMethod", "SignatureMethod", "Reference")))
_REFERENCE_TAGS = list(map(_ds, ("Transforms", "DigestMethod", "DigestValue")))
_X509_DATA, _X509_CERTIFICATE, _X509_ISSUER_SERIAL, _KEY_NAME, _TRANSFORM = map(
    _ds, ("X509Data", "X509Certificate", "X509IssuerSerial", "KeyName", "Transform"))


@dataclass(frozen=True)
class SignatureParts:
    """What the profile reads out of one ``ds:Signature``; each part already checked for form."""

    signature: etree._Element
    signed_info: etree._Element
    signed_info_prefixes: tuple[str, ...] | None
    method: str
    content_prefixes: tuple[str, ...] | None
    digest: bytes
    value: bytes
    certificates: tuple[bytes, ...]
    """DER of every ``X509Certificate`` carried (the signer's, perhaps with its issuers)."""
    serials: tuple[int, ...]
    """Serial numbers named by ``X509IssuerSerial``."""


def read_signature(document: etree._Element, agency: str | None) -> SignatureParts:
    """The parts of ``document``'s enveloped signature, or SignatureError naming what is wrong."""
    return read_parts(the_signature(document, agency), agency)


def the_signature(document: etree._Element, agency: str | None) -> etree._Element:
    """The one ``ds:Signature`` child of ``document``'s root."""
    signatures = document.findall(_SIGNATURE)
    if not signatures:
        raise SignatureError("document is not signed (no ds:Signature under the root)", agency=agency)
    if len(signatures) > 1:
        raise SignatureError("document has more than one ds:Signature under the root", agency=agency)
    return signatures[0]


def read_parts(signature: etree._Element, agency: str | None) -> SignatureParts:
    """The parts of one ``ds:Signature``, each checked against the profile."""
    signed_info, value, key_info = _signature_children(signature, agency)
    method, prefixes = _signed_info_methods(signed_info, agency)
    content_prefixes, digest = _reference(signed_info, agency)
    certificates, serials = _key_info(key_info, agency)
    return SignatureParts(signature, signed_info, prefixes, method, content_prefixes, digest,
                          decode_base64(value, "ds:SignatureValue", agency), certificates, serials)


def child_elements(element: etree._Element) -> list[etree._Element]:
    """The element children of ``element``: comments and PIs are not parts of a signature."""
    return list(element.iterchildren(etree.Element))


_children = child_elements


def _signature_children(signature, agency):
    children = _children(signature)
    tags = [child.tag for child in children]
    if tags[:2] != [_SIGNED_INFO, _SIGNATURE_VALUE]:
        missing = "ds:SignedInfo" if _SIGNED_INFO not in tags else "ds:SignatureValue"
        raise SignatureError(f"ds:Signature must hold ds:SignedInfo then ds:SignatureValue ({missing} "
                             "missing or out of place)", agency=agency)
    if tags[2:] not in ([], [_KEY_INFO]):
        raise SignatureError(f"ds:Signature holds {_names(tags[2:])}; only a ds:KeyInfo may follow "
                             "ds:SignatureValue", agency=agency)
    return children[0], children[1], children[2] if len(children) == 3 else None


def _signed_info_methods(signed_info, agency):
    children = _children(signed_info)
    tags = [child.tag for child in children]
    if tags != _SIGNED_INFO_TAGS:
        raise SignatureError(f"ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one "
                             f"reference to the whole document (URI=\"\"), found {_names(tags)}", agency=agency)
    prefixes = exclusive_c14n_prefixes(children[0], "ds:CanonicalizationMethod", agency)
    return signature_method(children[1], agency), prefixes


def signature_method(element: etree._Element, agency) -> str:
    """The algorithm of a ``ds:SignatureMethod``, which must be RSA-SHA256 or ECDSA-SHA256."""
    method = element.get("Algorithm")
    if method not in SIGNATURE_METHODS or _children(element):
        raise SignatureError(f"ds:SignatureMethod {method!r} is not accepted (RSA-SHA256 or ECDSA-SHA256)",
                             agency=agency)
    return method


def _reference(signed_info, agency):
    reference = _children(signed_info)[2]  # its place checked by _signed_info_methods
    if reference.get("URI") != "":
        raise SignatureError(f"signature must have exactly one reference to the whole document (URI=\"\"), "
                             f"found {[reference.get('URI')]}", agency=agency)
    children = _children(reference)
    if [child.tag for child in children] != _REFERENCE_TAGS:
        raise SignatureError("ds:Reference must hold Transforms, DigestMethod and DigestValue, found "
                             f"{_names(child.tag for child in children)}", agency=agency)
    transforms, digest_method, digest_value = children
    return _transforms(transforms, agency), sha256_digest(digest_method, digest_value, agency)


def sha256_digest(digest_method: etree._Element, digest_value: etree._Element, agency) -> bytes:
    """The digest a reference declares; only SHA-256 is accepted."""
    if digest_method.get("Algorithm") != SHA256 or _children(digest_method):
        raise SignatureError(f"ds:DigestMethod {digest_method.get('Algorithm')!r} is not accepted (SHA-256)",
                             agency=agency)
    return digest_bytes(digest_value, agency)


def digest_bytes(digest_value: etree._Element, agency) -> bytes:
    """The SHA-256 digest a ``ds:DigestValue`` holds."""
    digest = decode_base64(digest_value, "ds:DigestValue", agency)
    if len(digest) != hashlib.sha256().digest_size:
        raise SignatureError(f"ds:DigestValue is {len(digest)} bytes, not a SHA-256 digest", agency=agency)
    return digest


def _transforms(transforms, agency):
    steps = _children(transforms)
    algorithms = [step.get("Algorithm") for step in steps]
    if any(step.tag != _TRANSFORM for step in steps) or algorithms != [ENVELOPED, EXC_C14N]:
        raise SignatureError(f"ds:Transforms must be enveloped-signature then exclusive C14N, found {algorithms}",
                             agency=agency)
    if _children(steps[0]):
        raise SignatureError("the enveloped-signature ds:Transform takes no parameters", agency=agency)
    return exclusive_c14n_prefixes(steps[1], "exclusive C14N ds:Transform", agency)


def exclusive_c14n_prefixes(method: etree._Element, part: str, agency) -> tuple[str, ...] | None:
    """The InclusiveNamespaces PrefixList of an exclusive-C14N method element, if it has one."""
    if method.get("Algorithm") != EXC_C14N:
        raise SignatureError(f"{part} {method.get('Algorithm')!r} is not accepted (exclusive C14N "
                             "without comments)", agency=agency)
    parameters = _children(method)
    if not parameters:
        return None
    if len(parameters) > 1 or parameters[0].tag != _INCLUSIVE_NAMESPACES:
        raise SignatureError(f"{part} takes only an InclusiveNamespaces PrefixList", agency=agency)
    return tuple(parameters[0].get("PrefixList", "").split())


def _key_info(key_info, agency) -> tuple[tuple[bytes, ...], tuple[int, ...]]:
    if key_info is None:
        return (), ()
    certificates, serials = [], []
    for child in _children(key_info):
        if child.tag == _KEY_NAME:
            continue  # a label, trusted for nothing
        if child.tag != _X509_DATA:
            raise SignatureError(f"ds:KeyInfo may hold only X509Data or KeyName, not {_names([child.tag])}",
                                 agency=agency)
        for part in _children(child):
            if part.tag not in _X509_PARTS:
                raise SignatureError(f"ds:X509Data may not hold {_names([part.tag])}", agency=agency)
            if part.tag == _X509_CERTIFICATE:
                certificates.append(certificate_bytes(part.text, agency))
            elif part.tag == _X509_ISSUER_SERIAL:
                serials.append(_serial(part, agency))
            else:
                check_named(part, agency)
    return tuple(certificates), tuple(serials)


def check_named(part: etree._Element, agency) -> None:
    """An ``X509SubjectName`` or ``X509SKI`` must say something."""
    if not (part.text or "").strip():
        raise SignatureError(f"{_names([part.tag])} is empty", agency=agency)


def _serial(issuer_serial, agency) -> int:
    issuer = (issuer_serial.findtext(_ds("X509IssuerName")) or "").strip()
    serial = (issuer_serial.findtext(_ds("X509SerialNumber")) or "").strip()
    if not issuer or not serial:
        raise SignatureError("ds:X509IssuerSerial is empty or lacks X509IssuerName/X509SerialNumber",
                             agency=agency)
    try:
        return int(serial)
    except ValueError:
        raise SignatureError("ds:X509IssuerSerial's X509SerialNumber is not a number", agency=agency) from None


@functools.lru_cache(maxsize=64)
def _known_certificate(text: str) -> bytes:
    # the same few partner certificates arrive again and again: decode each once
    return base64.b64decode("".join(text.split()), validate=True)


def certificate_bytes(text: str | None, agency) -> bytes:
    """The DER of a ``ds:X509Certificate``'s text."""
    if not (text or "").strip():
        raise SignatureError("ds:X509Certificate is empty", agency=agency)
    try:
        return _known_certificate(text)
    except (binascii.Error, ValueError):
        raise SignatureError("ds:X509Certificate is not base64", agency=agency) from None


def decode_base64(element: etree._Element, part: str, agency) -> bytes:
    text = "".join((element.text or "").split())
    if not text:
        raise SignatureError(f"{part} is empty", agency=agency)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{part} is not base64", agency=agency) from None


def _names(tags) -> str:
    names = [f"ds:{etree.QName(tag).localname}" if etree.QName(tag).namespace == DS else tag for tag in tags]
    return ", ".join(names) or "nothing"


def check_signature_value(parts: SignatureParts, public_key, agency: str | None) -> None:
    """The SignatureValue must be ``public_key``'s signature over the canonical SignedInfo."""
    check_signed_info(parts.signed_info, parts.signed_info_prefixes, parts.method, parts.value, public_key, agency)


def check_signed_info(signed_info: etree._Element, prefixes: tuple[str, ...] | None, method: str, value: bytes,
                      public_key, agency: str | None) -> None:
    """``value`` must be ``public_key``'s ``method`` signature over ``signed_info`` in exclusive C14N."""
    signed = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False,
                            inclusive_ns_prefixes=prefixes)
    try:
        if method == RSA_SHA256 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, signed, _PKCS1, _SHA256_HASH)
        elif method == ECDSA_SHA256 and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(_der_ecdsa(value, public_key, agency), signed, _ECDSA_SHA256)
        else:
            raise SignatureError(f"ds:SignatureMethod {method} does not fit the signer's "
                                 f"{type(public_key).__name__}", agency=agency)
    except InvalidSignature:
        raise SignatureError("signature does not verify (ds:SignatureValue over ds:SignedInfo)",
                             agency=agency) from None


def ecdsa_der(value: bytes, public_key: ec.EllipticCurvePublicKey) -> bytes | None:
    """The DER form OpenSSL verifies of an ECDSA ``r||s`` signature (XML-DSig's and JWS's), or None
    when ``value`` is not two integers of the key's curve size."""
    size = (public_key.curve.key_size + 7) // 8
    if len(value) != 2 * size:
        return None
    return encode_dss_signature(int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big"))


def _der_ecdsa(value: bytes, public_key: ec.EllipticCurvePublicKey, agency) -> bytes:
    der = ecdsa_der(value, public_key)
    if der is None:
        size = (public_key.curve.key_size + 7) // 8
        raise SignatureError(f"ds:SignatureValue is {len(value)} bytes, not an ECDSA r||s of {2 * size}",
                             agency=agency)
    return der


def signed_content(document: etree._Element, parts: SignatureParts, agency: str | None) -> etree._Element:
    """``document`` itself as it was signed — its signature and comments taken out — once its digest fits.

    The document is consumed rather than copied (a copy of a whole message
    costs more than every other step of the check but the RSA operation); on a
    digest mismatch it is put back as it came. Comments are outside the digest
    (``URI=""`` excludes them), so they are taken out of what is handed on: a
    comment slipped into signed text (``<Amount>1<!---->00</Amount>``) must not
    change what a reader sees.
    """
    put_back = _detach_keeping_tail(parts.signature)
    canonical = etree.tostring(document, method="c14n", exclusive=True, with_comments=False,
                               inclusive_ns_prefixes=parts.content_prefixes)
    if not hmac.compare_digest(hashlib.sha256(canonical).digest(), parts.digest):
        put_back()
        raise SignatureError("signed content was changed (digest mismatch)", agency=agency)
    etree.strip_tags(document, etree.Comment)
    return document


def _detach_keeping_tail(element: etree._Element):
    """Remove ``element`` as the enveloped-signature transform does (the text after it stays); how to undo it."""
    parent, tail = element.getparent(), element.tail or ""
    index, previous = parent.index(element), element.getprevious()
    before = previous.tail if previous is not None else parent.text
    if previous is not None:
        previous.tail = (before or "") + tail
    else:
        parent.text = (before or "") + tail
    parent.remove(element)

    def put_back() -> None:
        if previous is not None:
            previous.tail = before
        else:
            parent.text = before
        parent.insert(index, element)
        element.tail = tail or None
    return put_back
