"""What a signature proves, once :mod:`hub.verify` has read it: its value over SignedInfo, then the content's digest.

The order matters: the SignatureValue over SignedInfo is checked before its
DigestValue is believed. WS-Security (:mod:`hub.wssec`), JWS (:mod:`hub.jws`)
and the evidence archive's reader use the same checks.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from hub.errors import SignatureError
from hub.verify import ECDSA_SHA256, RSA_SHA256, SignatureParts

# made once, as the signer's are: they hold no state, and each verification built them again (~2 µs for ECDSA)
_PKCS1, _SHA256_HASH, _ECDSA_SHA256 = padding.PKCS1v15(), hashes.SHA256(), ec.ECDSA(hashes.SHA256())


def check_signature_value(parts: SignatureParts, public_key, agency: str | None) -> None:
    """The SignatureValue must be ``public_key``'s signature over the canonical SignedInfo."""
    if parts.canonical_signed_info is None:
        check_signed_info(parts.signed_info, parts.signed_info_prefixes, parts.method, parts.value, public_key,
                          agency)
    else:
        check_signed_bytes(parts.canonical_signed_info, parts.method, parts.value, public_key, agency)


def check_signed_info(signed_info: etree._Element, prefixes: tuple[str, ...] | None, method: str, value: bytes,
                      public_key, agency: str | None) -> None:
    """``value`` must be ``public_key``'s ``method`` signature over ``signed_info`` in exclusive C14N."""
    signed = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False,
                            inclusive_ns_prefixes=prefixes)
    check_signed_bytes(signed, method, value, public_key, agency)


def check_signed_bytes(signed: bytes, method: str, value: bytes, public_key, agency: str | None) -> None:
    """``value`` must be ``public_key``'s ``method`` signature over ``signed``, a canonical SignedInfo."""
    kind = _method_of_key(type(public_key))
    try:
        if method == RSA_SHA256 and kind == RSA_SHA256:
            public_key.verify(value, signed, _PKCS1, _SHA256_HASH)
        elif method == ECDSA_SHA256 and kind == ECDSA_SHA256:
            public_key.verify(_der_ecdsa(value, public_key, agency), signed, _ECDSA_SHA256)
        else:
            raise SignatureError(f"ds:SignatureMethod {method} does not fit the signer's "
                                 f"{type(public_key).__name__}", agency=agency)
    except InvalidSignature:
        raise SignatureError("signature does not verify (ds:SignatureValue over ds:SignedInfo)",
                             agency=agency) from None


@functools.lru_cache(maxsize=8)
def _method_of_key(key_type: type) -> str | None:
    # per type, once: isinstance against cryptography's abstract key classes makes a weak reference to look in
    # their cache (~4,000 instructions, as much as the rest of these checks)
    if issubclass(key_type, rsa.RSAPublicKey):
        return RSA_SHA256
    if issubclass(key_type, ec.EllipticCurvePublicKey):
        return ECDSA_SHA256
    return None


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
    # Made with comments first: every comment writes "<!--", which C14N's escaping leaves nowhere else but in
    # a processing instruction, so without one in it this form is also the one without comments — the signed
    # one — and there are none to take out (looking for them walks the whole tree).
    canonical = _exclusive_c14n(document, parts.content_prefixes, comments=True)
    # find, not `in`, which first tries b"<!--" as an integer (a TypeError); and "!" first: a one-byte search is a
    # memchr, several times quicker than the substring search, and most messages have no "!" at all
    commented = canonical.find(b"!") >= 0 and canonical.find(b"<!--") >= 0
    if commented:
        canonical = _exclusive_c14n(document, parts.content_prefixes, comments=False)
    if not hmac.compare_digest(hashlib.sha256(canonical).digest(), parts.digest):
        put_back()
        raise SignatureError("signed content was changed (digest mismatch)", agency=agency)
    if commented:
        etree.strip_tags(document, etree.Comment)
    return document


def _exclusive_c14n(document: etree._Element, prefixes: tuple[str, ...] | None, *, comments: bool) -> bytes:
    return etree.tostring(document, method="c14n", exclusive=True, with_comments=comments,
                          inclusive_ns_prefixes=prefixes)


def _detach_keeping_tail(element: etree._Element):
    """Remove ``element`` as the enveloped-signature transform does (the text after it stays); how to undo it."""
    parent, tail, previous = element.getparent(), element.tail, element.getprevious()
    before = None
    if tail:  # lxml's remove takes the tail along: it is joined to the text before the element (none: nothing to join)
        before = previous.tail if previous is not None else parent.text
        if previous is not None:
            previous.tail = (before or "") + tail
        else:
            parent.text = (before or "") + tail
    parent.remove(element)

    def put_back() -> None:
        if tail:
            if previous is not None:
                previous.tail = before
            else:
                parent.text = before
        if previous is not None:  # its place found again from its neighbour, not kept as an index on every call
            previous.addnext(element)
        else:
            parent.insert(0, element)
        element.tail = tail
    return put_back
