"""Signing round trips, tampering, wrapping, unknown and expired signers."""

from __future__ import annotations

import copy
import datetime as dt
import time

import pytest
from lxml import etree
from signxml import XMLSigner

from hub.errors import CertificateError, SignatureError, UnknownSignerError
from hub.pki import PkiPaths, init_pki, issue_certificate, load_certificate, load_private_key, new_private_key
from hub.signing import DS, Identity, Signer, TrustStore, Verifier
from hub.xmlsafe import parse_xml

NS = "urn:rabt:canonical:v1"
DOCUMENT = f"""<rabt:Envelope xmlns:rabt="{NS}"><rabt:Header><rabt:MessageId>0f5c2a4e-1111-4c1d-9a55-0123456789ab</rabt:MessageId></rabt:Header><rabt:Body><rabt:WorkerArrival><rabt:Name xml:lang="ar">راجيش كومار</rabt:Name><rabt:Name xml:lang="en">Rajesh Kumar</rabt:Name><rabt:Amount>325.500</rabt:Amount></rabt:WorkerArrival></rabt:Body></rabt:Envelope>""".encode()


def party(pki_dir, name) -> Identity:
    paths = PkiPaths(pki_dir)
    return Identity(name, load_private_key(paths.agency_key(name)), load_certificate(paths.agency_cert(name)))


def fast(call):
    started = time.perf_counter()
    try:
        return call()
    finally:
        assert time.perf_counter() - started < 0.5


@pytest.fixture(scope="module")
def verifier(trust_store):
    return Verifier(trust_store)


@pytest.fixture(scope="module")
def signed(trust_store) -> bytes:
    return Signer(trust_store.hub).sign_bytes(etree.fromstring(DOCUMENT))


def test_round_trip_returns_only_the_signed_content(signed, verifier):
    given = parse_xml(signed)
    verified = verifier.verify(given, expected_signer="hub")
    assert verified.signer == "hub"
    assert verified.element is given  # consumed, not copied: a copy costs more than the rest of the check
    assert verified.element.find(f"{{{DS}}}Signature") is None
    assert verified.element.findtext(f".//{{{NS}}}Amount") == "325.500"


@pytest.mark.parametrize("tail", [None, "\n  "])
@pytest.mark.parametrize("where", ["last", "first", "middle"])
def test_a_digest_mismatch_leaves_the_document_as_it_came(signed, verifier, where, tail):
    document = parse_xml(signed.replace(b"325.500", b"325.501"))
    signature = document.find(f"{{{DS}}}Signature")
    if where == "first":  # no element before the signature: the text before it is what is merged and put back
        document.insert(0, signature)
    elif where == "middle":
        document.insert(1, signature)
    signature.tail = tail
    texts = [(node.text, node.tail) for node in document.iter()]
    before = etree.tostring(document, method="c14n")  # the same XML (lxml may move a redundant xmlns)
    with pytest.raises(SignatureError, match="digest mismatch"):
        verifier.verify(document, expected_signer="hub")
    assert etree.tostring(document, method="c14n") == before
    assert [(node.text, node.tail) for node in document.iter()] == texts
    assert document.index(signature) == {"first": 0, "middle": 1, "last": len(document) - 1}[where]


@pytest.mark.parametrize("tail", [None, "\n  "])
def test_the_text_after_the_signature_stays_where_it_was(trust_store, verifier, tail):
    document = etree.fromstring(DOCUMENT)
    document[0].tail = "between" + (tail or "")
    signed = Signer(trust_store.hub).sign(document)
    signed[0].addnext(signed[-1])  # the signature put inside the signed text, which it splits in two
    signed[0].tail, signed[1].tail = "between", tail
    verified = verifier.verify(parse_xml(etree.tostring(signed)), expected_signer="hub").element
    assert verified[0].tail == "between" + (tail or "") and verified.find(f"{{{DS}}}Signature") is None


def test_signer_is_identified_from_the_pinned_certificate(signed, verifier):
    assert verifier.verify(parse_xml(signed)).signer == "hub"


def test_signing_leaves_the_input_untouched(trust_store):
    document = etree.fromstring(DOCUMENT)
    Signer(trust_store.hub).sign(document)
    assert document.find(f"{{{DS}}}Signature") is None


def test_resigning_replaces_the_old_signature(trust_store, verifier):
    signer = Signer(trust_store.hub)
    twice = signer.sign(signer.sign(etree.fromstring(DOCUMENT)))
    assert len(twice.findall(f"{{{DS}}}Signature")) == 1
    assert verifier.verify(parse_xml(etree.tostring(twice))).signer == "hub"


def test_agency_signature_verifies_only_as_that_agency(pki_dir, verifier):
    signed = Signer(party(pki_dir, "police")).sign_bytes(etree.fromstring(DOCUMENT))
    assert verifier.verify(parse_xml(signed), expected_signer="police").signer == "police"
    with pytest.raises(CertificateError, match="not the one registered for 'commerce'"):
        verifier.verify(parse_xml(signed), expected_signer="commerce")


def test_ecdsa_signature_round_trip(tmp_path):
    init_pki(tmp_path, [], key_type="ec")
    store = TrustStore.load(tmp_path)
    signed = Signer(store.hub).sign_bytes(etree.fromstring(DOCUMENT))
    assert b"ecdsa-sha256" in signed
    assert Verifier(store).verify(parse_xml(signed)).signer == "hub"


@pytest.mark.parametrize("change", [
    (b"325.500", b"925.500"),
    (b"Rajesh", b"Rajash"),
])
def test_changed_body_is_refused(signed, verifier, change):
    with pytest.raises(SignatureError, match="digest mismatch"):
        fast(lambda: verifier.verify(parse_xml(signed.replace(*change)), expected_signer="hub"))


def test_changed_digest_value_is_refused(signed, verifier):
    document = parse_xml(signed)
    digest = document.find(f".//{{{DS}}}DigestValue")
    digest.text = ("A" if digest.text[0] != "A" else "B") + digest.text[1:]
    with pytest.raises(SignatureError, match="does not verify"):
        verifier.verify(document, expected_signer="hub")


def test_missing_signature_is_refused(verifier):
    with pytest.raises(SignatureError, match="not signed"):
        verifier.verify(parse_xml(DOCUMENT))


def test_wrapping_an_unsigned_body_beside_the_signed_one_is_refused(signed, verifier):
    document = parse_xml(signed)
    evil = etree.fromstring(f'<rabt:Body xmlns:rabt="{NS}"><rabt:WorkerArrival><rabt:Amount>1.000</rabt:Amount></rabt:WorkerArrival></rabt:Body>')
    document.insert(1, evil)
    with pytest.raises(SignatureError):
        fast(lambda: verifier.verify(document, expected_signer="hub"))


def test_moving_the_signed_envelope_under_an_evil_root_is_refused(signed, verifier):
    original = parse_xml(signed)
    signature = original.find(f"{{{DS}}}Signature")
    evil = etree.fromstring(f'<rabt:Envelope xmlns:rabt="{NS}"><rabt:Body><rabt:WorkerArrival/></rabt:Body></rabt:Envelope>')
    wrapper = etree.SubElement(evil, "Wrapper")
    original.remove(signature)
    wrapper.append(original)
    evil.append(signature)
    with pytest.raises(SignatureError):
        verifier.verify(evil, expected_signer="hub")


def test_signature_over_an_id_reference_is_refused(pki_dir, verifier):
    # A genuine signature by a trusted key, but over one element by Id: an
    # unsigned sibling could then be read by a careless consumer. Only
    # whole-document signatures are accepted.
    identity = party(pki_dir, "police")
    document = etree.fromstring(DOCUMENT)
    document.find(f"{{{NS}}}Body").set("Id", "body")
    signed = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#").sign(
        document, key=identity.key, cert=[identity.certificate], reference_uri="#body")
    body = signed.find(f"{{{NS}}}Body")
    signed.insert(signed.index(body), etree.fromstring(f'<rabt:Body xmlns:rabt="{NS}"><rabt:Evil/></rabt:Body>'))
    with pytest.raises(SignatureError, match='URI=""'):
        verifier.verify(parse_xml(etree.tostring(signed)), expected_signer="police")


def test_unknown_signer_is_refused(tmp_path, verifier):
    init_pki(tmp_path, ["stranger"])
    stranger = party(tmp_path, "stranger")
    signed = Signer(stranger).sign_bytes(etree.fromstring(DOCUMENT))
    with pytest.raises(UnknownSignerError, match="unregistered certificate"):
        fast(lambda: verifier.verify(parse_xml(signed)))
    with pytest.raises(UnknownSignerError, match="'stranger' is not in the trust store"):
        verifier.verify(parse_xml(signed), expected_signer="stranger")


def test_expired_certificate_is_refused(pki_dir, tmp_path):
    paths = PkiPaths(pki_dir)
    key = new_private_key()
    expired = issue_certificate(
        "old-agency", key, load_certificate(paths.ca_cert), load_private_key(paths.ca_key),
        not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30), days=10,
    )
    store = TrustStore(None, {"old-agency": expired})
    signed = Signer(Identity("old-agency", key, expired)).sign_bytes(etree.fromstring(DOCUMENT))
    with pytest.raises(CertificateError, match="expired"):
        fast(lambda: Verifier(store).verify(parse_xml(signed), expected_signer="old-agency"))


def test_keys_are_loaded_once(pki_dir, monkeypatch):
    store = TrustStore.load(pki_dir)
    signer = Signer(store.hub)
    import hub.pki
    monkeypatch.setattr(hub.pki, "load_private_key", lambda *_: pytest.fail("key reloaded per message"))
    for _ in range(3):
        signer.sign(copy.deepcopy(etree.fromstring(DOCUMENT)))
