"""TLS for the reverse proxy: its server certificate and each agency's client certificate.

The proxy (deploy/nginx) needs a server certificate, and each agency a client
certificate it presents on every call (mTLS). Both are issued by the
development CA of :mod:`hub.pki`, which the proxy trusts for client
certificates, and live apart from the signing identities (``<pki>/tls``):
rotating one never disturbs the other.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.errors import ConfigError
from hub.pki import (PkiPaths, cert_pem, check_party_name, key_pem, load_certificate, load_private_key,
                     new_private_key, write_new)

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
    write_new(tls.server_key, key_pem(key), private=True)
    write_new(tls.server_cert, cert_pem(cert))
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
        write_new(tls.client_key(agency), key_pem(key), private=True)
    write_new(tls.client_cert(agency), cert_pem(cert))
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
