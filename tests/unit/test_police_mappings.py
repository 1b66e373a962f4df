"""Police dialect ↔ canonical: the mappings under ``mappings/police/`` on the agency samples."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from adapters.police import ADAPTER
from hub import canonical
from hub.errors import MappingError
from hub.contracts import AgencyContracts
from hub.gateway.inbound import receipt_document
from hub.mapping import Mappings
from hub.pipeline_types import Receipt
from simulators.police.client import police_signer

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BDR, VISA, R = "{urn:om:rop:border:2020}", "{urn:om:rop:visa:2021}", "{urn:rabt:canonical:v1}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MUSCAT = timezone(timedelta(hours=4))
#: operation → canonical type, as the adapter declares them
OPERATIONS = {op.operation: op.message_type for op in ADAPTER.inbound}


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return Mappings()


def police_sample(operation: str, **changes: str) -> etree._Element:
    """An agency sample; ``changes`` set (or, with None, remove) child elements by path."""
    root = etree.parse(str(SAMPLES / "police" / f"{operation}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    ns = root.nsmap[root.prefix]
    for path, value in changes.items():
        node = root.find("/".join(f"{{{ns}}}{step}" for step in path.split("__")))
        if value is None:
            node.getparent().remove(node)
        else:
            node.text = value
    return root


def canonical_of(mappings: Mappings, operation: str, **changes: str) -> etree._Element:
    body = mappings.transform("police", OPERATIONS[operation], police_sample(operation, **changes))
    canonical.validate(body)
    return body


def text(element: etree._Element, path: str) -> str | None:
    return element.findtext("/".join(R + step for step in path.split("/")))


def names(person: etree._Element) -> dict[str, str]:
    return {name.get(XML_LANG): name.text for name in person.findall(R + "Name")}


# ------------------------------------------------------------ each sample


def test_arrival_sample(mappings):
    body = canonical_of(mappings, "NotifyArrival")
    assert body.tag == R + "WorkerArrival"
    worker = body.find(R + "Worker")
    assert worker.find(R + "CivilNumber") is None  # first entry: no resident card yet
    assert text(worker, "PassportNumber") == "T4827361"
    assert names(worker) == {"en": "Rajesh Kumar Nair", "ar": "راجيش كومار ناير"}
    assert (text(worker, "Nationality"), text(worker, "DateOfBirth"), text(worker, "Gender")) == ("IND", "1991-03-14", "male")
    assert [text(body, f"Passport/{f}") for f in ("Number", "IssuingCountry", "ExpiryDate")] == ["T4827361", "IND", "2031-07-22"]
    assert text(body, "VisaNumber") == "EV-2024-0583317"
    assert [text(body, f"PortOfEntry/{f}") for f in ("Code", "Kind", "Name")] == ["MCT", "airport", "Muscat International Airport"]
    assert text(body, "FlightNumber") == "WY204"  # keyed "WY 204" at the border
    assert text(body, "ArrivedAt") == "2024-05-12T03:41:07Z"  # 07:41:07 in Muscat
    assert text(body, "EmployerCR") == "1093456"


def test_departure_sample_rolls_back_to_the_previous_utc_day(mappings):
    body = canonical_of(mappings, "NotifyDeparture")
    worker = body.find(R + "Worker")
    assert (text(worker, "CivilNumber"), text(worker, "PassportNumber")) == ("118457203", "EF0934512")
    assert names(worker) == {"en": "Mohammad Abdul Karim", "ar": "محمد عبد الكريم"}
    assert text(body, "DepartedAt") == "2024-06-03T21:15:40Z"  # 01:15:40 on 4 June in Muscat
    assert text(body, "DepartureKind") == "final"
    assert (text(body, "ResidenceCardNumber"), text(body, "EmployerCR")) == ("118457203", "1187720")


def test_departure_on_leave_through_a_land_border(mappings):
    body = canonical_of(mappings, "NotifyDeparture", FinalExit="false", ExitPort__PortCode="WJJ",
                        ExitPort__PortType="L", ExitPort__PortNameEn=None, FlightNo=None)
    assert text(body, "DepartureKind") == "temporary"
    assert [text(body, f"PortOfExit/{f}") for f in ("Code", "Kind", "Name")] == ["WJJ", "land", None]
    assert body.find(R + "FlightNumber") is None


def test_renewal_sample(mappings):
    body = canonical_of(mappings, "NotifyResidenceRenewal")
    assert names(body.find(R + "Worker")) == {"en": "Imran Khan Afridi", "ar": "عمران خان آفريدي"}
    assert [text(body, f"ResidenceCard/{f}") for f in ("Number", "IssueDate", "ExpiryDate")] == [
        "120339847", "2024-04-28", "2026-04-27"]
    assert (text(body, "PreviousExpiryDate"), text(body, "EmployerCR")) == ("2024-05-02", "1254903")
    assert (text(body, "Profession/Code"), text(body, "Profession/Title")) == ("711201", "Mason")
    assert text(body, "RenewedAt") == "2024-04-28T06:22:13Z"


def test_visa_check_sample_reads_the_licence_type_from_the_number(mappings):
    body = canonical_of(mappings, "CheckVisaEligibility")
    assert [text(body, f) for f in ("LicenceNumber", "LicenceType", "ProfessionCode", "WorkerNationality",
                                    "WorkerPassportNumber")] == ["PL-2024-0046671", "private", "911101", "PHL", "P6621904B"]
    commercial = canonical_of(mappings, "CheckVisaEligibility", LicenceNo="CL-2024-118204", PassportNo=None)
    assert text(commercial, "LicenceType") == "commercial"
    assert commercial.find(R + "WorkerPassportNumber") is None


def test_visa_issued_sample(mappings):
    body = canonical_of(mappings, "ReportVisaIssued")
    assert [text(body, f) for f in ("VisaNumber", "LicenceNumber", "LicenceType", "ValidUntil")] == [
        "EV-2024-0601942", "PL-2024-0046671", "private", "2024-08-19"]
    worker = body.find(R + "Worker")
    assert names(worker) == {"en": "Maria Theresa Santos Reyes"}  # the visa desk sends no Arabic name
    assert (text(worker, "Nationality"), text(worker, "Gender")) == ("PHL", "female")
    assert text(body, "Profession/Code") == "911101"
    assert text(body, "IssuedAt") == "2024-05-21T09:12:44Z"  # written 13:12:44+04:00


def test_arrival_without_arabic_name_or_sponsor(mappings):
    body = canonical_of(mappings, "NotifyArrival", Traveller__FullNameAr=None, SponsorCRNo=None, Traveller__GenderCode="F")
    worker = body.find(R + "Worker")
    assert names(worker) == {"en": "Rajesh Kumar Nair"}
    assert text(worker, "Gender") == "female"
    assert body.find(R + "EmployerCR") is None


# ------------------------------------------------------------ time zones


@pytest.mark.parametrize(("local", "utc"), [
    ("2024-05-12T07:41:07", "2024-05-12T03:41:07Z"),
    ("2024-01-01T04:00:00", "2024-01-01T00:00:00Z"),
    ("2024-01-01T03:59:59", "2023-12-31T23:59:59Z"),  # year roll-over
    ("2024-03-01T02:00:00", "2024-02-29T22:00:00Z"),  # leap day
    ("2023-03-01T02:00:00", "2023-02-28T22:00:00Z"),
    ("2100-03-01T00:30:00", "2100-02-28T20:30:00Z"),  # century, not a leap year
    ("2000-03-01T00:30:00", "2000-02-29T20:30:00Z"),  # 400th year, a leap year
    ("2024-10-01T00:00:00", "2024-09-30T20:00:00Z"),  # 30-day month
])
def test_border_times_are_muscat_local_time(mappings, local, utc):
    assert text(canonical_of(mappings, "NotifyArrival", EntryDateTime=local), "ArrivedAt") == utc


@pytest.mark.parametrize(("written", "utc"), [
    ("2024-05-21T13:12:44", "2024-05-21T09:12:44Z"),  # no zone: Muscat
    ("2024-05-21T09:12:44Z", "2024-05-21T09:12:44Z"),
    ("2024-12-31T22:30:00-03:00", "2025-01-01T01:30:00Z"),  # forward roll-over
    ("2024-05-21T09:12:44.250+05:30", "2024-05-21T03:42:44.250Z"),
    ("2024-05-21T24:00:00+04:00", "2024-05-21T20:00:00Z"),  # xs:dateTime allows 24:00:00
])
def test_visa_times_honour_a_written_offset(mappings, written, utc):
    assert text(canonical_of(mappings, "ReportVisaIssued", IssueDateTime=written), "IssuedAt") == utc


def test_time_conversion_agrees_with_python_over_many_instants(mappings):
    draw = random.Random(2026)
    start = datetime(1999, 1, 1, tzinfo=timezone.utc)
    for _ in range(150):
        moment = start + timedelta(seconds=draw.randrange(120 * 365 * 86400))
        local = moment.astimezone(MUSCAT).strftime("%Y-%m-%dT%H:%M:%S")
        expected = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert text(canonical_of(mappings, "NotifyArrival", EntryDateTime=local), "ArrivedAt") == expected, local


# ------------------------------------------------------------ refusals


@pytest.mark.parametrize(("operation", "changes", "reason"), [
    ("CheckVisaEligibility", {"LicenceNo": "XL-2024-1"}, "LicenceNo 'XL-2024-1' is not a labour licence number"),
    ("ReportVisaIssued", {"IssueDateTime": "21/05/2024 13:12"}, "time '21/05/2024 13:12' is not YYYY-MM-DD"),
    ("NotifyArrival", {"Traveller__GenderCode": "X"}, "GenderCode 'X' is neither M nor F"),
    ("NotifyArrival", {"EntryPort__PortType": "R"}, "PortType 'R' is not A, S or L"),
])
def test_input_a_mapping_cannot_read_is_refused_with_the_reason(mappings, operation, changes, reason):
    with pytest.raises(MappingError, match=reason):
        mappings.transform("police", OPERATIONS[operation], police_sample(operation, **changes))


def test_a_mapping_given_the_wrong_document_names_it(mappings):
    with pytest.raises(MappingError, match="expected bdr:NotifyArrival, got visa:ReportVisaIssued"):
        mappings.transform("police", "WorkerArrival", police_sample("ReportVisaIssued"))


# ------------------------------------------------------------ answers to the police


@pytest.fixture(scope="module")
def contracts() -> AgencyContracts:
    return AgencyContracts(ADAPTER.schema_dir, "police")


@pytest.mark.parametrize(("mapping", "tag"), [("NotificationReceipt", BDR), ("VisaReportReceipt", VISA)])
def test_receipts_in_police_terms(mappings, contracts, mapping, tag):
    document = receipt_document("NotifyArrival", Receipt("3f1c0d7e-0000-4000-8000-000000000001", duplicate=True),
                                "ROP-ARR-20240512-000417")
    answer = mappings.transform("police", mapping, document, source_message_id="ROP-ARR-20240512-000417",
                                hub_message_id="3f1c0d7e-0000-4000-8000-000000000001")
    contracts.validate(answer)
    assert answer.tag == f"{tag}{mapping}"
    assert [answer.findtext(tag + f) for f in ("MsgId", "HubMessageId", "Duplicate")] == [
        "ROP-ARR-20240512-000417", "3f1c0d7e-0000-4000-8000-000000000001", "true"]
    assert answer.findtext(tag + "ReceivedAt").endswith("Z")


def test_visa_verdict_in_police_terms(mappings, contracts):
    result = etree.parse(str(SAMPLES / "canonical" / "VisaEligibilityResult.xml")).getroot()
    answer = mappings.transform("police", "CheckVisaEligibilityResponse", result,
                                source_message_id="ROP-VCK-20240521-000731", hub_message_id="hub-1")
    contracts.validate(answer)
    assert [answer.findtext(VISA + f) for f in ("MsgId", "HubMessageId", "LicenceNo", "EligibleFlag", "ReasonCode",
                                                "RemainingVacancies")] == [
        "ROP-VCK-20240521-000731", "hub-1", "PL-2024-0046671", "Y", "vacancy-available", "1"]
    assert answer.findtext(VISA + "ReasonText").startswith("Licence valid until 2025-05-19")  # the English text


def test_visa_refusal_in_police_terms(mappings, contracts):
    result = etree.parse(str(SAMPLES / "canonical" / "VisaEligibilityResult.xml")).getroot()
    result.find(R + "Eligible").text = "false"
    result.find(R + "Reason/" + R + "Code").text = "no-vacancy"
    for node in result.findall(R + "Reason/" + R + "Text") + result.findall(R + "RemainingVacancies"):
        node.getparent().remove(node)
    answer = mappings.transform("police", "CheckVisaEligibilityResponse", result,
                                source_message_id="ROP-VCK-20240521-000731", hub_message_id="hub-2")
    contracts.validate(answer)
    assert (answer.findtext(VISA + "EligibleFlag"), answer.findtext(VISA + "ReasonCode")) == ("N", "no-vacancy")
    assert answer.find(VISA + "ReasonText") is None and answer.find(VISA + "RemainingVacancies") is None


# ------------------------------------------------------------ declarations


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_samples_keep_the_police_contract_once_signed(contracts, pki_dir, operation):
    signed = police_signer(pki_dir)(police_sample(operation))
    contracts.validate(signed)


def test_the_adapter_declares_every_gateway_operation_with_its_mappings(mappings):
    wsdl = etree.parse(str(ADAPTER.schema_dir / ADAPTER.gateway_wsdl))
    offered = set(wsdl.xpath("//wsdl:portType/wsdl:operation/@name",
                             namespaces={"wsdl": "http://schemas.xmlsoap.org/wsdl/"}))
    assert offered == set(OPERATIONS)
    for op in ADAPTER.inbound:
        assert mappings.has("police", op.message_type) and mappings.has("police", op.response_mapping)
    fault_part = wsdl.getroot().find("{http://schemas.xmlsoap.org/wsdl/}message[@name='ServiceErrorFault']/{*}part")
    prefix, local = fault_part.get("element").split(":")
    assert (fault_part.nsmap[prefix], local) == (ADAPTER.fault_namespace, "ServiceError")


def test_the_receipt_document_names_both_ids_the_second_and_a_repeat_each_its_own_tree():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    first = receipt_document("NotifyArrival", Receipt("3f1c0d7e-0000-4000-8000-000000000001"), "ROP-1")
    repeat = receipt_document("NotifyDeparture", Receipt("3f1c0d7e-0000-4000-8000-000000000002", duplicate=True), None)
    after = datetime.now(timezone.utc)
    r = "{urn:rabt:gateway:receipt}"
    assert first.tag == f"{r}Receipt" and first.nsmap == {None: "urn:rabt:gateway:receipt"}
    assert [first.get("operation"), repeat.get("operation")] == ["NotifyArrival", "NotifyDeparture"]
    fields = ["SourceMessageId", "HubMessageId", "ReceivedAt", "Duplicate"]
    assert [c.tag for c in first] == [c.tag for c in repeat] == [r + f for f in fields]
    assert [first.findtext(r + f) for f in ("SourceMessageId", "HubMessageId", "Duplicate")] == [
        "ROP-1", "3f1c0d7e-0000-4000-8000-000000000001", "false"]
    assert [repeat.findtext(r + f) for f in ("SourceMessageId", "HubMessageId", "Duplicate")] == [
        "", "3f1c0d7e-0000-4000-8000-000000000002", "true"]
    stamped = datetime.strptime(first.findtext(f"{r}ReceivedAt"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= stamped <= after
    # built in another thread too, and never sharing a node with another receipt
    built = []
    thread = threading.Thread(target=lambda: built.append(receipt_document("NotifyArrival", Receipt("x"), "ROP-2")))
    thread.start()
    thread.join()
    assert [built[0].findtext(r + "SourceMessageId"), first.findtext(r + "SourceMessageId")] == ["ROP-2", "ROP-1"]
