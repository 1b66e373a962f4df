"""JSON Web Signatures (RFC 7515) made with the hub's signing identity, checkable by anyone.

The hub signs reports it hands out (a worker's disclosure ledger) as a JWS in the
flattened JSON serialization::

    {"protected": BASE64URL(header), "payload": BASE64URL(JSON), "signature": BASE64URL(sig)}

``protected + "." + payload + "." + signature`` is the compact form any JOSE
library reads (PyJWT, jose, jwcrypto…). The header names the algorithm — RS256
for the default RSA key, ES256 for a P-256 key — and carries the hub's
certificate in ``x5c`` (RFC 7515 §4.1.6), so a reader checks the signature with
the key in it and that certificate against the hub's CA, with no call to the hub.
The signature itself is the one the XML signatures use (:meth:`Signer.signature_value`):
PKCS#1 v1.5 SHA-256, or ECDSA SHA-256 as r‖s, which is exactly what JWS asks for.
"""

from __future__ import annotations

import base64
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hub.errors import ConfigError, InputError
from hub.signature_checks import ecdsa_der
from hub.signing import Signer

_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url ``text`` (padding optional); InputError when it is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InputError(f"not base64url: {exc}") from exc


def algorithm(signer: Signer) -> str:
    """The JWS ``alg`` of the signer's key."""
    key = signer.identity.key
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ConfigError(f"{signer.identity.name}: no JWS algorithm for a {type(key).__name__} key")


def sign_json(signer: Signer, payload: dict, content_type: str) -> dict:
    """``payload`` signed by ``signer`` as a flattened JWS JSON object (see the module docstring)."""
    header = {"alg": algorithm(signer), "typ": "JOSE+JSON", "cty": content_type,
              "x5c": [base64.b64encode(signer.certificate_der).decode("ascii")]}
    protected, body = b64url(_ENCODE(header).encode("utf-8")), b64url(_ENCODE(payload).encode("utf-8"))
    signature = signer.signature_value(f"{protected}.{body}".encode("ascii"))
    return {"protected": protected, "payload": body, "signature": b64url(signature)}


def compact(signed: dict) -> str:
    """The compact serialization (``header.payload.signature``) of a flattened JWS."""
    return f"{signed['protected']}.{signed['payload']}.{signed['signature']}"


def payload_of(signed: dict) -> dict:
    """The JSON payload of a flattened JWS, decoded but NOT verified (for showing what was signed)."""
    try:
        return json.loads(b64url_decode(signed["payload"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"not a signed report: {exc}") from exc


def verify_json(signed: dict, certificate: x509.Certificate) -> dict:
    """The payload of a flattened JWS made by :func:`sign_json`, once its signature checks with ``certificate``.

    InputError when it does not (the ``x5c`` inside is never believed: the caller says whose key counts).
    """
    try:
        data = f"{signed['protected']}.{signed['payload']}".encode("ascii")
        signature = b64url_decode(signed["signature"])
    except (KeyError, TypeError, UnicodeEncodeError) as exc:
        raise InputError(f"not a signed report: {exc}") from None
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey) and (der := ecdsa_der(signature, key)) is not None:
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise InputError("the signature does not verify with the given certificate") from None
    return payload_of(signed)
