"""The TSA's identity and its answers: a key, a certificate for timestamping only, and signed tokens.

The certificate is self-signed, with the extended key usage timeStamping
marked critical (RFC 3161 §2.3), so ``openssl ts -verify -CAfile tsa.pem``
accepts its tokens and the hub can pin it. Tokens carry the ESS
signing-certificate-v2 attribute (RFC 5816), which OpenSSL requires.
ASN.1 is built with asn1crypto; the signature is made with cryptography.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from hub.pki import cert_pem, issue_certificate, key_pem, load_certificate, load_private_key, new_private_key
from hub.private_files import write_private
from hub.timestamps import TimeStampResp

log = logging.getLogger(__name__)

#: the policy this TSA stamps under (a private arc: a simulator's policy means nothing outside the demo)
POLICY = "1.3.6.1.4.1.57264.2026.1"
#: digests a query may use for its imprint
ACCEPTED_DIGESTS = frozenset({"sha256", "sha384", "sha512"})
KEY_FILE, CERT_FILE = "tsa.key", "tsa.pem"


class Rejection(ValueError):
    """A query the TSA does not stamp; ``failure`` is the PKIFailureInfo bit to answer with."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure, self.text = failure, text


@dataclass
class Identity:
    """The TSA's key and certificate."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def load_or_create(cls, folder: Path | None) -> Identity:
        """Read ``tsa.key``/``tsa.pem`` from ``folder``, making them at the first start; none: a new one in memory."""
        if folder is not None and (folder / KEY_FILE).exists() and (folder / CERT_FILE).exists():
            return cls.from_files(folder / KEY_FILE, folder / CERT_FILE)
        identity = cls.create()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            write_private(folder / KEY_FILE, key_pem(identity.key))
            (folder / CERT_FILE).write_bytes(identity.pem)
        return identity

    @classmethod
    def from_files(cls, key_path: Path, cert_path: Path) -> Identity:
        """An identity given by path (PEM key and certificate)."""
        return cls(load_private_key(key_path), load_certificate(cert_path))

    @classmethod
    def create(cls, common_name: str = "Rabt simulated TSA", days: int = 730) -> Identity:
        """A new P-256 key and a self-signed certificate for time-stamping only."""
        key = new_private_key("ec")
        return cls(key, issue_certificate(common_name, key, None, None, days=days,
                                          extended_usage=(ExtendedKeyUsageOID.TIME_STAMPING,), usage_critical=True))

    @property
    def pem(self) -> bytes:
        return cert_pem(self.certificate)


class Authority:
    """Answers DER TimeStampReqs with DER TimeStampResps. Thread-safe (serials come from one counter)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self._cert = asn1_x509.Certificate.load(identity.certificate.public_bytes(Encoding.DER))
        self._serials = itertools.count(secrets.randbits(32) << 16)
        self._lock = threading.Lock()

    def answer(self, query: bytes) -> bytes:
        """The reply to ``query``: a granted token, or a rejection naming why (never an exception)."""
        try:
            request = _parse(query)
        except Rejection as refused:
            return _rejection(refused.failure, refused.text)
        with self._lock:
            serial = next(self._serials)
        try:
            token = self._token(request, serial)
        except Exception:  # noqa: BLE001 - a query that parsed but cannot be stamped is answered, not crashed on
            log.exception("TSA: cannot stamp a query that parsed")
            return _rejection("system_failure", "the query could not be stamped")
        return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def _token(self, request: tsp.TimeStampReq, serial: int) -> cms.ContentInfo:
        """A TimeStampToken: the TSTInfo for ``request``, signed with the TSA's key (RFC 3161 §2.4.2)."""
        content = tsp.TSTInfo({
            "version": "v1", "policy": POLICY, "message_imprint": request["message_imprint"],
            "serial_number": serial, "gen_time": dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            "accuracy": {"seconds": 1}, "nonce": request["nonce"].native,
        }).dump()
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "certificates": [self._cert] if request["cert_req"].native else [],
            "signer_infos": [self._signer(content)],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})

    def _signer(self, content: bytes) -> cms.SignerInfo:
        """The SignerInfo over ``content``: its digest, the ESS certificate hash OpenSSL requires, the signature."""
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
            {"type": "signing_certificate_v2", "values": [{"certs": [{
                "hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(self._cert.dump()).digest()}]}]},
        ])
        signature, algorithm = _sign(self.identity.key, signed_attrs.dump())
        return cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": self._cert.issuer, "serial_number": self._cert.serial_number}}),
            "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": algorithm}, "signature": signature,
        })


def _sign(key, data: bytes) -> tuple[bytes, str]:
    """The signature over ``data`` with the TSA's key (P-256 made here, or an RSA key given by path)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256()), "sha256_rsa"
    return key.sign(data, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"


def _parse(query: bytes) -> tsp.TimeStampReq:
    """The query, fully parsed; Rejection for anything malformed or not supported."""
    try:
        request = tsp.TimeStampReq.load(query, strict=True)
        fields = request.native
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise Rejection("bad_data_format", f"not a DER TimeStampReq: {exc}") from None
    imprint = fields["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"]
    if fields["version"] != "v1":
        raise Rejection("bad_request", f"version {fields['version']} is not v1")
    if algorithm not in ACCEPTED_DIGESTS:
        raise Rejection("bad_alg", f"imprint digest {algorithm} is not one of {', '.join(sorted(ACCEPTED_DIGESTS))}")
    if len(imprint["hashed_message"]) != hashlib.new(algorithm).digest_size:
        raise Rejection("bad_data_format", f"the imprint is not a {algorithm} digest")
    if fields["req_policy"] is not None and fields["req_policy"] != POLICY:
        raise Rejection("unaccepted_policy", f"policy {fields['req_policy']} is not {POLICY}")
    if fields["extensions"]:
        raise Rejection("unaccepted_extensions", "this TSA accepts no request extensions")
    return request


def _rejection(failure: str, text: str) -> bytes:
    return TimeStampResp({"status": {
        "status": "rejection", "status_string": [text[:200]], "fail_info": {failure}}}).dump()


def rejection(failure: str, text: str) -> bytes:
    """A rejection reply (for a query that never reached :meth:`Authority.answer`, e.g. too large)."""
    return _rejection(failure, text)
