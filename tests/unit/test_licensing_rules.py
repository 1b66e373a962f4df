"""Every branch of the licensing rules: approve, refuse, refer, for private, commercial and visa."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from simulators.licensing import rules
from simulators.licensing.rules import (
    APPROVED, REFERRED, REFUSED, CivilStatus, IncomeProof, LicenceView, Membership, NoAnswer, NotFound,
    Policy, Registration, Vacancy,
)

CITIZEN = "09123456"
CR = "1093456"
TODAY = date(2024, 5, 20)


def income(**changes) -> IncomeProof:
    values = {"civil_number": CITIZEN, "source": "social-insurance", "employee_status": "active",
              "monthly_wage": Decimal("850.000")} | changes
    return IncomeProof(**values)


def civil(**changes) -> CivilStatus:
    values = {"civil_number": CITIZEN, "marital_status": "married", "source_registry": "civil-registry"} | changes
    return CivilStatus(**values)


def registration(**changes) -> Registration:
    return Registration(**({"cr_number": CR, "status": "active", "expiry_date": date(2026, 1, 1)} | changes))


def membership(**changes) -> Membership:
    return Membership(**({"cr_number": CR, "status": "active", "valid_until": date(2025, 1, 1)} | changes))


TIMEOUT = NoAnswer("insurance", "reply-timeout", "no reply within 10s")


# ------------------------------------------------------------------ private


@pytest.mark.parametrize("source", ["social-insurance", "civil-service-pension"])
def test_private_approved_with_income_from_either_fund_and_registry_status(source):
    outcome = rules.decide_private(CITIZEN, income(source=source), civil())
    assert outcome.decision == APPROVED
    assert outcome.codes == ("all-checks-passed",)


def test_private_wage_exactly_at_threshold_is_enough():
    assert rules.decide_private(CITIZEN, income(monthly_wage=Decimal("600.000")), civil()).decision == APPROVED


def test_private_refused_below_threshold_with_the_figures_in_the_reason():
    outcome = rules.decide_private(CITIZEN, income(monthly_wage=Decimal("599.999")), civil())
    assert outcome.decision == REFUSED
    assert outcome.codes == ("income-below-threshold",)
    assert "599.999" in outcome.reasons[0].text and "600.000" in outcome.reasons[0].text


def test_private_threshold_is_configurable():
    policy = Policy(income_threshold=Decimal("900"))
    assert rules.decide_private(CITIZEN, income(), civil(), policy).decision == REFUSED
    assert rules.decide_private(CITIZEN, income(), civil(), Policy(income_threshold=Decimal("850"))).decision == APPROVED


def test_private_refused_when_inactive():
    outcome = rules.decide_private(CITIZEN, income(employee_status="inactive"), civil())
    assert (outcome.decision, outcome.codes) == (REFUSED, ("employee-inactive",))


def test_private_refused_when_not_insured_anywhere():
    outcome = rules.decide_private(CITIZEN, NotFound("insurance", "no contributor 09123456"), civil())
    assert (outcome.decision, outcome.codes) == (REFUSED, ("not-insured",))


def test_private_refusal_lists_every_reason_and_keeps_referral_notes():
    outcome = rules.decide_private(CITIZEN, income(employee_status="inactive", monthly_wage=Decimal("100")),
                                   NoAnswer("police", "reply-timeout", "late"))
    assert outcome.decision == REFUSED
    assert outcome.codes == ("employee-inactive", "income-below-threshold", "civil-registry-no-answer")


def test_private_referred_when_insurance_does_not_answer():
    outcome = rules.decide_private(CITIZEN, TIMEOUT, civil())
    assert (outcome.decision, outcome.codes) == (REFERRED, ("income-no-answer",))
    assert "reply-timeout" in outcome.reasons[0].text


def test_private_referred_when_civil_registry_does_not_answer():
    outcome = rules.decide_private(CITIZEN, income(), NoAnswer("police", "agency-fault", "registry down"))
    assert (outcome.decision, outcome.codes) == (REFERRED, ("civil-registry-no-answer",))


def test_private_referred_when_registry_does_not_know_the_citizen():
    outcome = rules.decide_private(CITIZEN, income(), NotFound("police", "no citizen 09123456"))
    assert (outcome.decision, outcome.codes) == (REFERRED, ("civil-registry-unknown-person",))


def test_private_referred_when_marital_status_is_not_from_the_registry():
    outcome = rules.decide_private(CITIZEN, income(), civil(source_registry="self-declared"))
    assert (outcome.decision, outcome.codes) == (REFERRED, ("marital-status-not-from-registry",))


def test_private_referred_when_marital_status_is_empty():
    outcome = rules.decide_private(CITIZEN, income(), civil(marital_status=""))
    assert (outcome.decision, outcome.codes) == (REFERRED, ("marital-status-missing",))


def test_private_referred_when_income_source_is_not_an_accepted_fund():
    outcome = rules.decide_private(CITIZEN, income(source="employer-letter"), civil())
    assert (outcome.decision, outcome.codes) == (REFERRED, ("income-source-not-accepted",))


def test_private_inconsistent_income_record_refers_and_its_wage_is_not_used():
    outcome = rules.decide_private(CITIZEN, income(civil_number="11111111", monthly_wage=Decimal(1)), civil())
    assert (outcome.decision, outcome.codes) == (REFERRED, ("income-record-mismatch",))


def test_private_inconsistent_civil_record_refers():
    outcome = rules.decide_private(CITIZEN, income(), civil(civil_number="11111111"))
    assert (outcome.decision, outcome.codes) == (REFERRED, ("civil-record-mismatch",))


# --------------------------------------------------------------- commercial


def test_commercial_approved_with_active_cr_and_valid_membership():
    outcome = rules.decide_commercial(CR, registration(), membership(), TODAY)
    assert (outcome.decision, outcome.codes) == (APPROVED, ("all-checks-passed",))


def test_commercial_membership_valid_until_today_still_counts():
    assert rules.decide_commercial(CR, registration(), membership(valid_until=TODAY), TODAY).decision == APPROVED


@pytest.mark.parametrize("changes, code", [
    ({"status": "suspended"}, "cr-not-active"),
    ({"status": "cancelled"}, "cr-not-active"),
    ({"expiry_date": date(2024, 5, 19)}, "cr-expired"),
])
def test_commercial_refused_for_cr(changes, code):
    outcome = rules.decide_commercial(CR, registration(**changes), membership(), TODAY)
    assert (outcome.decision, outcome.codes) == (REFUSED, (code,))


def test_commercial_expired_status_and_date_give_both_reasons():
    outcome = rules.decide_commercial(CR, registration(status="expired", expiry_date=date(2023, 1, 1)),
                                      membership(), TODAY)
    assert outcome.codes == ("cr-not-active", "cr-expired")


@pytest.mark.parametrize("answer, code", [
    (membership(status="expired"), "chamber-membership-lapsed"),
    (membership(valid_until=date(2024, 5, 19)), "chamber-membership-expired"),
    (NotFound("commerce", "no member"), "chamber-membership-missing"),
])
def test_commercial_refused_for_membership(answer, code):
    outcome = rules.decide_commercial(CR, registration(), answer, TODAY)
    assert (outcome.decision, outcome.codes) == (REFUSED, (code,))


def test_commercial_refused_for_unknown_cr():
    outcome = rules.decide_commercial(CR, NotFound("commerce", "no CR 1093456"), membership(), TODAY)
    assert (outcome.decision, outcome.codes) == (REFUSED, ("cr-not-found",))


def test_commercial_refused_lists_cr_and_chamber_reasons():
    outcome = rules.decide_commercial(CR, registration(status="suspended"), membership(status="suspended"), TODAY)
    assert outcome.codes == ("cr-not-active", "chamber-membership-lapsed")


@pytest.mark.parametrize("registration_answer, membership_answer, code", [
    (NoAnswer("commerce", "reply-timeout", "slow"), membership(), "cr-no-answer"),
    (registration(), NoAnswer("commerce", "agency-unavailable", "503"), "chamber-no-answer"),
    (registration(cr_number="7777777"), membership(), "cr-record-mismatch"),
    (registration(), membership(cr_number="7777777"), "chamber-record-mismatch"),
])
def test_commercial_referred(registration_answer, membership_answer, code):
    outcome = rules.decide_commercial(CR, registration_answer, membership_answer, TODAY)
    assert (outcome.decision, outcome.codes) == (REFERRED, (code,))


def test_commercial_referred_while_a_labour_case_is_open_unless_policy_says_otherwise():
    outcome = rules.decide_commercial(CR, registration(), membership(), TODAY, open_cases=2)
    assert (outcome.decision, outcome.codes) == (REFERRED, ("labour-case-pending",))
    lenient = Policy(refer_on_pending_case=False)
    assert rules.decide_commercial(CR, registration(), membership(), TODAY, open_cases=2,
                                   policy=lenient).decision == APPROVED


def test_licence_validity_follows_policy():
    assert rules.licence_valid_until(date(2024, 1, 1)) == date(2024, 12, 31)
    assert rules.licence_valid_until(date(2024, 1, 1), Policy(licence_validity_days=30)) == date(2024, 1, 31)


# -------------------------------------------------------------------- visas


def licence(**changes) -> LicenceView:
    values = {"number": "PL-2024-000001", "licence_type": "private", "status": APPROVED,
              "valid_until": date(2025, 5, 19), "vacancies": (Vacancy("911101", granted=2, used=1, id=7),)}
    return LicenceView(**(values | changes))


def test_visa_yes_for_valid_licence_with_free_vacancy():
    answer = rules.check_visa(licence(), "private", "911101", "PHL", TODAY)
    assert answer.eligible and answer.reason.code == "vacancy-available"
    assert answer.remaining == 1 and answer.vacancy.id == 7


def test_visa_yes_on_the_last_day_of_the_licence():
    assert rules.check_visa(licence(valid_until=TODAY), "private", "911101", "PHL", TODAY).eligible


@pytest.mark.parametrize("view, licence_type, profession, nationality, code", [
    (None, "private", "911101", "PHL", "licence-not-found"),
    (licence(status=REFERRED), "private", "911101", "PHL", "licence-not-valid"),
    (licence(valid_until=date(2024, 5, 19)), "private", "911101", "PHL", "licence-expired"),
    (licence(), "commercial", "911101", "PHL", "licence-type-mismatch"),
    (licence(), "private", "832201", "PHL", "profession-mismatch"),
    (licence(vacancies=(Vacancy("911101", 2, 2),)), "private", "911101", "PHL", "no-vacancy"),
    (licence(vacancies=(Vacancy("911101", 2, 0, "IDN"),)), "private", "911101", "PHL", "nationality-not-allowed"),
])
def test_visa_no(view, licence_type, profession, nationality, code):
    answer = rules.check_visa(view, licence_type, profession, nationality, TODAY)
    assert not answer.eligible
    assert answer.reason.code == code
    assert answer.vacancy is None


def test_visa_uses_a_nationality_specific_vacancy_before_an_open_one():
    view = licence(vacancies=(Vacancy("911101", 1, 0, None, id=1), Vacancy("911101", 1, 0, "PHL", id=2)))
    answer = rules.check_visa(view, "private", "911101", "PHL", TODAY)
    assert answer.vacancy.id == 2 and answer.remaining == 2
    other = rules.check_visa(view, "private", "911101", "IND", TODAY)
    assert other.vacancy.id == 1 and other.remaining == 1


def test_visa_open_vacancy_when_the_specific_one_is_used():
    view = licence(vacancies=(Vacancy("911101", 1, 0, None, id=1), Vacancy("911101", 1, 1, "PHL", id=2)))
    assert rules.check_visa(view, "private", "911101", "PHL", TODAY).vacancy.id == 1


def test_vacancy_free_never_negative():
    assert Vacancy("911101", granted=1, used=3).free == 0


def test_local_today_is_the_omani_day():
    from datetime import datetime, timezone

    assert rules.local_today(datetime(2024, 5, 20, 19, 59, tzinfo=timezone.utc)) == date(2024, 5, 20)
    assert rules.local_today(datetime(2024, 5, 20, 20, 0, tzinfo=timezone.utc)) == date(2024, 5, 21)
