"""The transfer-of-services rules as pure functions: every refusal a real case has, and what refers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from simulators.licensing import rules
from simulators.licensing.transfer_rules import DEPARTED, OUTSIDE, Residence, Sponsor, decide_transfer

TODAY = date(2026, 5, 20)
WORKER = "20000017"
OLD, NEW = Sponsor("CRNumber", "1000007"), Sponsor("CRNumber", "1000042")
RESIDENCE = Residence(civil_number=WORKER, nationality="IND", sponsor=OLD,
                      residence_expiry=TODAY + timedelta(days=200), presence="in-country")
LICENCE = rules.LicenceView("CL-2026-000003", rules.COMMERCIAL, rules.APPROVED, TODAY + timedelta(days=300),
                            (rules.Vacancy("7112", granted=2, used=1, id=5),
                             rules.Vacancy("7411", granted=1, used=0, nationality="BGD", id=6)))


def decide(residence=RESIDENCE, licence=LICENCE, profession="7112", sponsor=NEW, **kw):
    return decide_transfer(WORKER, profession, residence, licence, sponsor, TODAY, **kw)


def test_a_worker_free_to_move_to_a_licence_with_a_free_vacancy_of_the_profession_is_approved():
    answer = decide()
    assert answer.outcome.decision == rules.APPROVED
    assert answer.vacancy.id == 5


@pytest.mark.parametrize("residence, code", [
    (replace(RESIDENCE, presence=OUTSIDE, last_movement=TODAY - timedelta(days=9)), "worker-outside-country"),
    (replace(RESIDENCE, presence=DEPARTED, last_movement=TODAY - timedelta(days=40)), "worker-departed"),
    (replace(RESIDENCE, residence_expiry=TODAY - timedelta(days=1)), "residence-expired"),
    (replace(RESIDENCE, absconding_report="ABS/2026/0000017 filed on 2026-03-01"), "absconding-reported"),
    (replace(RESIDENCE, sponsor=NEW), "same-employer"),
    (rules.NotFound("police", "civil number 20000017 holds no residence"), "worker-unknown"),
])
def test_what_the_police_know_refuses_the_transfer(residence, code):
    answer = decide(residence)
    assert answer.outcome.decision == rules.REFUSED
    assert answer.outcome.codes == (code,)
    assert answer.vacancy is None


def test_a_residence_valid_until_today_still_allows_the_transfer():
    assert decide(replace(RESIDENCE, residence_expiry=TODAY)).outcome.decision == rules.APPROVED


@pytest.mark.parametrize("licence, profession, code", [
    (None, "7112", "licence-not-found"),
    (replace(LICENCE, status=rules.REFUSED), "7112", "licence-not-valid"),
    (replace(LICENCE, valid_until=TODAY - timedelta(days=1)), "7112", "licence-expired"),
    (replace(LICENCE, vacancies=(rules.Vacancy("7112", granted=2, used=2, id=5),)), "7112", "no-vacancy"),
    (LICENCE, "9112", "profession-mismatch"),
    (LICENCE, "7411", "nationality-not-allowed"),  # the 7411 vacancy is for Bangladeshi workers only
])
def test_the_new_licence_and_its_vacancies_refuse_as_for_a_visa(licence, profession, code):
    answer = decide(licence=licence, profession=profession)
    assert answer.outcome.decision == rules.REFUSED
    assert answer.outcome.codes == (code,)


def test_every_refusal_is_listed_together():
    residence = replace(RESIDENCE, presence=OUTSIDE, residence_expiry=TODAY - timedelta(days=3),
                        absconding_report="ABS/1 filed on 2026-01-01")
    answer = decide(residence, licence=replace(LICENCE, vacancies=()), already_recorded=True)
    assert set(answer.outcome.codes) == {"absconding-reported", "worker-outside-country", "residence-expired",
                                         "transfer-already-recorded", "profession-mismatch"}


def test_no_police_answer_or_a_record_about_someone_else_refers_to_an_officer():
    silent = decide(rules.NoAnswer("police", "reply-timeout", "no reply within 10 s"))
    assert silent.outcome.decision == rules.REFERRED and silent.outcome.codes == ("police-no-answer",)
    other = decide(replace(RESIDENCE, civil_number="20000018"))
    assert other.outcome.decision == rules.REFERRED and other.outcome.codes == ("residence-record-mismatch",)


def test_a_refusal_outweighs_a_referral():
    answer = decide(rules.NoAnswer("police", "reply-timeout", "late"), licence=None)
    assert answer.outcome.decision == rules.REFUSED
    assert answer.outcome.codes == ("licence-not-found", "police-no-answer")


def test_the_same_transfer_recorded_before_is_refused():
    answer = decide(already_recorded=True)
    assert answer.outcome.decision == rules.REFUSED and "transfer-already-recorded" in answer.outcome.codes


def test_a_household_worker_moves_to_a_private_licence():
    household = replace(LICENCE, number="PL-2026-000009", licence_type=rules.PRIVATE,
                        vacancies=(rules.Vacancy("9111", granted=1, id=8),))
    answer = decide(licence=household, profession="9111", sponsor=Sponsor("CivilNumber", "10000012"))
    assert answer.outcome.decision == rules.APPROVED and answer.vacancy.id == 8
