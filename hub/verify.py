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
error. What the signature then proves is checked by :mod:`hub.signature_checks`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from typing import NamedTuple

from lxml import etree

from hub.errors import SignatureError

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIGNATURE_METHODS = frozenset({RSA_SHA256, ECDSA_SHA256})

_INCLUSIVE_NAMESPACES = f"{{{EXC_C14N}}}InclusiveNamespaces"
_X509_PARTS = frozenset(f"{{{DS}}}{name}" for name in ("X509Certificate", "X509IssuerSerial", "X509SubjectName",
                                                      "X509SKI"))


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


#: an enveloped signature's element, as lxml names it
SIGNATURE_TAG = _ds("Signature")
_SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO = map(_ds, ("SignedInfo", "SignatureValue", "KeyInfo"))
_SIGNED_INFO_TAGS = list(map(_ds, ("CanonicalizationMethod", "SignatureMethod", "Reference")))
_REFERENCE_TAGS = list(map(_ds, ("Transforms", "DigestMethod", "DigestValue")))
_X509_DATA, _X509_CERTIFICATE, _X509_ISSUER_SERIAL, _KEY_NAME, _TRANSFORM = map(
    _ds, ("X509Data", "X509Certificate", "X509IssuerSerial", "KeyName", "Transform"))


class SignatureParts(NamedTuple):  # a tuple, not a frozen dataclass: one is made on every verification
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
    canonical_signed_info: bytes | None = None
    """SignedInfo in exclusive C14N when the reading already made it (:mod:`hub.signature_shapes`)."""


def read_signature(document: etree._Element, agency: str | None) -> SignatureParts:
    """The parts of ``document``'s enveloped signature, or SignatureError naming what is wrong."""
    return read_parts(the_signature(document, agency), agency)


def the_signature(document: etree._Element, agency: str | None) -> etree._Element:
    """The one ``ds:Signature`` child of ``document``'s root."""
    signatures = list(document.iterchildren(SIGNATURE_TAG))  # not findall: its path engine is Python
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
# read once: asking a new hashlib object its size set up an OpenSSL digest context on every verification
_SHA256_SIZE = hashlib.sha256().digest_size


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
    return digest_of_text(digest_value.text, agency)


def digest_of_text(text: str | None, agency) -> bytes:
    """The SHA-256 digest a ``ds:DigestValue`` with this text holds."""
    digest = base64_of_text(text, "ds:DigestValue", agency)
    if len(digest) != _SHA256_SIZE:
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
    if not text or text.isspace():  # as strip() would leave nothing, without copying a kilobyte to see it
        raise SignatureError("ds:X509Certificate is empty", agency=agency)
    try:
        return _known_certificate(text)
    except (binascii.Error, ValueError):
        raise SignatureError("ds:X509Certificate is not base64", agency=agency) from None


def decode_base64(element: etree._Element, part: str, agency) -> bytes:
    return base64_of_text(element.text, part, agency)


def base64_of_text(text: str | None, part: str, agency) -> bytes:
    """The bytes of a base64 text, whitespace anywhere allowed, any other stray character refused."""
    if text:
        try:
            # Most values come on one line. Strict mode refuses whitespace as it refuses any character outside
            # the alphabet, so what it decodes had none to take out; it is what base64.b64decode(validate=True)
            # calls, without that function's Python wrapper.
            return binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    text = "".join((text or "").split())
    if not text:
        raise SignatureError(f"{part} is empty", agency=agency)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{part} is not base64", agency=agency) from None


def _names(tags) -> str:
    names = [f"ds:{etree.QName(tag).localname}" if etree.QName(tag).namespace == DS else tag for tag in tags]
    return ", ".join(names) or "nothing"
