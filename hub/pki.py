"""Development PKI and the trust store layout.

``rabt pki init`` makes a development CA, the hub's signing key and one key
pair per agency, so a single machine can run every simulator with real
certificates. In production only the agencies' *certificates* are registered
(``rabt pki register``); their private keys never come near the hub.

Layout under ``$RABT_HOME/pki``::

    ca.pem  ca.key                  development CA (issuer of everything below)
    hub.pem hub.key                 the hub's signing identity
    agencies/<name>.pem             trust store: the certificate pinned for <name>
    agencies/<name>.key             development only: the simulator's own key

Every file is written to a temporary name and renamed, and an existing file is
never overwritten, so running ``init`` twice changes nothing. Private keys are
created with mode 0600 by the ``open`` itself (:mod:`hub.private_files`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.errors import ConfigError
from hub.private_files import write_private

KEY_TYPES = ("rsa", "ec")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")


@dataclass(frozen=True)
class PkiPaths:
    """Where each key and certificate lives under one PKI folder."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def hub_cert(self) -> Path:
        return self.root / "hub.pem"

    @property
    def hub_key(self) -> Path:
        return self.root / "hub.key"

    @property
    def agencies(self) -> Path:
        return self.root / "agencies"

    def agency_cert(self, name: str) -> Path:
        return self.agencies / f"{check_party_name(name)}.pem"

    def agency_key(self, name: str) -> Path:
        return self.agencies / f"{check_party_name(name)}.key"


def check_party_name(name: str) -> str:
    """Agency names become file names: keep them to a safe, lower-case alphabet."""
    if not _NAME.match(name or ""):
        raise ConfigError(f"invalid agency name {name!r}: use 2-32 of a-z, 0-9, '-', '_'")
    return name


def new_private_key(key_type: str = "rsa"):
    """RSA-2048 (the default, widest support) or ECDSA P-256."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigError(f"unknown key type {key_type!r}; choose one of {', '.join(KEY_TYPES)}")


#: what a party's certificate may be used for besides signing: TLS either way
_PARTY_USAGE = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH)


def issue_certificate(subject_cn: str, key, issuer_cert, issuer_key, *, is_ca: bool = False,
                      not_before: dt.datetime | None = None, days: int = 730,
                      extended_usage: tuple = _PARTY_USAGE, usage_critical: bool = False) -> x509.Certificate:
    """A certificate for ``key``, signed by the issuer (self-signed when issuer_cert is None).

    ``extended_usage`` (with ``usage_critical``) applies to a certificate that is not a CA's: a
    time-stamping authority's is ``(TIME_STAMPING,)``, critical, as RFC 3161 requires.
    """
    not_before = not_before or dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "OM"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rabt development PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
    ])
    issuer = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if is_ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usage)), critical=usage_critical)
    builder = builder.add_extension(
        x509.KeyUsage(content_commitment=not is_ca, key_encipherment=False, data_encipherment=False,
                      key_agreement=False, encipher_only=False, decipher_only=False, **usage),
        critical=True,
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_new(path: Path, data: bytes, *, private: bool = False) -> None:
    if private:  # mode 0600 from the open call on: a key is never readable by others, not even briefly
        write_private(path, data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def load_private_key(path: Path):
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load private key {path}: {exc}") from exc


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load certificate {path}: {exc}") from exc


def _ensure_identity(cert_path: Path, key_path: Path, cn: str, ca_cert, ca_key, key_type: str) -> bool:
    if cert_path.exists() and key_path.exists():
        return False
    key = new_private_key(key_type)
    cert = issue_certificate(cn, key, ca_cert, ca_key)
    write_new(key_path, key_pem(key), private=True)
    write_new(cert_path, cert_pem(cert))
    return True


def init_pki(root: Path, agencies: list[str], *, key_type: str = "rsa") -> list[str]:
    """Create what is missing; return the names of what was created (empty on a re-run)."""
    paths = PkiPaths(root)
    created = []
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        ca_key = new_private_key(key_type)
        ca_cert = issue_certificate("Rabt development CA", ca_key, None, None, is_ca=True, days=3650)
        write_new(paths.ca_key, key_pem(ca_key), private=True)
        write_new(paths.ca_cert, cert_pem(ca_cert))
        created.append("ca")
    ca_key, ca_cert = load_private_key(paths.ca_key), load_certificate(paths.ca_cert)
    if _ensure_identity(paths.hub_cert, paths.hub_key, "hub", ca_cert, ca_key, key_type):
        created.append("hub")
    for name in agencies:
        if _ensure_identity(paths.agency_cert(name), paths.agency_key(name), name, ca_cert, ca_key, key_type):
            created.append(name)
    return created


def register_agency_certificate(root: Path, agency: str, pem: bytes, *, replace: bool = False,
                                overlap_until: dt.datetime | None = None) -> Path:
    """Pin a partner agency's certificate in the trust store.

    With ``overlap_until`` (a rotation) the certificate pinned so far stays
    accepted beside the new one until that moment, so the partner can switch
    its signing key whenever it likes before then; earlier certificates whose
    overlap has not ended yet stay too. Running hubs pick the change up on
    their next look at the files (see :mod:`hub.truststore`).
    """
    from hub.truststore import Pinned, read_trust_file, trust_file_bytes

    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ConfigError(f"not a PEM certificate: {exc}") from exc
    if overlap_until is not None and not replace:
        raise ConfigError("--overlap-until is for a rotation: give --replace too")
    target = PkiPaths(root).agency_cert(agency)
    if target.exists() and not replace:
        raise ConfigError(f"{agency} already has a certificate; use --replace to rotate it")
    pinned = [Pinned(certificate)]
    if overlap_until is not None and target.exists():
        pinned += _overlapping(read_trust_file(target), certificate, _aware(overlap_until))
    write_new(target, trust_file_bytes(pinned))
    return target


def _overlapping(old: list, new: x509.Certificate, until: dt.datetime) -> list:
    """The earlier certificates still accepted beside ``new``: the current one until ``until``, the rest as they were."""
    from hub.truststore import Pinned

    now = dt.datetime.now(dt.timezone.utc)
    kept = [Pinned(old[0].certificate, until)] + [p for p in old[1:] if p.accepted_at(now)]
    return [p for p in kept if p.certificate != new]


def _aware(moment: dt.datetime) -> dt.datetime:
    """A date without a zone is UTC (the zone the trust file writes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
