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


def _write_new(path: Path, data: bytes, *, private: bool = False) -> None:
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
    _write_new(key_path, key_pem(key), private=True)
    _write_new(cert_path, cert_pem(cert))
    return True


def init_pki(root: Path, agencies: list[str], *, key_type: str = "rsa") -> list[str]:
    """Create what is missing; return the names of what was created (empty on a re-run)."""
    paths = PkiPaths(root)
    created = []
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        ca_key = new_private_key(key_type)
        ca_cert = issue_certificate("Rabt development CA", ca_key, None, None, is_ca=True, days=3650)
        _write_new(paths.ca_key, key_pem(ca_key), private=True)
        _write_new(paths.ca_cert, cert_pem(ca_cert))
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
    _write_new(target, trust_file_bytes(pinned))
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


# ------------------------------------------------------------------ TLS for the reverse proxy
# The proxy (deploy/nginx) needs a server certificate, and each agency a client
# certificate it presents on every call (mTLS). Both are issued by the CA above,
# which the proxy trusts for client certificates, and live apart from the
# signing identities: rotating one never disturbs the other.

TLS_SERVER_DAYS = 397  # the longest server-certificate life common TLS clients accept
TLS_CLIENT_DAYS = 730


@dataclass(frozen=True)
class TlsPaths:
    """Where the proxy's and the agencies' TLS certificates live (``<pki>/tls``)."""

    root: Path

    @property
    def server_cert(self) -> Path:
        return self.root / "tls" / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "tls" / "server.key"

    def client_cert(self, agency: str) -> Path:
        return self.root / "tls" / "clients" / f"{check_party_name(agency)}.pem"

    def client_key(self, agency: str) -> Path:
        return self.root / "tls" / "clients" / f"{check_party_name(agency)}.key"


def _subject_alternative_names(names: list[str]) -> x509.SubjectAlternativeName:
    """DNS names and IP addresses, each as the kind it is (a TLS client checks IPs as IPs)."""
    import ipaddress

    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", name):
                raise ConfigError(f"not a host name or IP address: {name!r}") from None
            entries.append(x509.DNSName(name.lower()))
    return x509.SubjectAlternativeName(entries)


def issue_tls_certificate(subject_cn: str, public_key, ca_cert, ca_key, *, server_names: list[str] | None = None,
                          days: int = TLS_CLIENT_DAYS) -> x509.Certificate:
    """A TLS certificate for ``public_key``: a server's when ``server_names`` are given, else a client's."""
    alternative_names = _subject_alternative_names(server_names) if server_names else None  # checked first
    not_before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "OM"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rabt"),
        x509.NameAttribute(NameOID.COMMON_NAME, subject_cn if len(subject_cn) <= 64 else subject_cn[:64]),
    ])
    purpose = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
            content_commitment=False, data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    )
    if alternative_names is not None:  # clients match the host against these, not the common name
        builder = builder.add_extension(alternative_names, critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _load_ca(root: Path):
    paths = PkiPaths(root)
    if not (paths.ca_cert.exists() and paths.ca_key.exists()):
        raise ConfigError(f"no CA in {root}: run `rabt pki init` first")
    return load_certificate(paths.ca_cert), load_private_key(paths.ca_key)


def _refuse_overwrite(path: Path, replace: bool, what: str) -> None:
    if path.exists() and not replace:
        raise ConfigError(f"{what} already exists at {path}; use --replace to renew it")


def issue_server_certificate(root: Path, names: list[str], *, key_type: str = "rsa",
                             replace: bool = False) -> Path:
    """The reverse proxy's key and certificate for ``names`` (DNS names, IPs); returns the certificate's path."""
    if not names:
        raise ConfigError("a server certificate needs at least one host name or IP address (--name)")
    tls = TlsPaths(root)
    _refuse_overwrite(tls.server_cert, replace, "a server certificate")
    ca_cert, ca_key = _load_ca(root)
    key = new_private_key(key_type)
    cert = issue_tls_certificate(names[0], key.public_key(), ca_cert, ca_key,
                                 server_names=names, days=TLS_SERVER_DAYS)
    _write_new(tls.server_key, key_pem(key), private=True)
    _write_new(tls.server_cert, cert_pem(cert))
    return tls.server_cert


def issue_client_certificate(root: Path, agency: str, *, csr_pem: bytes | None = None, key_type: str = "rsa",
                             replace: bool = False) -> Path:
    """An agency's TLS client certificate; returns its path.

    With ``csr_pem`` (production) the agency keeps its key and only the request
    is signed; without it (development) a key is made here for the simulator.
    """
    tls = TlsPaths(root)
    _refuse_overwrite(tls.client_cert(agency), replace, f"a client certificate for {agency}")
    ca_cert, ca_key = _load_ca(root)
    if csr_pem is None:
        key = new_private_key(key_type)
        public_key = key.public_key()
    else:
        public_key, key = _requested_key(csr_pem), None
    cert = issue_tls_certificate(agency, public_key, ca_cert, ca_key)
    if key is not None:
        _write_new(tls.client_key(agency), key_pem(key), private=True)
    _write_new(tls.client_cert(agency), cert_pem(cert))
    return tls.client_cert(agency)


def _requested_key(csr_pem: bytes):
    """The public key of a certificate signing request whose own signature holds."""
    try:
        request = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise ConfigError(f"not a PEM certificate signing request: {exc}") from exc
    if not request.is_signature_valid:
        raise ConfigError("the certificate signing request's signature does not verify")
    return request.public_key()
