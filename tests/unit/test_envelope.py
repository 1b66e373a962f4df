"""Envelopes built by the hub validate, sign, and read back field for field."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import time
import uuid

import pytest
from lxml import etree

from hub import canonical
from hub.envelope import (
    Header, build_envelope, canonical_envelope, canonical_envelope_of, new_header, new_message_id, payload_digest, read_envelope,
)
from hub.errors import SchemaError
from hub.signing import Signer, Verifier
from hub.xmlsafe import parse_xml
from tests.conftest import SAMPLES

RAW = "<ns:Arrival xmlns:ns='urn:om:rop:border'>…</ns:Arrival>".encode()


def sample(message_type: str) -> etree._Element:
    return etree.parse(str(SAMPLES / "canonical" / f"{message_type}.xml")).getroot()


@pytest.mark.parametrize("message_type", sorted(canonical.message_types()))
def test_every_message_type_travels_in_a_valid_signed_envelope(message_type, trust_store):
    header = new_header(message_type=message_type, source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW, source_message_id="ROP-1")
    envelope = build_envelope(header, sample(message_type))
    canonical.validate(envelope)
    signed = Signer(trust_store.hub).sign_bytes(envelope)
    verified = Verifier(trust_store).verify(parse_xml(signed), expected_signer="hub")
    canonical.validate(verified.element)
    read_header, body = read_envelope(verified.element)
    assert read_header == header
    assert etree.QName(body).localname == message_type


def test_header_carries_the_payload_digest_and_utc_times():
    received = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=4)))
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW, received_at=received)
    assert header.payload_digest == payload_digest(RAW) and len(header.payload_digest) == 64
    assert header.correlation_id == header.message_id
    envelope = build_envelope(header, sample("WorkerArrival"))
    assert envelope.findtext(f".//{{{canonical.NAMESPACE}}}ReceivedAt") == "2026-11-22T05:30:00.000Z"
    canonical.validate(envelope)


def test_message_ids_are_unique_time_ordered_uuids():
    before = time.time_ns() // 1_000_000
    first = [new_message_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_message_id()
    parsed = [uuid.UUID(mid) for mid in first]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert len(set(first)) == 1000 and all(str(u) == mid for u, mid in zip(parsed, first))
    assert before <= parsed[0].int >> 80 <= time.time_ns() // 1_000_000  # milliseconds since 1970 first
    assert max(first) < later  # a later millisecond sorts after, so log indexes grow at one end


def test_reply_keeps_the_correlation_and_goes_back_to_the_asker():
    query = new_header(message_type="IncomeQuery", source_agency="licensing", source_system="eservices",
                       destination="insurance", raw_payload=b"<q/>")
    reply = query.reply_header(message_type="IncomeRecord", source_agency="insurance",
                               source_system="social-insurance", raw_payload=b"<r/>")
    assert (reply.correlation_id, reply.destination) == (query.correlation_id, "licensing")
    assert reply.message_id != query.message_id


@pytest.mark.parametrize("wrap", [build_envelope, canonical_envelope])
def test_body_must_match_the_header_type(wrap):
    header = new_header(message_type="WorkerDeparture", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    with pytest.raises(SchemaError, match="does not match"):
        wrap(header, sample("WorkerArrival"))


def test_reading_refuses_a_lying_header():
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    envelope = build_envelope(header, sample("WorkerArrival"))
    envelope.find(f".//{{{canonical.NAMESPACE}}}MessageType").text = "VisaIssued"
    with pytest.raises(SchemaError, match="header says VisaIssued but the body holds WorkerArrival"):
        read_envelope(envelope)


def test_reading_refuses_two_messages_in_one_body():
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    envelope = build_envelope(header, sample("WorkerArrival"))
    envelope.find(f"{{{canonical.NAMESPACE}}}Body").append(sample("WorkerArrival"))
    with pytest.raises(SchemaError, match="holds 2 messages"):
        read_envelope(envelope)


def test_reading_takes_the_first_of_a_repeated_field_and_tells_an_empty_one_from_a_missing_one():
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW, source_message_id="ROP-1")
    envelope = build_envelope(header, sample("WorkerArrival"))
    head = envelope.find(f"{{{canonical.NAMESPACE}}}Header")
    second = etree.SubElement(head, f"{{{canonical.NAMESPACE}}}SourceAgency")
    second.text = "courts"
    head.insert(0, etree.Comment("not a field"))
    head.find(f"{{{canonical.NAMESPACE}}}SourceMessageId").text = None
    read = read_envelope(envelope)[0]
    assert read.source_agency == "police" and read.source_message_id == ""
    head.remove(head.find(f"{{{canonical.NAMESPACE}}}SourceMessageId"))
    assert read_envelope(envelope)[0].source_message_id is None
    head.remove(head.find(f"{{{canonical.NAMESPACE}}}Destination"))
    with pytest.raises(SchemaError, match="lacks Destination"):
        read_envelope(envelope)


def test_reading_takes_the_first_header_and_body_as_find_does_and_needs_both():
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    envelope = build_envelope(header, sample("WorkerArrival"))
    envelope.insert(0, etree.Comment("before the header"))
    later = copy.deepcopy(envelope.find(f"{{{canonical.NAMESPACE}}}Header"))
    later.find(f"{{{canonical.NAMESPACE}}}SourceAgency").text = "courts"
    envelope.append(later)
    envelope.append(etree.Element(f"{{{canonical.NAMESPACE}}}Body"))  # empty: read, it would hold no message
    read, body = read_envelope(envelope)
    assert read.source_agency == "police" and etree.QName(body).localname == "WorkerArrival"
    for name in ("Header", "Body"):
        for element in envelope.findall(f"{{{canonical.NAMESPACE}}}{name}"):
            envelope.remove(element)
        with pytest.raises(SchemaError, match="needs a Header and a Body"):
            read_envelope(envelope)


def tree_route(header, body) -> bytes:
    return etree.tostring(build_envelope(header, copy.deepcopy(body)), method="c14n", exclusive=True)


@pytest.mark.parametrize("message_type", sorted(canonical.message_types()))
def test_canonical_envelope_is_the_c14n_of_the_envelope_tree(message_type):
    header = new_header(message_type=message_type, source_agency="centralbank", source_system="wps",
                        destination="licensing", raw_payload=RAW,
                        source_message_id="a&b <c> \"d\" 'e'\r\nf", correlation_id="corr-1")
    body = sample(message_type)
    written = canonical_envelope(header, body)
    assert written == tree_route(header, body)
    assert body.getparent() is None  # the body was not moved into an envelope


@pytest.mark.parametrize("body_text", [
    # default namespace, another prefix, another namespace used on the root: the tree route, same bytes
    '<WorkerArrival xmlns="urn:rabt:canonical:v1"><x/></WorkerArrival>',
    '<c:WorkerArrival xmlns:c="urn:rabt:canonical:v1"><c:x/></c:WorkerArrival>',
    '<rabt:WorkerArrival xmlns:rabt="urn:rabt:canonical:v1" xmlns:a="urn:a" a:b="1"><rabt:x/></rabt:WorkerArrival>',
    '<rabt:WorkerArrival xmlns:rabt="urn:rabt:canonical:v1" z="2"><y xmlns="urn:y"/><rabt:x/></rabt:WorkerArrival>',
])
def test_canonical_envelope_of_unusual_bodies_matches_the_tree(body_text):
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    body = etree.fromstring(body_text)
    assert canonical_envelope(header, body) == tree_route(header, body)


@pytest.mark.parametrize("message_type", ["VisaEligibilityResult", "WorkerArrival", "SalaryBatch"])
def test_canonical_envelope_of_a_body_in_canonical_form_is_canonical_envelopes(message_type):
    header = new_header(message_type=message_type, source_agency="licensing", source_system="licensing",
                        destination="police", raw_payload=RAW, source_message_id="a&b <c>")
    body = sample(message_type)
    content = etree.tostring(body, method="c14n", exclusive=True)
    assert canonical_envelope_of(header, content) == canonical_envelope(header, body) == tree_route(header, body)


@pytest.mark.parametrize("content", [
    b'<rabt:WorkerDeparture xmlns:rabt="urn:rabt:canonical:v1"></rabt:WorkerDeparture>',  # not the header's type
    b'<WorkerArrival xmlns="urn:rabt:canonical:v1"></WorkerArrival>',  # not in the rabt prefix
    b'<?xml version="1.0"?>\n<rabt:WorkerArrival xmlns:rabt="urn:rabt:canonical:v1"></rabt:WorkerArrival>',
])
def test_canonical_envelope_of_refuses_a_body_not_in_the_form_it_vouches_for(content):
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW)
    with pytest.raises(SchemaError, match="exclusive C14N form"):
        canonical_envelope_of(header, content)


def test_a_canonically_written_envelope_verifies_and_reads_back(trust_store):
    header = new_header(message_type="SalaryBatch", source_agency="centralbank", source_system="wps",
                        destination="licensing", raw_payload=RAW, source_message_id="x&y")
    signed = Signer(trust_store.hub).sign_canonical(canonical_envelope(header, sample("SalaryBatch")))
    verified = Verifier(trust_store).verify(parse_xml(signed), expected_signer="hub")
    canonical.validate(verified.element)
    assert read_envelope(verified.element)[0] == header


def test_the_digest_given_with_a_signature_is_that_of_the_signed_document(trust_store):
    import hashlib

    header = new_header(message_type="SalaryBatch", source_agency="centralbank", source_system="wps",
                        destination="licensing", raw_payload=RAW)
    signed, digest = Signer(trust_store.hub).sign_canonical_digested(canonical_envelope(header, sample("SalaryBatch")))
    assert digest == hashlib.sha256(signed).hexdigest()
    verified = Verifier(trust_store).verify(parse_xml(signed), expected_signer="hub")
    assert read_envelope(verified.element)[0] == header


def test_canonical_envelope_refuses_a_header_value_xml_cannot_carry():
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW, source_message_id="ROP\x01-1")
    with pytest.raises(ValueError):
        build_envelope(header, sample("WorkerArrival"))  # the tree route refuses it too
    with pytest.raises(SchemaError, match="U\\+0001"):
        canonical_envelope(header, sample("WorkerArrival"))


@pytest.mark.parametrize("received_at", [
    dt.datetime(2026, 3, 1, 8, 30, 0, 125000, tzinfo=dt.timezone.utc),  # another moment than CreatedAt
    None,  # the same moment: new_header takes CreatedAt's
])
def test_canonical_envelope_writes_each_time_of_the_header(received_at):
    created_at = dt.datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=4)))  # 08:00:00.500Z
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=RAW, received_at=received_at, now=created_at)
    written = canonical_envelope(header, sample("WorkerArrival"))
    assert written == tree_route(header, sample("WorkerArrival"))
    assert b"<rabt:CreatedAt>2026-03-01T08:00:00.500Z</rabt:CreatedAt>" in written
    expected = b"08:30:00.125Z" if received_at is not None else b"08:00:00.500Z"
    assert b"<rabt:ReceivedAt>2026-03-01T" + expected + b"</rabt:ReceivedAt>" in written


def test_headers_made_and_read_are_the_dataclass_itself_with_every_field():
    # new_header and read_envelope fill a Header's dict without its __init__: every field, nothing else
    made = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                      destination="licensing", raw_payload=RAW, source_message_id="ROP-1")
    read = read_envelope(build_envelope(made, sample("WorkerArrival")))[0]
    names = [field.name for field in dataclasses.fields(Header)]
    for header in (made, read):
        assert sorted(vars(header)) == sorted(names)
        assert header == Header(**{name: getattr(header, name) for name in names})
        assert hash(header) == hash(Header(**vars(header)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            header.message_id = "changed"
    assert read == made
