"""XML-DSig signing and verification against the trust store.

Signatures are *enveloped* over the whole document (``Reference URI=""``),
exclusive C14N, SHA-256 digests, RSA-SHA256 (default) or ECDSA-SHA256, with
the signer's X.509 certificate in ``KeyInfo``, so libxmlsec1 verifies them too.

Verification is deliberately narrow (the profile itself is :mod:`hub.verify`):

* the signer must be in the trust store; its *pinned* certificate is used,
  never one the document brings along (a document's certificate must equal
  the pinned one; issuer certificates beside it are ignored);
* the certificate must be within its validity dates;
* exactly one reference, and it must be ``URI=""`` — the whole document — so
  signature wrapping (an unsigned element beside or around a signed one)
  cannot smuggle unsigned content past the check;
* only the algorithms and transforms above are accepted;
* callers get back only :attr:`Verified.element`, the content the verifier
  says was signed — never the tree they passed in.

Keys and certificates are loaded by :class:`~hub.truststore.TrustStore`, which
follows its files: a certificate registered while the hub runs is used on the
next check, and a partner's previous certificate stays accepted until the end
of its overlap.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import time
from dataclasses import dataclass
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from hub.errors import CertificateError, ConfigError, SignatureError, UnknownSignerError
from hub.signature_checks import check_signature_value, signed_content
from hub.signature_values import raw_signing_function
from hub.signature_shapes import SignatureShapes
from hub.truststore import TrustStore
from hub.verify import DS, ECDSA_SHA256, RSA_SHA256, SIGNATURE_TAG, SignatureParts

__all__ = ["DS", "Identity", "Signer", "TrustStore", "Verified", "Verifier"]


@dataclass(frozen=True)
class Identity:
    """A private key with its certificate: who signs."""

    name: str
    key: object
    certificate: x509.Certificate

    @property
    def signature_method(self) -> str:
        """The XML-DSig SignatureMethod URI for this key."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return ECDSA_SHA256
        if isinstance(self.key, rsa.RSAPrivateKey):
            return RSA_SHA256
        raise ConfigError(f"{self.name}: unsupported key type {type(self.key).__name__}")


class Signer:
    """Signs documents with one identity; reuse it, it holds the loaded key.

    The signature is assembled here rather than by ``signxml.XMLSigner``: for
    a typical 2 KB envelope signxml's per-call Python work (re-reading the PEM
    certificate, building SignedInfo node by node) cost as much as the RSA
    operation itself and halved the signing rate. The structure is fixed — one
    whole-document reference, exclusive C14N, SHA-256 — so SignedInfo is a
    template; what it produces is checked by signxml and by libxmlsec1 in the
    tests and by every consumer in production.
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        method = identity.signature_method
        self._sign_raw = raw_signing_function(identity.key, method)
        # Everything but the digest and the signature value is the same for every document: written
        # once, as bytes, so a signature costs the digest, the key operation and one join.
        before_digest, after_digest = _SIGNED_INFO.replace("{method}", method).split("{digest}")
        self._signed_info_head, self._signed_info_tail = before_digest.encode("ascii"), after_digest.encode("ascii")
        certificate = base64.b64encode(identity.certificate.public_bytes(Encoding.DER)).decode("ascii")
        self._value_tail = ("</ds:SignatureValue>" + _KEY_INFO.replace("{certificate}", certificate)
                            + "</ds:Signature>").encode("ascii")
        # and again as the output's pieces around the digest and the value, so the output is a single join
        self._signature_head = _SIGNATURE_OPEN + self._signed_info_head
        self._signed_info_tail_value_open = self._signed_info_tail + _VALUE_OPEN

    def sign_bytes(self, element: etree._Element) -> bytes:
        """Serialize ``element`` signed: its exclusive-C14N form with ds:Signature appended.

        Writing the canonical form itself means one serialization serves both
        the digest and the output, and the tree is never copied or re-parsed.
        The input is left untouched.
        """
        # iterchildren, not find: find's path engine is Python, and most elements signed have no signature yet
        if next(element.iterchildren(SIGNATURE_TAG), None) is not None:
            element = copy.deepcopy(element)
            _drop_existing_signature(element)
        return self.sign_canonical(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))

    def sign_canonical(self, content: bytes) -> bytes:
        """``content`` — a document in exclusive-C14N form, unsigned — with ds:Signature appended.

        The caller vouches for the form (``hub.envelope.canonical_envelope``
        writes it): the digest is taken over these very bytes.
        """
        closing = content.rindex(b"</")
        digest, value = self._digest_and_value(hashlib.sha256(content).digest())
        return b"".join((content[:closing], self._signature_head, digest, self._signed_info_tail_value_open,
                         value, self._value_tail, content[closing:]))

    def sign_canonical_digested(self, content: bytes) -> tuple[bytes, str]:
        """:meth:`sign_canonical` and the hex SHA-256 of what it returns (the message log keeps it).

        Both documents share every byte before the root's end tag: hashed once, each digest goes on
        from there (hashing the signed envelope again cost a wage file ~10 us, as much as the first).
        """
        closing = content.rindex(b"</")
        before = hashlib.sha256(memoryview(content)[:closing])
        reference = before.copy()
        reference.update(memoryview(content)[closing:])
        digest, value = self._digest_and_value(reference.digest())
        signature = b"".join((self._signature_head, digest, self._signed_info_tail_value_open, value, self._value_tail))
        tail = content[closing:]
        before.update(signature)
        before.update(tail)
        return b"".join((content[:closing], signature, tail)), before.hexdigest()

    def _digest_and_value(self, reference_digest: bytes) -> tuple[bytes, bytes]:
        """The DigestValue and the SignatureValue text, both base64, for a reference with this digest."""
        digest = binascii.b2a_base64(reference_digest, newline=False)
        # SignedInfo is written in canonical form (explicit end tags, attribute
        # order, its own ds declaration), so these bytes are what a verifier's
        # exclusive C14N of it yields, wherever it ends up in the document.
        signed_info = self._signed_info_head + digest + self._signed_info_tail
        return digest, binascii.b2a_base64(self._sign_raw(signed_info), newline=False)

    def sign(self, element: etree._Element) -> etree._Element:
        """Return a signed copy of ``element`` as a tree (the input is left untouched)."""
        return etree.fromstring(self.sign_bytes(element))

    def signature_value(self, canonical_signed_info: bytes) -> bytes:
        """The raw ``ds:SignatureValue`` over a SignedInfo already in exclusive-C14N form.

        For signatures assembled elsewhere (:mod:`hub.wssec` signs a SOAP Body
        from a WS-Security header) with this identity's key and method.
        """
        return self._sign_raw(canonical_signed_info)

    @property
    def certificate_der(self) -> bytes:
        """This identity's certificate, DER-encoded (what a BinarySecurityToken carries)."""
        return self.identity.certificate.public_bytes(Encoding.DER)


_SIGNED_INFO = (
    f'<ds:SignedInfo xmlns:ds="{DS}">'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>'
    '<ds:SignatureMethod Algorithm="{method}"></ds:SignatureMethod>'
    '<ds:Reference URI=""><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform>'
    "</ds:Transforms>"
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
    "<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
)
_SIGNATURE_OPEN = f'<ds:Signature xmlns:ds="{DS}">'.encode("ascii")
_VALUE_OPEN = b"<ds:SignatureValue>"
_KEY_INFO = "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"


def _drop_existing_signature(element: etree._Element) -> None:
    # Re-signing must replace, not nest: a stale signature would be covered by the new one.
    for old in list(element.iterchildren(SIGNATURE_TAG)):
        element.remove(old)


class Verified(NamedTuple):  # a tuple, not a frozen dataclass: one is made on every verification (~3k instructions less)
    """What the verifier vouches for: the signed element and who signed it."""

    element: etree._Element
    signer: str


class Verifier:
    """Verifies enveloped signatures against the trust store; reuse it, it keeps the pinned keys."""

    def __init__(self, trust_store: TrustStore) -> None:
        self.trust_store = trust_store
        self._pinned: dict[int, _Pinned] = {}
        self._shapes = SignatureShapes()

    def verify(self, document: etree._Element, *, expected_signer: str | None = None) -> Verified:
        """Verify ``document`` (already parsed by :func:`hub.xmlsafe.parse_xml`), which it takes over:
        on success the verified element is ``document`` itself, its signature taken out; on failure it is
        left as it came. A caller that still needs the signed tree verifies a copy.

        With ``expected_signer`` the signature must come from that party's
        pinned certificate; without it a certificate in ``KeyInfo`` must be
        one registered in the trust store, and is then pinned.
        """
        read = self._shapes.read(document, expected_signer)
        parts = read.parts
        signer = expected_signer or self._signer_named_by(parts)
        pinned = self._pinned_of(signer, parts)
        pinned.check_carried(parts, signer)
        pinned.check_dates(signer)
        check_signature_value(parts, pinned.public_key, signer)
        self._shapes.remember(read)
        return Verified(element=signed_content(document, parts, signer), signer=signer)

    @property
    def shapes_known(self) -> int:
        """How many signature shapes this verifier reads by position (see :mod:`hub.signature_shapes`)."""
        return len(self._shapes)

    def _signer_named_by(self, parts: SignatureParts) -> str:
        if not parts.certificates:
            raise UnknownSignerError("signature names no certificate and no signer was expected")
        parties = {self.trust_store.party_with_fingerprint(hashlib.sha256(der).digest()) for der in parts.certificates}
        parties.discard(None)
        if len(parties) > 1:
            raise SignatureError(f"ds:KeyInfo carries the certificates of several parties ({sorted(parties)})")
        if not parties:
            raise UnknownSignerError(f"signed with an unregistered certificate ({_subject(parts.certificates[0])})")
        return parties.pop()

    def _pinned_of(self, signer: str, parts: SignatureParts) -> _Pinned:
        """The pinned certificate the signature claims; during a cut-over the party has two.

        KeyInfo (a certificate, or an issuer serial) says which; a signature
        naming neither is tried against each, current first. Anything not
        matching falls to the current one, whose checks then say what is wrong.
        """
        certificates = self.trust_store.certificates_for(signer)
        if len(certificates) == 1:  # no cut-over: the one there is (its checks say if it is not the one used)
            return self._derived(certificates[0])
        candidates = [self._derived(c) for c in certificates]
        for pinned in candidates:
            if pinned.der in parts.certificates or (not parts.certificates and
                                                    pinned.certificate.serial_number in parts.serials):
                return pinned
        if not parts.certificates and not parts.serials:
            for pinned in candidates:
                try:
                    check_signature_value(parts, pinned.public_key, signer)
                    return pinned
                except SignatureError:
                    continue
        return candidates[0]

    def _derived(self, certificate: x509.Certificate) -> _Pinned:
        # Keyed by the trust store's certificate object, not its fingerprint (a SHA-256 of the DER on every
        # verification): the entry holds the object, so its id cannot be reused while the entry is kept.
        pinned = self._pinned.get(id(certificate))
        if pinned is None or pinned.certificate is not certificate:
            if len(self._pinned) > 256:  # certificates reloaded many times: keep the cache bounded
                self._pinned.clear()
            pinned = self._pinned[id(certificate)] = _Pinned(certificate)
        return pinned


class _Pinned:
    """A pinned certificate with what each verification needs of it, derived once."""

    def __init__(self, certificate: x509.Certificate) -> None:
        self.certificate = certificate
        self.der = certificate.public_bytes(Encoding.DER)
        self.public_key = certificate.public_key()
        self.not_before, self.not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        # as POSIX seconds too: every verification compares them with now, and time.time() makes no datetime
        self._valid_from, self._valid_until = self.not_before.timestamp(), self.not_after.timestamp()

    def check_carried(self, parts: SignatureParts, signer: str) -> None:
        """What KeyInfo names must be this certificate (beside, perhaps, its issuers)."""
        if parts.certificates and self.der not in parts.certificates:
            raise CertificateError(f"signed with a certificate that is not the one registered for {signer!r}",
                                   agency=signer)
        if parts.serials and self.certificate.serial_number not in parts.serials:
            raise CertificateError(f"ds:X509IssuerSerial names a certificate that is not the one registered "
                                   f"for {signer!r}", agency=signer)

    def check_dates(self, signer: str) -> None:
        """The certificate must be within its validity dates now."""
        now = time.time()
        if now > self._valid_until:
            raise CertificateError(f"certificate of {signer!r} refused: it expired on {self.not_after:%Y-%m-%d}",
                                   agency=signer)
        if now < self._valid_from:
            raise CertificateError(f"certificate of {signer!r} refused: it is not valid before "
                                   f"{self.not_before:%Y-%m-%d}", agency=signer)


def _subject(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        raise SignatureError("ds:X509Certificate is not an X.509 certificate") from None
