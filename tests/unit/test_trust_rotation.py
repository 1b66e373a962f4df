"""Certificate rotation: the trust store follows its files, and an overlap keeps the old certificate a while."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal

import pytest
from cryptography import x509
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics
from hub.errors import CertificateError, ConfigError, SignatureError
from hub.pki import (PkiPaths, cert_pem, init_pki, issue_certificate, load_certificate, load_private_key,
                     new_private_key, register_agency_certificate)
from hub.signing import DS, Identity, Signer, TrustStore, Verifier
from hub.truststore import read_trust_file
from hub.xmlsafe import parse_xml

DOCUMENT = b'<p:Push xmlns:p="urn:test:push"><p:Civil>120339847</p:Civil></p:Push>'
FUTURE = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=14)
PAST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def pki(tmp_path):
    root = tmp_path / "pki"
    init_pki(root, ["police"])
    return root


def renewed(pki, name="police") -> tuple[Identity, bytes]:
    """A new key and certificate for ``name`` from the same CA, as a partner's renewal brings."""
    paths = PkiPaths(pki)
    key = new_private_key("ec")
    certificate = issue_certificate(name, key, load_certificate(paths.ca_cert), load_private_key(paths.ca_key))
    return Identity(name, key, certificate), cert_pem(certificate)


def original(pki, name="police") -> Identity:
    paths = PkiPaths(pki)
    return Identity(name, load_private_key(paths.agency_key(name)), load_certificate(paths.agency_cert(name)))


def signed_by(identity: Identity, *, key_info: bool = True) -> etree._Element:
    document = parse_xml(Signer(identity).sign_bytes(etree.fromstring(DOCUMENT)))
    if not key_info:
        signature = document.find(f"{{{DS}}}Signature")
        signature.remove(signature.find(f"{{{DS}}}KeyInfo"))
    return document


def test_a_registered_rotation_is_used_without_a_restart(pki):
    store = TrustStore.load(pki, check_interval=0)
    verifier, old = Verifier(store), original(pki)
    assert verifier.verify(signed_by(old), expected_signer="police").signer == "police"
    new, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True, overlap_until=FUTURE)
    for identity in (new, old):  # both, with and without the certificate in KeyInfo
        for key_info in (True, False):
            assert verifier.verify(signed_by(identity, key_info=key_info), expected_signer="police").signer == "police"
    assert verifier.verify(signed_by(new)).signer == "police"  # found by its certificate alone
    assert store.certificate_for("police") == new.certificate


def test_after_the_overlap_only_the_new_certificate_is_accepted(pki):
    verifier, old = Verifier(TrustStore.load(pki, check_interval=0)), original(pki)
    new, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True, overlap_until=PAST)
    assert verifier.verify(signed_by(new), expected_signer="police").signer == "police"
    with pytest.raises(CertificateError, match="not the one registered"):
        verifier.verify(signed_by(old), expected_signer="police")
    with pytest.raises(SignatureError):  # its RSA signature against the new EC key
        verifier.verify(signed_by(old, key_info=False), expected_signer="police")


def test_a_replace_without_overlap_drops_the_old_certificate_at_once(pki):
    verifier, old = Verifier(TrustStore.load(pki, check_interval=0)), original(pki)
    _, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True)
    assert len(read_trust_file(PkiPaths(pki).agency_cert("police"))) == 1
    with pytest.raises(CertificateError):
        verifier.verify(signed_by(old), expected_signer="police")


def test_the_files_are_looked_at_no_more_often_than_the_interval_unless_asked(pki):
    store = TrustStore.load(pki, check_interval=3600)
    new, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True)
    assert store.certificate_for("police") != new.certificate  # within the interval: what was loaded
    store.reload_on_sighup()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert store.certificate_for("police") == new.certificate
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def test_a_broken_trust_file_keeps_what_was_loaded(pki, caplog):
    store = TrustStore.load(pki, check_interval=0)
    before = store.certificate_for("police")
    PkiPaths(pki).agency_cert("police").write_bytes(b"-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    assert store.certificate_for("police") == before
    assert "trust store not reloaded" in caplog.text


def test_the_trust_file_stays_readable_by_single_certificate_readers(pki):
    new, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True, overlap_until=FUTURE)
    data = PkiPaths(pki).agency_cert("police").read_bytes()
    assert x509.load_pem_x509_certificate(data) == new.certificate  # the current one first
    entries = read_trust_file(PkiPaths(pki).agency_cert("police"))
    assert [e.accepted_until for e in entries] == [None, FUTURE.replace(microsecond=0)]


def test_a_second_rotation_keeps_an_overlap_still_running(pki):
    first, second = original(pki), renewed(pki)
    register_agency_certificate(pki, "police", second[1], replace=True, overlap_until=FUTURE)
    third = renewed(pki)
    register_agency_certificate(pki, "police", third[1], replace=True, overlap_until=FUTURE)
    store = TrustStore.load(pki)
    assert store.certificates_for("police") == [third[0].certificate, second[0].certificate, first.certificate]


def test_overlap_needs_replace_and_bad_dates_are_named(pki, tmp_path):
    _, pem = renewed(pki)
    with pytest.raises(ConfigError, match="--replace"):
        register_agency_certificate(pki, "police", pem, overlap_until=FUTURE)
    bad = tmp_path / "bad.pem"
    bad.write_bytes(pem + b"Accepted-Until: someday\n" + pem)
    with pytest.raises(ConfigError, match="not an ISO date"):
        read_trust_file(bad)


def test_the_expiry_gauge_shows_every_certificate_accepted_now(pki):
    old = original(pki)
    new, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True, overlap_until=FUTURE)
    store = TrustStore.load(pki)
    # this process's registry as such: an in-process ``rabt serve`` earlier in the run may have left its
    # children's metrics folder as the default exposition's source
    text = metrics.exposition(metrics.REGISTRY).decode()
    # read as a scraper reads it: the exposition writes floats as Go does (1.85967014e+09, no trailing zero)
    expiries = {(sample.labels["party"], sample.labels["serial"]): sample.value
                for family in text_string_to_metric_families(text)
                if family.name == "rabt_certificate_expiry_timestamp_seconds" for sample in family.samples}
    for certificate in (old.certificate, new.certificate):
        assert expiries[("police", f"{certificate.serial_number:x}")] == certificate.not_valid_after_utc.timestamp()
    assert store.parties == ["hub", "police"]


def test_the_pki_folder_can_be_copied_with_its_trust_files(pki, tmp_path):
    """A backup restored elsewhere (deploying.md) loads the same overlap."""
    _, pem = renewed(pki)
    register_agency_certificate(pki, "police", pem, replace=True, overlap_until=FUTURE)
    copy = shutil.copytree(pki, tmp_path / "restored")
    assert len(TrustStore.load(copy).certificates_for("police")) == 2
