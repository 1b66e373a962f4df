"""``rabt pki server`` / ``client``: the TLS certificates the reverse proxy and the agencies present."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.errors import ConfigError
from hub.pki import PkiPaths, init_pki, load_certificate
from hub.pki_tls import TlsPaths, issue_client_certificate, issue_server_certificate


@pytest.fixture
def pki(tmp_path):
    init_pki(tmp_path, ["police"])
    return tmp_path


def issued_by_ca(cert: x509.Certificate, root) -> bool:
    cert.verify_directly_issued_by(load_certificate(PkiPaths(root).ca_cert))  # raises when it is not
    return True


def purposes(cert: x509.Certificate) -> list:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_server_certificate_names_each_host_as_its_kind_and_serves_only_servers(pki):
    cert = load_certificate(issue_server_certificate(pki, ["localhost", "127.0.0.1"]))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert purposes(cert) == [ExtendedKeyUsageOID.SERVER_AUTH] and issued_by_ca(cert, pki)
    assert oct(TlsPaths(pki).server_key.stat().st_mode & 0o777) == "0o600"


def test_a_second_server_certificate_needs_replace(pki):
    first = issue_server_certificate(pki, ["localhost"]).read_bytes()
    with pytest.raises(ConfigError, match="--replace"):
        issue_server_certificate(pki, ["hub.example.om"])
    assert TlsPaths(pki).server_cert.read_bytes() == first
    assert issue_server_certificate(pki, ["hub.example.om"], replace=True).read_bytes() != first


@pytest.mark.parametrize("names", [[], ["bad name"], ["-leading.example"], ["x" * 300]])
def test_server_names_that_are_neither_host_nor_ip_are_refused(pki, names):
    with pytest.raises(ConfigError):
        issue_server_certificate(pki, names)
    assert not TlsPaths(pki).server_cert.exists()


def test_a_development_client_certificate_comes_with_its_key(pki):
    cert = load_certificate(issue_client_certificate(pki, "police"))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "police"
    assert purposes(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH] and issued_by_ca(cert, pki)
    assert TlsPaths(pki).client_key("police").exists()


def test_a_signing_request_is_signed_and_no_key_is_made_here(pki):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whatever")])).sign(key, hashes.SHA256()))
    cert = load_certificate(issue_client_certificate(pki, "commerce", csr_pem=csr.public_bytes(Encoding.PEM)))
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "commerce"  # not the CSR's name
    assert not TlsPaths(pki).client_key("commerce").exists()


def test_garbage_for_a_signing_request_is_a_config_error(pki):
    with pytest.raises(ConfigError, match="signing request"):
        issue_client_certificate(pki, "commerce", csr_pem=b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n")
    assert not TlsPaths(pki).client_cert("commerce").exists()


def test_without_a_ca_the_operator_is_told_to_run_init(tmp_path):
    with pytest.raises(ConfigError, match="rabt pki init"):
        issue_client_certificate(tmp_path, "police")
