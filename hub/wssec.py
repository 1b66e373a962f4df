"""OASIS WS-Security (SOAP Message Security 1.1, X.509 token profile): the other way partners sign.

Standard SOAP stacks (Apache CXF/WSS4J, .NET WCF, zeep's ``BinarySignature``)
do not sign the payload element itself: they sign the SOAP Body from a
``wsse:Security`` header. The hub accepts exactly this shape of it, checked
with the same primitives as the enveloped profile (:mod:`hub.verify`)::

    <soap:Envelope>
      <soap:Header>
        <wsse:Security>                        exactly one (mustUnderstand is understood)
          <wsse:BinarySecurityToken>           exactly one: X509v3, Base64Binary, with a wsu:Id;
                                               it must be the agency's pinned certificate
          <wsu:Timestamp wsu:Id>               optional; when present, signed and fresh
          <ds:Signature>
            <ds:SignedInfo>                    exclusive C14N; RSA-SHA256 or ECDSA-SHA256
              <ds:Reference URI="#<Body id>">  one for the Body, one for the Timestamp if there
                <ds:Transforms>                exclusive C14N only
                <ds:DigestMethod>              SHA-256 only (SHA-1 is refused)
            <ds:SignatureValue>
            <ds:KeyInfo>                       a SecurityTokenReference to the token above
      <soap:Body wsu:Id>                       exactly one

Signature wrapping is defeated by identity, not by search: every Id in the
document must be unique, and a reference must resolve to *the* Body (the
Envelope's one Body child) or *the* Timestamp (the Security header's), the
very elements the gateway then reads. What is handed on is a copy of that
Body's payload element, comments removed, never the tree that was passed in.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from hub.errors import CertificateError, SignatureError
from hub.signature_checks import check_signed_info
from hub.signing import Signer, TrustStore, Verified
from hub.soap import SOAP_ENV
from hub.verify import (
    DS, EXC_C14N, SHA256, child_elements, decode_base64, exclusive_c14n_prefixes, sha256_digest, signature_method,
)

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

SECURITY, TOKEN, STR, STR_REFERENCE = (f"{{{WSSE}}}{name}" for name in (
    "Security", "BinarySecurityToken", "SecurityTokenReference", "Reference"))
TIMESTAMP, WSU_ID = f"{{{WSU}}}Timestamp", f"{{{WSU}}}Id"
_BODY, _HEADER = f"{{{SOAP_ENV}}}Body", f"{{{SOAP_ENV}}}Header"
#: attributes an XML-DSig reference "#x" may resolve through, so all of them must be unique
_ID_ATTRIBUTES = (WSU_ID, "Id", "ID", "{http://www.w3.org/XML/1998/namespace}id")


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


@dataclass(frozen=True)
class Freshness:
    """How old a signed ``wsu:Timestamp`` may be."""

    window: float = 300.0
    """Seconds after its ``Created`` that a request is still accepted (a replay after that is refused)."""
    skew: float = 60.0
    """Seconds the partner's clock may be ahead of or behind the hub's."""


def security_header(root: etree._Element) -> etree._Element | None:
    """The request's ``wsse:Security`` header block, if it signed that way (several are refused)."""
    header = root.find(_HEADER)
    blocks = header.findall(SECURITY) if header is not None else []
    if len(blocks) > 1:
        raise SignatureError("the SOAP Header holds more than one wsse:Security")
    return blocks[0] if blocks else None


class WsSecurityVerifier:
    """Verifies WS-Security requests against the agency's pinned certificate."""

    def __init__(self, trust_store: TrustStore, freshness: Freshness | None = None) -> None:
        self.trust_store = trust_store
        self.freshness = freshness or Freshness()

    def verify(self, root: etree._Element, *, agency: str, now: dt.datetime | None = None) -> Verified:
        """The signed Body's payload element (a copy) with its signer, or SignatureError naming the part."""
        security = security_header(root)
        if security is None:
            raise SignatureError("the request has no wsse:Security header", agency=agency)
        body = _the_body(root, agency)
        ids = _unique_ids(root, agency)
        token, timestamp, signature = _security_parts(security, agency)
        signed_info, value, key_info = _signature_parts(signature, agency)
        c14n_method, method_element, *reference_elements = child_elements(signed_info)
        prefixes = exclusive_c14n_prefixes(c14n_method, "ds:CanonicalizationMethod", agency)
        method = signature_method(method_element, agency)
        references = _references(reference_elements, ids, body, timestamp, agency)
        _token_reference(key_info, ids, token, agency)
        public_key = self._pinned_key(token, agency)
        check_signed_info(signed_info, prefixes, method, decode_base64(value, "ds:SignatureValue", agency),
                          public_key, agency)
        for target, (digest, content_prefixes) in references.items():
            _check_digest(target, digest, content_prefixes, agency)
        if timestamp is not None:
            _check_fresh(timestamp, self.freshness, now or dt.datetime.now(dt.timezone.utc), agency)
        payload = copy.deepcopy(_payload(body, agency))
        etree.strip_tags(payload, etree.Comment)  # outside the digest, so out of what is read
        return Verified(element=payload, signer=agency)

    def _pinned_key(self, token: etree._Element, agency: str):
        pinned = self.trust_store.certificate_for(agency)
        if decode_base64(token, "wsse:BinarySecurityToken", agency) != pinned.public_bytes(Encoding.DER):
            raise CertificateError(f"wsse:BinarySecurityToken is not the certificate registered for {agency!r}",
                                   agency=agency)
        _check_dates(pinned, agency)
        return pinned.public_key()


def _the_body(root, agency) -> etree._Element:
    bodies = list(root.iter(_BODY))
    if len(bodies) != 1 or bodies[0].getparent() is not root:
        raise SignatureError(f"the envelope must hold exactly one soap:Body, found {len(bodies)}", agency=agency)
    return bodies[0]


def _payload(body, agency) -> etree._Element:
    children = child_elements(body)
    if len(children) != 1:
        raise SignatureError(f"the signed soap:Body must hold exactly one element, found {len(children)}",
                             agency=agency)
    return children[0]


def _unique_ids(root, agency) -> dict[str, etree._Element]:
    ids: dict[str, etree._Element] = {}
    for element in root.iter(etree.Element):
        for attribute in _ID_ATTRIBUTES:
            value = element.get(attribute)
            if value is None:
                continue
            if value in ids:
                raise SignatureError(f"Id {value[:64]!r} is used by more than one element", agency=agency)
            ids[value] = element
    return ids


def _security_parts(security, agency):
    children = child_elements(security)
    tokens = [child for child in children if child.tag == TOKEN]
    timestamps = [child for child in children if child.tag == TIMESTAMP]
    signatures = [child for child in children if child.tag == _ds("Signature")]
    if len(tokens) != 1 or len(signatures) != 1 or len(timestamps) > 1 or len(children) != len(
            tokens) + len(timestamps) + len(signatures):
        raise SignatureError("wsse:Security must hold one BinarySecurityToken, one ds:Signature and at most one "
                             f"wsu:Timestamp, found {[etree.QName(c).localname for c in children]}", agency=agency)
    token = tokens[0]
    if token.get("ValueType") != X509V3 or token.get("EncodingType", BASE64_BINARY) != BASE64_BINARY:
        raise SignatureError("wsse:BinarySecurityToken must be an X509v3 certificate in Base64Binary",
                             agency=agency)
    return token, (timestamps[0] if timestamps else None), signatures[0]


def _signature_parts(signature, agency):
    children = child_elements(signature)
    if [child.tag for child in children] != [_ds("SignedInfo"), _ds("SignatureValue"), _ds("KeyInfo")]:
        raise SignatureError("ds:Signature must hold SignedInfo, SignatureValue and a KeyInfo referring to the "
                             "wsse:BinarySecurityToken", agency=agency)
    signed_info = child_elements(children[0])
    tags = [child.tag for child in signed_info]
    if tags[:2] != [_ds("CanonicalizationMethod"), _ds("SignatureMethod")] or not 3 <= len(tags) <= 4 \
            or any(tag != _ds("Reference") for tag in tags[2:]):
        raise SignatureError("ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and one reference "
                             "to the soap:Body (plus one to the wsu:Timestamp)", agency=agency)
    return children[0], children[1], children[2]


def _references(references, ids, body, timestamp, agency) -> dict[etree._Element, tuple[bytes, tuple | None]]:
    """Each reference's target — only the Body and the Timestamp — with its digest and C14N prefixes."""
    signed: dict[etree._Element, tuple[bytes, tuple | None]] = {}
    for reference in references:
        uri = reference.get("URI") or ""
        target = ids.get(uri[1:]) if uri.startswith("#") else None
        if target is None or (target is not body and target is not timestamp) or target in signed:
            raise SignatureError(f"ds:Reference URI {uri[:64]!r} does not name the soap:Body or the wsu:Timestamp "
                                 "(once each)", agency=agency)
        signed[target] = _reference_digest(reference, agency)
    if body not in signed:
        raise SignatureError("the soap:Body is not signed (no ds:Reference to its wsu:Id)", agency=agency)
    if timestamp is not None and timestamp not in signed:
        raise SignatureError("the wsu:Timestamp is not signed", agency=agency)
    return signed


def _reference_digest(reference, agency) -> tuple[bytes, tuple | None]:
    children = child_elements(reference)
    if [child.tag for child in children] != [_ds("Transforms"), _ds("DigestMethod"), _ds("DigestValue")]:
        raise SignatureError("ds:Reference must hold Transforms, DigestMethod and DigestValue", agency=agency)
    steps = child_elements(children[0])
    if len(steps) != 1 or steps[0].tag != _ds("Transform") or steps[0].get("Algorithm") != EXC_C14N:
        raise SignatureError("a ds:Reference's only ds:Transform must be exclusive C14N, found "
                             f"{[step.get('Algorithm') for step in steps]}", agency=agency)
    prefixes = exclusive_c14n_prefixes(steps[0], "exclusive C14N ds:Transform", agency)
    return sha256_digest(children[1], children[2], agency), prefixes


def _token_reference(key_info, ids, token, agency) -> None:
    parts = child_elements(key_info)
    references = child_elements(parts[0]) if len(parts) == 1 and parts[0].tag == STR else []
    uri = ""
    if len(references) == 1 and references[0].tag == STR_REFERENCE:
        uri = references[0].get("URI") or ""
    if not uri.startswith("#") or ids.get(uri[1:]) is not token:
        raise SignatureError("ds:KeyInfo must be a wsse:SecurityTokenReference to the wsse:BinarySecurityToken",
                             agency=agency)


def _check_digest(target, digest: bytes, prefixes, agency) -> None:
    canonical = etree.tostring(target, method="c14n", exclusive=True, with_comments=False,
                               inclusive_ns_prefixes=prefixes)
    if not hmac.compare_digest(hashlib.sha256(canonical).digest(), digest):
        part = "soap:Body" if target.tag == _BODY else "wsu:Timestamp"
        raise SignatureError(f"the signed {part} was changed (digest mismatch)", agency=agency)


def _check_fresh(timestamp, freshness: Freshness, now: dt.datetime, agency) -> None:
    created = _instant(timestamp.find(f"{{{WSU}}}Created"), "Created", agency)
    expires_element = timestamp.find(f"{{{WSU}}}Expires")
    skew = dt.timedelta(seconds=freshness.skew)
    if created > now + skew:
        raise SignatureError(f"wsu:Timestamp Created {created:%Y-%m-%dT%H:%M:%SZ} is in the future", agency=agency)
    if now - created > dt.timedelta(seconds=freshness.window) + skew:
        raise SignatureError(f"wsu:Timestamp is stale: created {created:%Y-%m-%dT%H:%M:%SZ}, more than "
                             f"{freshness.window:g} s ago", agency=agency)
    if expires_element is not None and now > _instant(expires_element, "Expires", agency) + skew:
        raise SignatureError("wsu:Timestamp has expired", agency=agency)


def _instant(element, name: str, agency) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat((element.text or "").strip())
    except (AttributeError, ValueError):
        raise SignatureError(f"wsu:Timestamp has no valid wsu:{name}", agency=agency) from None
    if moment.tzinfo is None:
        raise SignatureError(f"wsu:Timestamp's wsu:{name} has no time zone", agency=agency)
    return moment


def _check_dates(certificate: x509.Certificate, agency: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateError(f"certificate of {agency!r} refused: valid only from "
                               f"{certificate.not_valid_before_utc:%Y-%m-%d} to "
                               f"{certificate.not_valid_after_utc:%Y-%m-%d}", agency=agency)


# -- the hub's answers ---------------------------------------------------------------------


def signed_envelope(payload: etree._Element, signer: Signer) -> bytes:
    """A SOAP 1.1 envelope around a copy of ``payload``, its Body signed from a wsse:Security header."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "wsse": WSSE, "wsu": WSU})
    security = etree.SubElement(etree.SubElement(env, _HEADER), SECURITY)
    token_id, body_id = f"X509-{uuid.uuid4().hex}", f"Body-{uuid.uuid4().hex}"
    token = etree.SubElement(security, TOKEN, {"ValueType": X509V3, "EncodingType": BASE64_BINARY, WSU_ID: token_id})
    token.text = base64.b64encode(signer.certificate_der).decode("ascii")
    body = etree.SubElement(env, _BODY, {WSU_ID: body_id})
    body.append(copy.deepcopy(payload))
    digest = hashlib.sha256(etree.tostring(body, method="c14n", exclusive=True, with_comments=False)).digest()
    signature = etree.SubElement(security, _ds("Signature"), nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=signer.identity.signature_method)
    reference = etree.SubElement(signed_info, _ds("Reference"), URI=f"#{body_id}")
    etree.SubElement(etree.SubElement(reference, _ds("Transforms")), _ds("Transform"), Algorithm=EXC_C14N)
    etree.SubElement(reference, _ds("DigestMethod"), Algorithm=SHA256)
    etree.SubElement(reference, _ds("DigestValue")).text = base64.b64encode(digest).decode("ascii")
    canonical = etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)
    etree.SubElement(signature, _ds("SignatureValue")).text = base64.b64encode(
        signer.signature_value(canonical)).decode("ascii")
    token_reference = etree.SubElement(etree.SubElement(signature, _ds("KeyInfo")), STR)
    etree.SubElement(token_reference, STR_REFERENCE, URI=f"#{token_id}", ValueType=X509V3)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
