"""Commerce, insurance and courts outbound exchanges over real HTTP and real transports.

Same set-up as ``test_outbound_soap`` (SQLite always, RabbitMQ when it is up):
licensing asks with a signed canonical query, the adapter's worker calls the
agency's simulator, the answer comes back signed, schema-valid and true to
the simulator's population.
"""

from __future__ import annotations

import time

import pytest

import requests
from outbound_helpers import FAST, Asker, canonical, simulator, text, wait_for
from outbound_helpers import broker_routes, rig  # noqa: F401 - fixtures this module's tests take

from hub.outbound import OutboundSettings

R = "{urn:rabt:canonical:v1}"


@pytest.fixture
def asker(rig, pki_dir, trust_store):
    with rig.open_transport() as transport:
        yield Asker(pki_dir, trust_store, transport)


# ------------------------------------------------------------------ commerce


@pytest.fixture
def commerce(rig):
    with simulator("commerce") as sim:
        rig.start("commerce", OutboundSettings(endpoints={
            "RABT_COMMERCE_REGISTRY_URL": sim.url("commercial-registry"),
            "RABT_COMMERCE_CHAMBER_URL": sim.url("chamber-membership")}, **FAST))
        yield sim


def test_commercial_registration_and_chamber_membership(asker, commerce):
    employer = commerce.population.employer(5)
    _, header, body = asker.ask(canonical("CommercialRegistrationQuery", CRNumber=employer.cr_number), "commerce")
    assert (header.message_type, header.source_system) == ("CommercialRegistrationRecord", "commercial-registry")
    assert text(body, "Establishment/CRNumber") == employer.cr_number
    assert text(body, "Establishment/Governorate") == employer.governorate
    assert text(body, "Status") == employer.cr_status
    assert text(body, "ExpiryDate") == employer.cr_expiry.isoformat()
    names = {n.get("{http://www.w3.org/XML/1998/namespace}lang"): n.text for n in body.find(f"{R}Establishment").iter(f"{R}Name")}
    assert names["en"] == employer.name.en

    _, header, body = asker.ask(canonical("ChamberMembershipQuery", CRNumber=employer.cr_number), "commerce")
    assert (header.message_type, header.source_system) == ("ChamberMembershipRecord", "chamber-of-commerce")
    assert text(body, "MembershipNumber") == employer.chamber_membership_number
    assert text(body, "Grade") == employer.chamber_grade.lower()
    assert text(body, "ValidUntil") == employer.chamber_valid_until.isoformat()
    assert text(body, "Status") == {"valid": "active", "lapsed": "expired"}[employer.chamber_status]


@pytest.mark.parametrize("query, code", [("CommercialRegistrationQuery", "MOCI-E-0404"),
                                         ("ChamberMembershipQuery", "OCCI-404")])
def test_unknown_cr_number_is_not_found(asker, commerce, query, code):
    _, header, body = asker.ask(canonical(query, CRNumber="1999999"), "commerce")
    assert header.message_type == "Fault" and text(body, "Code") == "not-found"
    assert code in text(body, "Detail")


def test_one_commerce_service_down_does_not_stop_the_other(asker, commerce, rig):
    commerce.fault(mode="down", operation="GetChamberMembership")
    employer = commerce.population.employer(9)
    _, header, _ = asker.ask(canonical("ChamberMembershipQuery", CRNumber=employer.cr_number), "commerce")
    assert header.message_type == "Fault"
    _, header, _ = asker.ask(canonical("CommercialRegistrationQuery", CRNumber=employer.cr_number), "commerce")
    assert header.message_type == "CommercialRegistrationRecord"
    assert rig.breakers.service_states()["commerce/chamber-of-commerce"] == "open"
    assert rig.breakers.service_states()["commerce/commercial-registry"] == "closed"
    assert rig.breakers.states() == {"commerce": "open"}


# ------------------------------------------------------------------ insurance


@pytest.fixture
def insurance(rig):
    with simulator("insurance") as sim:
        rig.start("insurance", OutboundSettings(endpoints={
            "RABT_INSURANCE_SOCIAL_INSURANCE_URL": sim.url("social-insurance"),
            "RABT_INSURANCE_CIVIL_SERVICE_PENSION_URL": sim.url("civil-service-pension")}, **FAST))
        yield sim


@pytest.mark.parametrize("fund", ["social-insurance", "civil-service-pension"])
def test_income_proof_from_whichever_fund_insures_the_person(asker, insurance, fund):
    citizen = insurance.population.find_citizen(insurer=fund)
    _, header, body = asker.ask(canonical("IncomeQuery", CivilNumber=citizen.civil_number), "insurance")
    assert (header.message_type, header.source_system) == ("IncomeRecord", fund)
    assert text(body, "Source") == fund
    assert text(body, "MonthlyWage") == f"{citizen.monthly_wage:.3f}"
    assert text(body, "EmployeeStatus") == ("active" if citizen.employment_active else "inactive")
    assert (text(body, "Employer/CRNumber") is not None) == (fund == "social-insurance")


def test_income_query_naming_a_fund_asks_only_that_fund(asker, insurance):
    citizen = insurance.population.find_citizen(insurer="civil-service-pension")
    # asked of the wrong fund only: not-found, although the other fund has the record
    _, header, body = asker.ask(canonical("IncomeQuery", CivilNumber=citizen.civil_number,
                                          Source="social-insurance"), "insurance")
    assert header.message_type == "Fault" and text(body, "Code") == "not-found"
    _, header, body = asker.ask(canonical("IncomeQuery", CivilNumber=citizen.civil_number,
                                          Source="civil-service-pension"), "insurance")
    assert header.message_type == "IncomeRecord" and text(body, "Source") == "civil-service-pension"


def test_uninsured_person_is_not_found_by_either_fund(asker, insurance):
    citizen = insurance.population.find_citizen(insurer=None)
    _, header, body = asker.ask(canonical("IncomeQuery", CivilNumber=citizen.civil_number), "insurance")
    assert header.message_type == "Fault" and text(body, "Code") == "not-found"
    reason = text(body, "Reason")
    assert "social-insurance" in reason and "civil-service-pension" in reason


# ------------------------------------------------------------------ courts (one-way)


def referral(worker) -> object:
    body = canonical("LabourCaseReferral", ComplaintId="CMP-2026-000417", ReferredOn="2026-03-05")
    parties = body.makeelement(f"{R}Parties")
    employer = parties.makeelement(f"{R}Employer")
    employer.append(canonical("x", CRNumber=worker.employer_cr)[0])
    name = employer.makeelement(f"{R}Name", {"{http://www.w3.org/XML/1998/namespace}lang": "en"})
    name.text = "Bright Star Transport Est."
    employer.append(name)
    person = parties.makeelement(f"{R}Worker")
    for tag, value in (("CivilNumber", worker.civil_number), ("PassportNumber", worker.passport_number)):
        person.append(canonical("x", **{tag: value})[0])
    person_name = person.makeelement(f"{R}Name", {"{http://www.w3.org/XML/1998/namespace}lang": "en"})
    person_name.text = worker.name.en
    person.append(person_name)
    person.append(canonical("x", Nationality=worker.nationality)[0])
    parties.extend([employer, person])
    body.append(parties)
    body.append(canonical("x", Subject="unpaid-wages")[0])
    body.append(canonical("x", Subject="withheld-passport")[0])
    return body


@pytest.fixture
def courts(rig):
    with simulator("courts") as sim:
        rig.start("courts", OutboundSettings(endpoints={"RABT_COURTS_LABOUR_COURT_URL": sim.url("labour-court")},
                                             **FAST))
        yield sim


def test_referral_reaches_the_court_once(asker, courts, rig):
    worker = courts.population.worker(11)
    header, message = asker.message(referral(worker), "courts")
    asker.transport.publish([message])
    received = wait_for(lambda: requests.get(f"{courts.base}/referrals", timeout=5).json()["referrals"])
    [case] = received
    assert case["referral_ref"] == header.message_id
    assert case["plaintiff_civil_no"] == worker.civil_number and case["defendant_cr_no"] == worker.employer_cr
    assert case["claim_types"] == ["WAGE", "PASS"] and case["complaint_no"] == "CMP-2026-000417"
    wait_for(lambda: rig.workers[0].notified.is_applied(header.message_id))
    courts.fault(mode="soap-fault", count=1)  # a second call would meet this fault and be dead-lettered
    asker.transport.publish([message])  # redelivered
    time.sleep(1.0)
    assert len(requests.get(f"{courts.base}/referrals", timeout=5).json()["referrals"]) == 1
    assert len(courts.rules()) == 1, "the court was called a second time"
    assert asker.transport.dead_letters(rig.hub.routes.queue_for("courts")) == []


def test_referral_the_court_refuses_is_dead_lettered_with_its_reason(asker, courts, rig):
    courts.fault(mode="soap-fault", fault_code="Client.BadReferral", fault_text="claim type not accepted")
    _, message = asker.message(referral(courts.population.worker(12)), "courts")
    asker.transport.publish([message])
    [letter] = wait_for(lambda: asker.transport.dead_letters(rig.hub.routes.queue_for("courts")))
    assert letter.code == "agency-fault" and "claim type not accepted" in letter.reason
    assert letter.attempts == 1  # an agency's refusal is not retried
