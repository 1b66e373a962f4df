"""Per-field rights: a party receives only the canonical fields access.toml grants it, in what the hub signs."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.access import AccessRights
from hub.envelope import canonical_envelope, new_header, read_envelope
from hub.errors import ConfigError
from hub.mapping import Mappings
from hub.messagelog import open_message_log
from hub.pipeline import Pipeline
from hub.pipeline_types import Answer, Inbound
from hub.projection import Projection
from hub.signing import Signer, Verifier
from hub.transports.base import Message
from hub.xmlsafe import parse_xml
from tests.conftest import SAMPLES
from tests.unit.test_pipeline import ARRIVAL, FIXTURE_MAPPINGS, agency_signer

R = "{urn:rabt:canonical:v1}"
RECORD = SAMPLES / "canonical" / "WorkerRecord.xml"
GRANTED = ["NameAr", "NameEn", "CivilNumber", "Nationality", "Profession"]
#: values of the sample's fields the tests' party is not granted
WITHHELD_VALUES = (b"1187720", b"CL-2024-0001234", b"in-country")


def record() -> etree._Element:
    return parse_xml(RECORD.read_bytes())


def children(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def test_only_granted_fields_are_kept_and_the_original_is_untouched():
    original = record()
    projected = Projection.parse("municipality", "WorkerRecord", GRANTED).apply(original)
    assert children(projected.body) == GRANTED
    assert projected.withheld == ("Employer", "Licence", "Status", "AsOf")
    assert len(original) == 9, "the projection changed the caller's element"
    canonical.validate(projected.body)
    assert "withheld Employer, Licence, Status, AsOf" in projected.describe()


def test_a_path_keeps_its_containers_and_the_granted_element_whole():
    arrival = parse_xml((SAMPLES / "canonical" / "WorkerArrival.xml").read_bytes())
    projected = Projection.parse("stats", "WorkerArrival", ["Worker/Nationality", "PortOfEntry"]).apply(arrival)
    assert children(projected.body) == ["Worker", "PortOfEntry"]
    assert children(projected.body.find(f"{R}Worker")) == ["Nationality"]
    assert children(projected.body.find(f"{R}PortOfEntry")) == children(arrival.find(f"{R}PortOfEntry"))
    assert "Worker/PassportNumber" in projected.withheld and "Worker/Name" in projected.withheld
    assert b"<rabt:Name" not in etree.tostring(projected.body.find(f"{R}Worker"))


@pytest.mark.parametrize("fields, reason", [
    ('fields.WorkerRecord = []', "must be a non-empty list"),
    ('fields.WorkerRecord = "NameEn"', "must be a non-empty list"),
    ('fields.WorkerRecord = ["Name En"]', "is not an element name or a path"),
    ('fields.WorkerRecord = ["Worker//Name"]', "is not an element name or a path"),
    ('fields = ["NameEn"]', "fields must be a table"),
    # checked against the canonical XSD: a typo would otherwise send nothing, or everything
    ('fields.WorkerRecord = ["NameEn", "NameEnglish"]', "'NameEnglish' is not an element of WorkerRecord"),
    ('fields.WorkerRecord = ["NameEn/Given"]', "'NameEn/Given' is not an element of WorkerRecord"),
    ('fields.WorkerRecrd = ["NameEn"]', "fields.WorkerRecrd: 'WorkerRecrd' is not a canonical message type"),
    ('fields.WorkerArrival = ["Worker", "Passport", "VisaNumber", "PortOfEntry/Code", "ArrivedAt"]',
     "withholds PortOfEntry/Kind, which the canonical schema requires"),
])
def test_bad_field_rights_are_refused_naming_the_entry(tmp_path, fields, reason):
    path = tmp_path / "access.toml"
    path.write_text(f'[municipality]\nmay_send = ["WorkerRecordQuery"]\n{fields}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=reason) as raised:
        AccessRights.load(path)
    assert str(path) in raised.value.reason


def test_field_rights_are_read_per_party_and_type(tmp_path):
    path = tmp_path / "access.toml"
    path.write_text('[municipality]\nmay_send = ["WorkerRecordQuery"]\nfields.WorkerRecord = ["NameEn"]\n'
                    '[police]\nmay_send = ["WorkerArrival"]\n', encoding="utf-8")
    rights = AccessRights.load(path)
    assert rights.projection("municipality", "WorkerRecord").granted == ("NameEn",)
    assert rights.projection("police", "WorkerRecord") is None
    assert rights.projection("municipality", "WorkerArrival") is None
    assert rights("municipality", "WorkerRecordQuery") and not rights("municipality", "WorkerRecord")


def test_the_shipped_access_file_grants_the_municipality_no_employer():
    projection = AccessRights.load().projection("municipality", "WorkerRecord")
    assert projection is not None and "Employer" not in projection.granted and "NameEn" in projection.granted


def test_the_shipped_access_file_tells_the_fund_a_correction_without_passports_or_old_values():
    projection = AccessRights.load().projection("insurance", "WorkerDataCorrected")
    correction = parse_xml((SAMPLES / "canonical" / "WorkerDataCorrected.xml").read_bytes())
    projected = projection.apply(correction)
    canonical.validate(projected.body)
    sent = etree.tostring(projected.body)
    assert b"PassportNumber" not in sent and b"Before" not in sent and b"CorrectionId" in sent
    assert AccessRights.load().projection("police", "WorkerDataCorrected") is None


def test_the_canonical_schema_says_which_fields_exist_and_which_may_be_left_out():
    fields = canonical.message_fields("WorkerDataCorrected")
    assert fields["Correction/Before"] is True and fields["Correction/After"] is False
    assert fields["Previous/PassportNumber"] is True and fields["RequestedBy"] is False
    assert fields["Worker/PassportNumber"] is True, "an alternative of a choice is checked per message"
    assert "Worker/Name/Given" not in fields and "Envelope" not in fields
    with pytest.raises(ConfigError, match="not a canonical message type"):
        canonical.message_fields("Envelope")


# ------------------------------------------------------------------ through the pipeline


@pytest.fixture
def log(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        yield log


def pipeline_with(trust_store, log, rights: dict) -> Pipeline:
    return Pipeline(mappings=Mappings(FIXTURE_MAPPINGS), signer=Signer(trust_store.hub),
                    verifier=Verifier(trust_store), log=log, may_send=lambda agency, kind: True,
                    projections=lambda party, kind: rights.get((party, kind)))


def question(raw: bytes, **overrides) -> Inbound:
    fields = dict(agency="police", system="border", message_type="WorkerArrival", destination="licensing", raw=raw)
    return Inbound(**{**fields, **overrides})


def test_a_routed_message_is_signed_for_its_destination_without_withheld_fields(trust_store, log):
    projection = Projection.parse("licensing", "WorkerArrival", [
        "Worker/PassportNumber", "Worker/Name", "Worker/Nationality", "ArrivedAt", "VisaNumber", "PortOfEntry",
        "Passport"])
    pipeline = pipeline_with(trust_store, log, {("licensing", "WorkerArrival"): projection})
    receipt = pipeline.accept(question(ARRIVAL.encode()), parse_xml(ARRIVAL.encode()))
    (pending,) = log.unpublished()
    assert pending.message_id == receipt.message_id
    assert b"1991-03-14" not in pending.envelope and b"DateOfBirth" not in pending.envelope
    verified = Verifier(trust_store).verify(parse_xml(pending.envelope), expected_signer="hub")
    _, body = read_envelope(verified.element)
    assert body.findtext(f"{R}Worker/{R}Nationality") == "IND" and body.find(f"{R}Worker/{R}DateOfBirth") is None


def test_a_projection_leaving_an_invalid_message_is_refused_not_sent(trust_store, log):
    projection = Projection.parse("licensing", "WorkerArrival", ["Worker"])  # ArrivedAt etc. are required
    pipeline = pipeline_with(trust_store, log, {("licensing", "WorkerArrival"): projection})
    with pytest.raises(ConfigError, match="leaves an invalid message"):
        pipeline.accept(question(ARRIVAL.encode()), parse_xml(ARRIVAL.encode()))
    assert log.unpublished() == [] and log.stats().refused == 1


def licensing_answer(pki_dir, asked: Message) -> Message:
    """Licensing's whole WorkerRecord, signed by licensing, as the reply to ``asked``."""
    header, _ = read_envelope(parse_xml(asked.body))
    raw = RECORD.read_bytes()
    answer = header.reply_header(message_type="WorkerRecord", source_agency="licensing", source_system="licensing",
                                 raw_payload=raw)
    signed = agency_signer(pki_dir, "licensing").sign_bytes(parse_xml(canonical_envelope(answer, record())))
    return Message(body=signed, routing_key="", message_id=answer.message_id, correlation_id=header.correlation_id)


def ask(pipeline: Pipeline, raw: bytes, pki_dir) -> tuple[etree._Element, str]:
    """Ask through ``pipeline``; the body the hub would answer the asker from, and the question's id."""
    seen = {}

    def respond(body: etree._Element, question_id: str) -> Answer:
        seen.update(body=body, question_id=question_id)
        return Answer(etree.tostring(body), "GetWorkerRecordResponse")

    pipeline.ask(question(raw), parse_xml(raw), lambda asked: licensing_answer(pki_dir, asked),
                 reply_type="WorkerRecord", respond=respond)
    return seen["body"], seen["question_id"]


def test_an_answer_reaches_the_asker_projected_and_the_log_says_which_projection(trust_store, log, pki_dir):
    projection = Projection.parse("police", "WorkerRecord", GRANTED)
    pipeline = pipeline_with(trust_store, log, {("police", "WorkerRecord"): projection})
    raw = ARRIVAL.encode()
    body, question_id = ask(pipeline, raw, pki_dir)
    assert children(body) == GRANTED
    sent = etree.tostring(body)
    assert not any(value in sent for value in WITHHELD_VALUES)
    (answer,) = log.find(message_type="WorkerRecord")
    assert answer.correlation_id == log.get(question_id).correlation_id
    assert "projected" not in [e.status for e in log.events(answer.message_id)], "licensing's answer is kept whole"
    (ours,) = log.find(message_type="GetWorkerRecordResponse")
    assert ours.envelope == etree.tostring(body)
    projected = [e for e in log.events(ours.message_id) if e.status == "projected"]
    assert [e.detail for e in projected] == [
        "projection police/WorkerRecord: sent NameAr, NameEn, CivilNumber, Nationality, Profession; "
        "withheld Employer, Licence, Status, AsOf"]
    assert log.verify_chain().ok


def test_an_asker_with_no_field_rights_gets_the_whole_answer_and_no_projection_event(trust_store, log, pki_dir):
    pipeline = pipeline_with(trust_store, log, {})
    raw = ARRIVAL.encode()
    body, _ = ask(pipeline, raw, pki_dir)
    assert len(body) == 9
    for stored in log.find(correlation_id=log.find(message_type="WorkerRecord")[0].correlation_id):
        assert "projected" not in [e.status for e in log.events(stored.message_id)]


def test_field_rights_file_path_is_reported(tmp_path):
    missing = Path(tmp_path / "nowhere.toml")
    with pytest.raises(ConfigError, match="cannot read access rights"):
        AccessRights.load(missing)


def test_an_outbound_workers_answer_is_signed_projected_for_the_asker(trust_store, log, pki_dir, tmp_path):
    from hub.outbound.answers import Answerer
    from tests.integration.test_projection_routes import xmlsec1_verifies

    pipeline = pipeline_with(trust_store, log, {("licensing", "WorkerRecord"): Projection.parse(
        "licensing", "WorkerRecord", GRANTED)})
    query = new_header(message_type="WorkerRecordQuery", source_agency="licensing", source_system="licensing",
                       destination="police", raw_payload=b"")
    answerer = Answerer(agency="police", pipeline=pipeline, reply_window=60)
    answer = answerer.build(query, record(), b"<as-the-agency-sent-it/>", "registry")
    assert not any(value in answer.envelope for value in WITHHELD_VALUES)
    assert xmlsec1_verifies(pki_dir, tmp_path, answer.envelope)
    pipeline.answer(answer.record())
    (projected,) = [e.detail for e in log.events(answer.header.message_id) if e.status == "projected"]
    assert projected.startswith("projection licensing/WorkerRecord: sent NameAr") and "Employer" in projected
    assert log.verify_chain().ok
