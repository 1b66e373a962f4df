"""The outbound mappings on real agency documents: the simulators' own answers and canonical samples."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.adapter import AGENCY_SCHEMAS
from hub.errors import MappingError
from hub.contracts import AgencyContracts
from hub.mapping import Mappings
from hub.outbound.answers import fault_document
from hub.outbound.client import AgencySoapFault
from hub.outbound.asking import SKIP
from simulators.commerce.app import membership_handler, registration_handler
from hub.soap import SoapFault
from simulators.courts import batches
from simulators.courts.app import NS as LC
from simulators.courts.app import Docket, case_status_handler, first_referral_number
from simulators.insurance.app import income_proof_handler
from simulators.police.app import marital_status_handler
from simulators.population import Population, PopulationSpec

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R = "urn:rabt:canonical:v1"
NOW = "2026-05-20T08:00:00.000Z"
MAPPINGS = Mappings()
POPULATION = Population(PopulationSpec(as_of=date(2026, 5, 20)))


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml"), etree.XMLParser(remove_comments=True)).getroot()


def text(element, path):
    return element.findtext("/".join(f"{{{R}}}{step}" for step in path.split("/")))


def request(namespace: str, operation: str, field: str, value: str) -> etree._Element:
    element = etree.Element(f"{{{namespace}}}{operation}")
    etree.SubElement(element, f"{{{namespace}}}{field}").text = value
    return element


def roundtrip(agency: str, query: etree._Element, handler, reply_type: str, **params) -> etree._Element:
    """query → agency request (checked against the contract) → simulator answer → canonical."""
    contracts = AgencyContracts(AGENCY_SCHEMAS / agency, agency)
    agency_request = MAPPINGS.transform(agency, etree.QName(query).localname, query, now=NOW, **params)
    contracts.validate(agency_request)
    answer = handler(agency_request)
    contracts.validate(answer)
    body = MAPPINGS.transform(agency, reply_type, answer, now=NOW, **params)
    canonical.validate(body)
    return body


def test_civil_registry_answer_to_canonical():
    citizen = POPULATION.find_citizen(marital_status="married")
    query = sample("CivilStatusQuery")
    query.find(f"{{{R}}}CivilNumber").text = citizen.civil_number
    body = roundtrip("police", query, marital_status_handler(POPULATION), "CivilStatusRecord")
    assert text(body, "MaritalStatus") == "married"
    assert text(body, "Citizen/DateOfBirth") == citizen.date_of_birth.isoformat()
    assert text(body, "StatusSince") is not None and text(body, "AsOf") == NOW
    single = POPULATION.find_citizen(marital_status="single")
    query.find(f"{{{R}}}CivilNumber").text = single.civil_number
    body = roundtrip("police", query, marital_status_handler(POPULATION), "CivilStatusRecord")
    assert text(body, "MaritalStatus") == "single" and text(body, "StatusSince") is None


def test_civil_registry_dialect_errors_are_mapping_errors():
    answer = marital_status_handler(POPULATION)(request("urn:om:rop:civilregistry:2019", "GetMaritalStatus",
                                                        "CivilNo", "10000001"))
    answer.find("{urn:om:rop:civilregistry:2019}NationalityNo").text = "999"
    with pytest.raises(MappingError, match="unknown NationalityNo 999"):
        MAPPINGS.transform("police", "CivilStatusRecord", answer, now=NOW)


def test_commercial_registry_and_chamber_answers_to_canonical():
    employer = POPULATION.employer(3)
    query = sample("CommercialRegistrationQuery")
    query.find(f"{{{R}}}CRNumber").text = employer.cr_number
    body = roundtrip("commerce", query, registration_handler(POPULATION), "CommercialRegistrationRecord")
    assert text(body, "Status") == employer.cr_status
    assert text(body, "Activities/Activity/Code").isdigit()
    query = sample("ChamberMembershipQuery")
    query.find(f"{{{R}}}CRNumber").text = employer.cr_number
    body = roundtrip("commerce", query, membership_handler(POPULATION), "ChamberMembershipRecord")
    assert text(body, "ValidUntil") == employer.chamber_valid_until.isoformat()


@pytest.mark.parametrize("fund", ["social-insurance", "civil-service-pension"])
def test_income_proof_to_canonical(fund):
    citizen = POPULATION.find_citizen(insurer=fund)
    query = sample("IncomeQuery")
    query.find(f"{{{R}}}CivilNumber").text = citizen.civil_number
    query.remove(query.find(f"{{{R}}}Source")) if query.find(f"{{{R}}}Source") is not None else None
    body = roundtrip("insurance", query, income_proof_handler(POPULATION, fund), "IncomeRecord", system=fund)
    assert text(body, "Source") == fund
    assert text(body, "AsOfDate") == "2026-04-30"  # the last day of the declared wage month


@pytest.mark.parametrize("month, last", [("2024-02", "2024-02-29"), ("2025-02", "2025-02-28"),
                                         ("1900-02", "1900-02-28"), ("2000-02", "2000-02-29"),
                                         ("2025-04", "2025-04-30"), ("2025-12", "2025-12-31")])
def test_wage_month_end(month, last):
    answer = income_proof_handler(POPULATION, "social-insurance")(
        request("urn:om:spf:income:1", "GetIncomeProof", "CivilId",
                POPULATION.find_citizen(insurer="social-insurance").civil_number))
    answer.find("{urn:om:spf:income:1}WageMonth").text = month
    assert text(MAPPINGS.transform("insurance", "IncomeRecord", answer), "AsOfDate") == last


def test_income_query_naming_a_fund_skips_the_other():
    query = sample("IncomeQuery")
    source = query.find(f"{{{R}}}Source")
    source.text = "civil-service-pension"
    assert MAPPINGS.transform("insurance", "IncomeQuery", query, system="social-insurance").tag == SKIP
    asked = MAPPINGS.transform("insurance", "IncomeQuery", query, system="civil-service-pension")
    assert asked.tag == "{urn:om:spf:income:1}GetIncomeProof"


def test_labour_case_referral_to_the_court_contract():
    body = MAPPINGS.transform("courts", "LabourCaseReferral", sample("LabourCaseReferral"),
                              query_message_id="3f0c9a52-7d1e-4b8a-9c61-2e5d8f40a7b3")
    AgencyContracts(AGENCY_SCHEMAS / "courts", "courts").validate(body)
    assert body.findtext(f"{{{LC}}}ReferralRef") == "3f0c9a52-7d1e-4b8a-9c61-2e5d8f40a7b3"
    assert [c.text for c in body.iterfind(f"{{{LC}}}ClaimType")] == ["WAGE", "EOSG"]
    assert body.findtext(f"{{{LC}}}PlaintiffName") == "Mohammad Abdul Karim"  # the English name
    assert body.findtext(f"{{{LC}}}ClaimedAmount") == "2105.000"


def test_referral_without_the_workers_civil_number_is_refused():
    referral = sample("LabourCaseReferral")
    worker = referral.find(f"{{{R}}}Parties/{{{R}}}Worker")
    worker.remove(worker.find(f"{{{R}}}CivilNumber"))
    with pytest.raises(MappingError, match="civil number"):
        MAPPINGS.transform("courts", "LabourCaseReferral", referral, query_message_id="x")


CLAIM_SUBJECTS = {"WAGE": "unpaid-wages", "EOSG": "end-of-service-gratuity", "DISM": "unfair-dismissal",
                  "PASS": "withheld-passport", "LEAV": "leave-and-air-ticket", "INJR": "work-injury", "OTHR": "other"}


def court_register():
    return case_status_handler(POPULATION, Docket(first_referral_number(POPULATION), POPULATION.as_of.year))


def case_with_status(status: str) -> batches.LabourCase:
    """The most recently filed case of the batches whose step on POPULATION.as_of is ``status``."""
    for serial in range(first_referral_number(POPULATION) - 1, -1, -1):
        case = batches.labour_case(POPULATION, serial)
        if case.status_on(POPULATION.as_of).status == status:
            return case
    raise AssertionError(f"no case is {status} on {POPULATION.as_of}")


def case_query(case_number: str) -> etree._Element:
    query = sample("LabourCaseStatusQuery")
    query.find(f"{{{R}}}CaseNumber").text = case_number
    return query


@pytest.mark.parametrize("status, canonical_status, final", [
    ("OPN", "opened", None), ("HRG", "hearing", None), ("JDG", "judgment", "false"), ("CLS", "judgment", "true"),
])
def test_court_case_status_answer_to_canonical(status, canonical_status, final):
    case = case_with_status(status)
    body = roundtrip("courts", case_query(case.number), court_register(), "LabourCaseStatusRecord")
    step = case.status_on(POPULATION.as_of)
    assert (text(body, "CaseNumber"), text(body, "Status"), text(body, "StatusDate")) == (
        case.number, canonical_status, step.day.isoformat())
    assert text(body, "Court/Code") == case.court[0] and text(body, "FiledOn") == case.filed_on.isoformat()
    assert text(body, "Parties/Worker/CivilNumber") == case.worker.civil_number
    assert text(body, "Parties/Worker/Name") == case.worker.name.en
    assert text(body, "Parties/Employer/CRNumber") == case.employer.cr_number
    assert text(body, "ComplaintId") == case.complaint_number and text(body, "AsOf") == NOW
    assert [s.text for s in body.iterfind(f"{{{R}}}Subject")] == [CLAIM_SUBJECTS[c] for c in case.claims]
    assert text(body, "Judgment/Final") == final
    if status == "HRG":
        assert text(body, "NextHearing") == f"{step.session:%Y-%m-%dT%H:%M:%S}+04:00"
    if final is not None:
        assert text(body, "Judgment/Outcome") == {"W": "for-worker", "E": "for-employer", "P": "partly-for-worker",
                                                  "S": "settled", "X": "dismissed"}[step.outcome]
        assert text(body, "Judgment/AmountAwarded") == (None if step.award_baisas is None
                                                        else f"{step.award_baisas / 1000:.3f}")


@pytest.mark.parametrize("path, value, message", [
    ("StatusCode", "SUS", "unknown StatusCode 'SUS'"),
    ("ClaimType", "TIPS", "unknown ClaimType 'TIPS'"),
    ("Judgment/OutcomeCode", "Z", "unknown OutcomeCode 'Z'"),
])
def test_court_case_status_dialect_errors_are_mapping_errors(path, value, message):
    answer = court_register()(request(LC, "GetCaseStatus", "CaseNo", case_with_status("JDG").number))
    answer.find("/".join(f"{{{LC}}}{step}" for step in path.split("/"))).text = value
    with pytest.raises(MappingError, match=message):
        MAPPINGS.transform("courts", "LabourCaseStatusRecord", answer, now=NOW)


def test_court_unknown_case_fault_is_not_found():
    with pytest.raises(SoapFault) as caught:
        court_register()(request(LC, "GetCaseStatus", "CaseNo", "LC/1999/5"))
    raised = caught.value
    detail = etree.Element("detail")  # the SOAP Fault's detail element, as zeep hands it over
    detail.append(raised.detail)
    fault = AgencySoapFault("r", fault_code=f"soap:{raised.code}", fault_text=raised.text, system="labour-court",
                            detail=detail, agency="courts")
    body = MAPPINGS.transform("courts", "AgencyFault", fault_document(fault, query_id="q-1"))
    canonical.validate(body)
    assert (text(body, "Code"), text(body, "Recoverable")) == ("not-found", "false")
    assert text(body, "Reason") == "no labour case numbered LC/1999/5"
    assert text(body, "Detail") == "labour-court: soap:Client.UnknownCase MJ-LC-404 no labour case numbered LC/1999/5"


@pytest.mark.parametrize("agency, code, expected, recoverable", [
    ("police", "soap:Client.UnknownCivilNumber", "not-found", "false"),
    ("commerce", "soap:Client.UnknownCR", "not-found", "false"),
    ("commerce", "soap:Client.NotAMember", "not-found", "false"),
    ("insurance", "soap:Client.NotInsured", "not-found", "false"),
    ("courts", "soap:Client.UnknownCase", "not-found", "false"),
    ("police", "soap:Client", "agency-refused", "false"),
    ("police", "soap:Server", "agency-error", "true"),
    ("insurance", "Server.Database", "agency-error", "true"),
])
def test_agency_faults_to_canonical(agency, code, expected, recoverable):
    detail = etree.fromstring("<detail><e:ServiceError xmlns:e='urn:x'><e:ErrorCode>E-1</e:ErrorCode>"
                              "<e:ErrorText>why</e:ErrorText></e:ServiceError></detail>")
    fault = AgencySoapFault("r", fault_code=code, fault_text="the reason", system="sys", detail=detail, agency=agency)
    body = MAPPINGS.transform(agency, "AgencyFault", fault_document(fault, query_id="q-1"))
    canonical.validate(body)
    assert (text(body, "Code"), text(body, "Recoverable")) == (expected, recoverable)
    assert text(body, "Reason") == "the reason" and text(body, "Agency") == agency
    assert text(body, "Detail") == f"sys: {code} E-1 why"
