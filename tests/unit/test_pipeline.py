"""The inbound pipeline: verify, access, map, validate, envelope, sign, log."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub.envelope import payload_digest, read_envelope
from hub.errors import AccessDeniedError, MappingError, SchemaError, SignatureError
from hub.mapping import Mappings
from hub.messagelog import open_message_log
from hub.pipeline import Pipeline
from hub.pipeline_types import Inbound
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.signing import Identity, Signer, Verifier
from hub.xmlsafe import parse_xml

FIXTURE_MAPPINGS = Path(__file__).parents[1] / "fixtures" / "mappings"
ARRIVAL = """<b:Arrival xmlns:b="urn:test:border"><b:Passport>T4827361</b:Passport>
<b:NameEn>Rajesh Kumar Nair</b:NameEn><b:NameAr>راجيش كومار ناير</b:NameAr>
<b:Nationality>IND</b:Nationality><b:Born>1991-03-14</b:Born><b:At>2026-11-22T03:41:07Z</b:At></b:Arrival>"""


@pytest.fixture
def log(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        yield log


@pytest.fixture
def pipeline(trust_store, log):
    return Pipeline(mappings=Mappings(FIXTURE_MAPPINGS), signer=Signer(trust_store.hub),
                    verifier=Verifier(trust_store), log=log,
                    may_send=lambda agency, message_type: (agency, message_type) == ("police", "WorkerArrival"))


def agency_signer(pki_dir, name: str = "police") -> Signer:
    paths = PkiPaths(pki_dir)
    return Signer(Identity(name, load_private_key(paths.agency_key(name)), load_certificate(paths.agency_cert(name))))


def inbound(raw: bytes, **overrides) -> Inbound:
    fields = dict(agency="police", system="border", message_type="WorkerArrival", destination="licensing",
                  raw=raw, source_message_id="ROP-1")
    return Inbound(**{**fields, **overrides})


def test_accepted_document_is_logged_signed_and_valid(pipeline, log, trust_store):
    raw = ARRIVAL.encode()
    receipt = pipeline.accept(inbound(raw), parse_xml(raw))
    stored = log.get(receipt.message_id)
    assert stored.raw == raw
    verified = Verifier(trust_store).verify(parse_xml(stored.envelope), expected_signer="hub")
    header, body = read_envelope(verified.element)
    assert (header.message_id, header.source_agency, header.destination) == (receipt.message_id, "police", "licensing")
    assert header.payload_digest == payload_digest(raw)
    assert body.findtext(".//{urn:rabt:canonical:v1}PassportNumber") == "T4827361"
    assert [m.message_id for m in log.unpublished()] == [receipt.message_id]


def test_a_payload_digest_the_caller_took_is_not_taken_again(pipeline, log, monkeypatch):
    raw = ARRIVAL.encode()
    hashed = []
    monkeypatch.setattr("hub.messagelog.records.sha256_hex", lambda data: hashed.append(data) or "0" * 64)
    monkeypatch.setattr("hub.envelope.payload_digest", lambda data: hashed.append(data) or "0" * 64)
    receipt = pipeline.accept(inbound(raw, raw_sha256=payload_digest(raw)), parse_xml(raw))
    assert raw not in hashed  # only the envelope was hashed by the log
    stored = log.get(receipt.message_id)
    header, _ = read_envelope(parse_xml(stored.envelope))
    assert stored.raw_sha256 == header.payload_digest == payload_digest(raw)


def test_the_envelope_digest_the_signer_took_is_the_one_the_log_keeps(pipeline, log, monkeypatch):
    import hashlib

    raw = ARRIVAL.encode()
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr("hub.messagelog.accepting.sha256_hex", lambda data: hashed.append(data) or real(data).hexdigest())
    receipt = pipeline.accept(inbound(raw), parse_xml(raw))
    stored = log.get(receipt.message_id)
    assert stored.envelope not in hashed  # not hashed a second time by the log
    assert stored.envelope_sha256 == real(stored.envelope).hexdigest()
    assert log.verify_chain().ok  # the chain's digest of the envelope matches the bytes stored


def test_same_agency_message_twice_returns_the_first_receipt(pipeline, log):
    raw = ARRIVAL.encode()
    first = pipeline.accept(inbound(raw), parse_xml(raw))
    again = pipeline.accept(inbound(raw), parse_xml(raw))
    assert again.message_id == first.message_id and again.duplicate
    assert len(log.unpublished()) == 1


def test_signed_payload_inside_a_soap_body_is_verified_against_the_agency(pipeline, log, pki_dir):
    signed = agency_signer(pki_dir).sign_bytes(parse_xml(ARRIVAL.encode()))
    soap = (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>" + signed
            + b"</s:Body></s:Envelope>")
    receipt = pipeline.accept(inbound(soap, require_signature=True), parse_xml(soap)[0][0])
    assert log.get(receipt.message_id).raw == soap

    tampered = soap.replace(b"T4827361", b"T4827362")
    with pytest.raises(SignatureError, match="digest mismatch"):
        pipeline.accept(inbound(tampered, source_message_id="ROP-2"), parse_xml(tampered)[0][0])


def test_signature_of_another_agency_or_none_is_refused(pipeline, pki_dir):
    by_commerce = agency_signer(pki_dir, "commerce").sign_bytes(parse_xml(ARRIVAL.encode()))
    with pytest.raises(SignatureError, match="not the one registered for 'police'"):
        pipeline.accept(inbound(by_commerce), parse_xml(by_commerce))
    with pytest.raises(SignatureError, match="police must sign WorkerArrival"):
        pipeline.accept(inbound(ARRIVAL.encode(), require_signature=True), parse_xml(ARRIVAL.encode()))


def test_refusals_name_the_stage_and_are_kept(pipeline, log):
    with pytest.raises(AccessDeniedError, match="may not send VisaIssued"):
        pipeline.accept(inbound(b"<x/>", message_type="VisaIssued"), parse_xml(b"<x/>"))
    no_passport = ARRIVAL.replace("<b:Passport>T4827361</b:Passport>", "").encode()
    with pytest.raises(MappingError, match="no Passport"):
        pipeline.accept(inbound(no_passport), parse_xml(no_passport))
    bad_nationality = ARRIVAL.replace(">IND<", ">India<").encode()
    with pytest.raises(SchemaError, match="Nationality"):
        pipeline.accept(inbound(bad_nationality), parse_xml(bad_nationality))
    reasons = [r.reason for r in log.refusals("police")]
    assert len(reasons) == 3 and any(r.startswith("mapping:") for r in reasons)
    assert log.unpublished() == []


def test_accepted_and_refused_input_is_counted_in_metrics(pipeline):
    from hub.metrics import REGISTRY

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    received = value("rabt_messages_received_total", agency="police", message_type="WorkerArrival")
    refused = value("rabt_messages_refused_total", agency="police", code="not-allowed")
    raw = ARRIVAL.encode()
    pipeline.accept(inbound(raw, source_message_id="ROP-metrics"), parse_xml(raw))
    with pytest.raises(AccessDeniedError):
        pipeline.accept(inbound(b"<x/>", message_type="VisaIssued"), parse_xml(b"<x/>"))
    assert value("rabt_messages_received_total", agency="police", message_type="WorkerArrival") == received + 1
    assert value("rabt_messages_refused_total", agency="police", code="not-allowed") == refused + 1
