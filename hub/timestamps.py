"""RFC 3161 time-stamp tokens: ask a time-stamping authority (TSA) for one, and check one.

A token is a CMS SignedData whose content is a TSTInfo: the imprint (a
SHA-256 digest) of what was stamped, the TSA's time (``genTime``), a serial
and the nonce the request carried. The hub stamps its log anchors (the
anchor's ``hash`` is the imprint, see :mod:`hub.messagelog.anchors`) and keeps
the token beside the anchor, so anyone holding the TSA's certificate can later
show the anchor existed at that time.

A token counts only when it is signed by the one TSA certificate the hub pins
(by its issuer and serial, the ESS signing-certificate hash, and the
signature made with its key): the certificates a token carries are not
believed. ASN.1 is read and written with asn1crypto, signatures checked with
cryptography.

    token = request_stamp(url, anchor.hash, tsa_cert, timeout=10)   # verified before it is returned
    info = verify_token(token, anchor.hash, tsa_cert)               # later, offline: StampInfo or TimestampError
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from asn1crypto import algos, cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from hub.errors import ConfigError, RabtError

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: the largest reply read from a TSA (a token with its certificate is a few KB)
MAX_REPLY_BYTES = 256 * 1024
#: what asn1crypto raises on bytes that are not the structure they claim to be
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class TimeStampResp(core.Sequence):
    """RFC 3161's TimeStampResp, whose token is optional (asn1crypto's ``tsp.TimeStampResp`` requires it,
    so it cannot read or write a rejection)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampError(RabtError):
    """A time-stamp reply or token does not hold: rejected, malformed, or not what was asked for."""

    code = "timestamp"


class TimestampUnavailableError(TimestampError):
    """The TSA could not be reached or did not answer in time; trying again later may succeed."""

    code = "timestamp-unavailable"
    recoverable = True


@dataclass(frozen=True)
class StampInfo:
    """What a verified token says."""

    gen_time: datetime
    """The TSA's time for the stamp (aware, UTC)."""
    serial: int
    """The token's serial number at its TSA."""
    policy: str
    """The TSA policy OID the stamp was made under."""
    nonce: int | None
    """The request's nonce, echoed."""


def load_tsa_certificate(path: Path) -> x509.Certificate:
    """The pinned TSA certificate (PEM or DER); ConfigError unless its EKU is timeStamping only, critical."""
    try:
        data = path.read_bytes()
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the TSA certificate {path}: {exc}") from exc
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ConfigError(f"the TSA certificate {path} must have the critical extended key usage timeStamping")
    return cert


def make_query(imprint_sha256: str | bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for the SHA-256 digest ``imprint_sha256`` (hex or bytes), asking for the certificate."""
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": _imprint(imprint_sha256),
        "nonce": nonce,
        "cert_req": True,
    }).dump()


def request_stamp(url: str, imprint_sha256: str | bytes, tsa_cert: x509.Certificate, *, timeout: float,
                  session: requests.Session | None = None) -> bytes:
    """Ask the TSA at ``url`` to stamp ``imprint_sha256``; the token (DER), verified against ``tsa_cert``.

    TimestampUnavailableError when the TSA cannot be reached or answers with
    an HTTP error; TimestampError when its reply is a rejection or does not hold.
    """
    nonce = secrets.randbits(63)
    try:
        answer = (session or requests).post(url, data=make_query(imprint_sha256, nonce), timeout=timeout,
                                            headers={"Content-Type": QUERY_TYPE}, stream=True)
        with answer:
            body = _read_capped(answer)
    except requests.RequestException as exc:
        raise TimestampUnavailableError(f"TSA {url} unreachable: {type(exc).__name__}") from exc
    if answer.status_code >= 500:
        raise TimestampUnavailableError(f"TSA {url} answered HTTP {answer.status_code}")
    if len(body) > MAX_REPLY_BYTES:
        raise TimestampError(f"TSA {url} sent a reply over {MAX_REPLY_BYTES} bytes")
    if answer.headers.get("Content-Type", "").split(";")[0].strip() != REPLY_TYPE:
        raise TimestampError(f"TSA {url} answered HTTP {answer.status_code} without a time-stamp reply")
    return read_reply(body, imprint_sha256, tsa_cert, nonce=nonce)


def _read_capped(answer: requests.Response) -> bytes:
    """The body, or its first MAX_REPLY_BYTES + 1 bytes: a reply is never read whole past the cap."""
    body = bytearray()
    for chunk in answer.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            break
    return bytes(body)


def read_reply(reply: bytes, imprint_sha256: str | bytes, tsa_cert: x509.Certificate, *,
               nonce: int | None) -> bytes:
    """The token in a DER TimeStampResp, once its status is granted and the token verifies."""
    try:
        response = TimeStampResp.load(reply, strict=True)
        status = response["status"]
        refusal = None if status["status"].native in ("granted", "granted_with_mods") else _status_text(status)
        token = response["time_stamp_token"]
        token_bytes = None if isinstance(token, core.Void) else token.dump()
    except _MALFORMED as exc:
        raise TimestampError(f"the TSA's reply is not a TimeStampResp: {exc}") from exc
    if refusal is not None:
        raise TimestampError(f"the TSA refused the stamp: {refusal}")
    if token_bytes is None:
        raise TimestampError("the TSA granted the stamp but sent no token")
    info = verify_token(token_bytes, imprint_sha256, tsa_cert)
    if nonce is not None and info.nonce != nonce:
        raise TimestampError("the token's nonce is not the request's (a replayed or misdirected reply)")
    return token_bytes


def verify_token(token_bytes: bytes, imprint_sha256: str | bytes, tsa_cert: x509.Certificate) -> StampInfo:
    """Check a DER TimeStampToken: signed by ``tsa_cert``, stamping ``imprint_sha256``; what it says.

    TimestampError naming the first thing that does not hold.
    """
    try:
        signer, tst_bytes = _parts(token_bytes)
        tst = tsp.TSTInfo.load(tst_bytes, strict=True)
        imprint = tst["message_imprint"]
        stamped = (imprint["hash_algorithm"]["algorithm"].native, imprint["hashed_message"].native)
        info = StampInfo(tst["gen_time"].native, tst["serial_number"].native, tst["policy"].dotted,
                         tst["nonce"].native)
        _check_signer(signer, tst_bytes, tsa_cert)
    except _MALFORMED as exc:
        raise TimestampError(f"the token is not a well-formed RFC 3161 token: {exc}") from exc
    if stamped != ("sha256", _digest_bytes(imprint_sha256)):
        raise TimestampError("the token stamps another digest than the one given (a token of something else)")
    return info


def _parts(token_bytes: bytes) -> tuple[cms.SignerInfo, bytes]:
    info = cms.ContentInfo.load(token_bytes, strict=True)
    if info["content_type"].native != "signed_data":
        raise ValueError("not a CMS SignedData")
    signed = info["content"]
    content = signed["encap_content_info"]
    if content["content_type"].native != "tst_info":
        raise ValueError("its content is not a TSTInfo")
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise ValueError(f"{len(signers)} signers instead of one")
    return signers[0], content["content"].contents


def _check_signer(signer: cms.SignerInfo, tst_bytes: bytes, tsa_cert: x509.Certificate) -> None:
    # What was signed is the attributes' own bytes as a SET (tag 0x31), not as the [0] they are stored
    # under; taken before the attributes are read, which makes asn1crypto re-encode them (slowly) on dump.
    signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number" or sid.chosen["serial_number"].native != tsa_cert.serial_number \
            or sid.chosen["issuer"].dump() != tsa_cert.issuer.public_bytes():
        raise TimestampError("the token is not signed by the pinned TSA certificate (another signer)")
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise TimestampError(f"the token's digest algorithm {digest_name} is not accepted")
    attributes = {attr["type"].native: attr["values"][0] for attr in signer["signed_attrs"]}
    if attributes.get("content_type") is None or attributes["content_type"].native != "tst_info":
        raise TimestampError("the token's signed content type is not TSTInfo")
    if attributes.get("message_digest") is None or \
            attributes["message_digest"].native != _hash(digest_name, tst_bytes):
        raise TimestampError("the token's content was altered: it does not match the signed digest")
    _check_signing_certificate(attributes, tsa_cert)
    _check_signature(tsa_cert, signer["signature"].native, signed_bytes, digest_name)


def _check_signing_certificate(attributes: dict, tsa_cert: x509.Certificate) -> None:
    """RFC 5816 / 2634: the signed attributes name the signing certificate by its hash."""
    from cryptography.hazmat.primitives.serialization import Encoding

    der = tsa_cert.public_bytes(Encoding.DER)
    if (v2 := attributes.get("signing_certificate_v2")) is not None:
        cert_id = v2["certs"][0]
        algorithm = cert_id["hash_algorithm"]["algorithm"].native
        if algorithm in _HASHES and cert_id["cert_hash"].native == _hash(algorithm, der):
            return
    elif (v1 := attributes.get("signing_certificate")) is not None:
        if v1["certs"][0]["cert_hash"].native == hashlib.sha1(der).digest():
            return
    raise TimestampError("the token does not name the pinned TSA certificate as its signer")


def _check_signature(cert: x509.Certificate, signature: bytes, data: bytes, digest_name: str) -> None:
    key, digest = cert.public_key(), _HASHES[digest_name]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest))
        else:
            raise TimestampError(f"the TSA's key type {type(key).__name__} is not supported")
    except InvalidSignature:
        raise TimestampError("the token's signature does not verify with the pinned TSA certificate") from None


def _status_text(status: tsp.PKIStatusInfo) -> str:
    parts = [str(status["status"].native)]
    failure = status["fail_info"].native
    if failure:
        parts.append(", ".join(sorted(failure)))
    if status["status_string"].native:
        parts.append("; ".join(status["status_string"].native))
    return " / ".join(parts)


def _imprint(imprint_sha256: str | bytes) -> tsp.MessageImprint:
    return tsp.MessageImprint({"hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                               "hashed_message": _digest_bytes(imprint_sha256)})


def _digest_bytes(imprint_sha256: str | bytes) -> bytes:
    digest = bytes.fromhex(imprint_sha256) if isinstance(imprint_sha256, str) else bytes(imprint_sha256)
    if len(digest) != 32:
        raise TimestampError(f"an imprint is a SHA-256 digest of 32 bytes, not {len(digest)}")
    return digest


def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()
