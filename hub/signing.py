"""XML-DSig signing and verification against the trust store.

Signatures are *enveloped* over the whole document (``Reference URI=""``),
exclusive C14N, SHA-256 digests, RSA-SHA256 (default) or ECDSA-SHA256, with
the signer's X.509 certificate in ``KeyInfo``, so libxmlsec1 verifies them too.

Verification is deliberately narrow:

* the signer must be in the trust store; its *pinned* certificate is used,
  never one the document brings along (a document's certificate must equal
  the pinned one);
* the certificate must be within its validity dates;
* exactly one reference, and it must be ``URI=""`` — the whole document — so
  signature wrapping (an unsigned element beside or around a signed one)
  cannot smuggle unsigned content past the check;
* only algorithms above are accepted;
* callers get back only :attr:`Verified.element`, the content the verifier
  says was signed — never the tree they passed in.

Keys and certificates are loaded once, by :class:`TrustStore`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import signxml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLVerifier
from signxml.verifier import SignatureConfiguration

from hub.errors import CertificateError, ConfigError, SignatureError, UnknownSignerError
from hub.pki import PkiPaths, load_certificate, load_private_key

DS = "http://www.w3.org/2000/09/xmldsig#"
_ACCEPTED = SignatureConfiguration(
    require_x509=True,
    location="./",  # the Signature must be a child of the root: enveloped, nowhere else
    expect_references=1,
    signature_methods=frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.ECDSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
    ignore_ambiguous_key_info=False,
)


@dataclass(frozen=True)
class Identity:
    """A private key with its certificate: who signs."""

    name: str
    key: object
    certificate: x509.Certificate

    @property
    def signature_method(self) -> SignatureMethod:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return SignatureMethod.ECDSA_SHA256
        if isinstance(self.key, rsa.RSAPrivateKey):
            return SignatureMethod.RSA_SHA256
        raise ConfigError(f"{self.name}: unsupported key type {type(self.key).__name__}")


class TrustStore:
    """The hub's identity plus the pinned certificate of every known party."""

    def __init__(self, hub: Identity | None, certificates: dict[str, x509.Certificate]) -> None:
        self.hub = hub
        self._certificates = dict(certificates)
        if hub is not None:
            self._certificates.setdefault("hub", hub.certificate)
        self._by_fingerprint = {_fingerprint(c): name for name, c in self._certificates.items()}

    @classmethod
    def load(cls, pki_dir: Path) -> TrustStore:
        """Load the hub key and every ``agencies/*.pem`` once."""
        paths = PkiPaths(Path(pki_dir))
        if not paths.hub_key.exists():
            raise ConfigError(f"no hub key in {paths.root}; run `rabt pki init` first")
        hub = Identity("hub", load_private_key(paths.hub_key), load_certificate(paths.hub_cert))
        certificates = {p.stem: load_certificate(p) for p in sorted(paths.agencies.glob("*.pem"))}
        return cls(hub, certificates)

    def certificate_for(self, party: str) -> x509.Certificate:
        """The pinned certificate of ``party``; unknown parties are refused."""
        try:
            return self._certificates[party]
        except KeyError:
            raise UnknownSignerError(f"signer {party!r} is not in the trust store", agency=party) from None

    def party_of(self, certificate: x509.Certificate) -> str:
        """Which registered party this exact certificate belongs to."""
        try:
            return self._by_fingerprint[_fingerprint(certificate)]
        except KeyError:
            raise UnknownSignerError(
                f"signed with an unregistered certificate ({certificate.subject.rfc4514_string()})"
            ) from None

    @property
    def parties(self) -> list[str]:
        return sorted(self._certificates)


def _fingerprint(certificate: x509.Certificate) -> bytes:
    return certificate.fingerprint(hashes.SHA256())


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
        self._sign_raw = _raw_signing_function(identity.key, method)
        self._signed_info = _SIGNED_INFO.replace("{method}", method.value)
        certificate = base64.b64encode(identity.certificate.public_bytes(Encoding.DER)).decode("ascii")
        self._key_info = _KEY_INFO.replace("{certificate}", certificate)

    def sign_bytes(self, element: etree._Element) -> bytes:
        """Serialize ``element`` signed: its exclusive-C14N form with ds:Signature appended.

        Writing the canonical form itself means one serialization serves both
        the digest and the output, and the tree is never copied or re-parsed.
        The input is left untouched.
        """
        if element.find(f"{{{DS}}}Signature") is not None:
            element = copy.deepcopy(element)
            _drop_existing_signature(element)
        return self.sign_canonical(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))

    def sign_canonical(self, content: bytes) -> bytes:
        """``content`` — a document in exclusive-C14N form, unsigned — with ds:Signature appended.

        The caller vouches for the form (``hub.envelope.canonical_envelope``
        writes it): the digest is taken over these very bytes.
        """
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode("ascii")
        signed_info = self._signed_info.replace("{digest}", digest)
        # SignedInfo is written in canonical form (explicit end tags, attribute
        # order, its own ds declaration), so these bytes are what a verifier's
        # exclusive C14N of it yields, wherever it ends up in the document.
        value = base64.b64encode(self._sign_raw(signed_info.encode("ascii"))).decode("ascii")
        signature = (
            f'<ds:Signature xmlns:ds="{DS}">{signed_info}'
            f"<ds:SignatureValue>{value}</ds:SignatureValue>{self._key_info}</ds:Signature>"
        ).encode("ascii")
        closing = content.rindex(b"</")
        return content[:closing] + signature + content[closing:]

    def sign(self, element: etree._Element) -> etree._Element:
        """Return a signed copy of ``element`` as a tree (the input is left untouched)."""
        return etree.fromstring(self.sign_bytes(element))


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
_KEY_INFO = "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"


def _raw_signing_function(key, method: SignatureMethod):
    if method is SignatureMethod.RSA_SHA256:
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    size = (key.curve.key_size + 7) // 8

    def sign_ecdsa(data: bytes) -> bytes:
        # XML-DSig wants r||s of fixed width, not the DER that OpenSSL returns.
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign_ecdsa


def _drop_existing_signature(element: etree._Element) -> None:
    # Re-signing must replace, not nest: a stale signature would be covered by the new one.
    for old in element.findall(f"{{{DS}}}Signature"):
        element.remove(old)


@dataclass(frozen=True)
class Verified:
    """What the verifier vouches for: the signed element and who signed it."""

    element: etree._Element
    signer: str


class Verifier:
    """Verifies enveloped signatures against the trust store."""

    def __init__(self, trust_store: TrustStore) -> None:
        self.trust_store = trust_store

    def verify(self, document: etree._Element, *, expected_signer: str | None = None) -> Verified:
        """Verify ``document`` (already parsed by :func:`hub.xmlsafe.parse_xml`).

        With ``expected_signer`` the signature must come from that party's
        pinned certificate; without it the certificate in ``KeyInfo`` must be
        one registered in the trust store, and is then pinned.
        """
        signature = document.find(f"{{{DS}}}Signature")
        if signature is None:
            raise SignatureError("document is not signed (no ds:Signature under the root)",
                                 agency=expected_signer)
        _require_whole_document_reference(signature, expected_signer)
        carried = _carried_certificate(signature, expected_signer)
        if expected_signer is None:
            if carried is None:
                raise UnknownSignerError("signature names no certificate and no signer was expected")
            signer = self.trust_store.party_of(carried)
        else:
            signer = expected_signer
        pinned = self.trust_store.certificate_for(signer)
        if carried is not None and not hmac.compare_digest(_fingerprint(carried), _fingerprint(pinned)):
            raise CertificateError(
                f"signed with a certificate that is not the one registered for {signer!r}", agency=signer
            )
        result = _verify_with(document, pinned, signer)
        return Verified(element=result.signed_xml, signer=signer)


def _require_whole_document_reference(signature: etree._Element, agency: str | None) -> None:
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != "":
        uris = [r.get("URI") for r in references]
        raise SignatureError(
            f"signature must have exactly one reference to the whole document (URI=\"\"), found {uris}",
            agency=agency,
        )


def _carried_certificate(signature: etree._Element, agency: str | None) -> x509.Certificate | None:
    nodes = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not nodes:
        return None
    if len(nodes) > 1:
        raise SignatureError("signature carries more than one certificate", agency=agency)
    text = "".join((nodes[0].text or "").split())
    pem = "-----BEGIN CERTIFICATE-----\n" + text + "\n-----END CERTIFICATE-----\n"
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as exc:
        raise SignatureError(f"unreadable certificate in KeyInfo: {exc}", agency=agency) from exc


def _verify_with(document: etree._Element, pinned: x509.Certificate, signer: str):
    try:
        return XMLVerifier().verify(document, x509_cert=pinned, expect_config=_ACCEPTED)
    except signxml.exceptions.InvalidCertificate as exc:
        raise CertificateError(f"certificate of {signer!r} refused: {exc}", agency=signer) from exc
    except signxml.exceptions.InvalidDigest as exc:
        raise SignatureError(f"signed content was changed (digest mismatch): {exc}", agency=signer) from exc
    except signxml.exceptions.InvalidSignature as exc:
        raise SignatureError(f"signature does not verify: {exc}", agency=signer) from exc
    except (signxml.exceptions.InvalidInput, signxml.exceptions.SignXMLException, ValueError) as exc:
        raise SignatureError(f"malformed signature: {exc}", agency=signer) from exc
