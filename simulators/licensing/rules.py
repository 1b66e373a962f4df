"""The licence decisions, as pure functions: facts in, a decision out.

Nothing here does I/O. The decider gathers the agencies' answers into the
small frozen records below and hands them over. Every decision lists its
reasons (machine code + words).

How an agency answer counts:

* a record (``IncomeProof``, ``CivilStatus``, ...) is authoritative data;
* ``NotFound`` is an authoritative "no such person / CR" — for income and
  commerce that refuses, for the civil registry it is inconsistent (a
  citizen applicant the registry does not know) and refers;
* ``NoAnswer`` (timeout, fault, unexpected reply) never decides anything on
  its own: it refers the application to an officer.

Precedence: any refusal reason refuses; else any referral reason refers;
else the licence is approved. A refusal is only drawn from data that passed
its consistency checks (a record about someone else refers, and its wage is
not even looked at).

What every decision is made of (:class:`Reason`, :class:`Outcome`,
:class:`Findings`, ``NoAnswer``, ``NotFound``) is :mod:`simulators.licensing.findings`;
the visa rule the consumer answers the police with is :mod:`simulators.licensing.visa_rules`.
Both are importable from here as well, as ``rules.Reason`` or ``rules.check_visa``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from simulators.licensing.findings import APPROVED, REFERRED, REFUSED, Findings, NoAnswer, NotFound, Outcome, Reason
from simulators.licensing.visa_rules import LicenceView, Vacancy, VisaAnswer, check_visa, licence_refusal

__all__ = [
    "APPROVED", "COMMERCIAL", "OMAN", "PRIVATE", "REFERRED", "REFUSED",
    "CivilStatus", "Findings", "IncomeProof", "LicenceView", "Membership", "NoAnswer", "NotFound", "Outcome",
    "Policy", "Reason", "Registration", "Vacancy", "VisaAnswer",
    "check_visa", "decide_commercial", "decide_private", "licence_refusal", "licence_valid_until", "local_today",
]

#: licences, CRs and memberships expire on Omani calendar days (UTC+4, no daylight saving)
OMAN = timezone(timedelta(hours=4), "Asia/Muscat")
PRIVATE, COMMERCIAL = "private", "commercial"


@dataclass(frozen=True)
class IncomeProof:
    """An insurance fund's IncomeRecord, reduced to what the rule needs."""

    civil_number: str
    source: str
    employee_status: str
    monthly_wage: Decimal


@dataclass(frozen=True)
class CivilStatus:
    """The civil registry's CivilStatusRecord, reduced."""

    civil_number: str
    marital_status: str
    source_registry: str


@dataclass(frozen=True)
class Registration:
    """The commercial registry's CommercialRegistrationRecord, reduced."""

    cr_number: str
    status: str
    expiry_date: date


@dataclass(frozen=True)
class Membership:
    """The chamber's ChamberMembershipRecord, reduced."""

    cr_number: str
    status: str
    valid_until: date


@dataclass(frozen=True)
class Policy:
    """Tunable thresholds of the rules."""

    income_threshold: Decimal = Decimal("600.000")
    """Minimum insured monthly wage (OMR) for a private licence."""

    income_sources: frozenset[str] = frozenset({"social-insurance", "civil-service-pension"})
    """Funds whose income proof may approve a private licence automatically."""

    civil_registries: frozenset[str] = frozenset({"civil-registry"})
    """Registries whose marital status counts (SourceRegistry of the record)."""

    licence_validity_days: int = 365
    """How long an approved licence stays valid."""

    refer_on_pending_case: bool = True
    """Refer a commercial application while the employer has an open labour case."""


def _no_answer(findings: Findings, what: str, answer: NoAnswer) -> None:
    findings.refer.append(Reason(f"{what}-no-answer", f"{answer.agency} did not answer ({answer.code}): {answer.reason}"))


def _check_income(findings: Findings, civil_number: str, income, policy: Policy) -> None:
    if isinstance(income, NoAnswer):
        return _no_answer(findings, "income", income)
    if isinstance(income, NotFound):
        return findings.refuse.append(Reason("not-insured", f"{income.agency}: {income.reason}"))
    if income.civil_number != civil_number:
        return findings.refer.append(Reason(
            "income-record-mismatch", f"income record is for {income.civil_number}, not the applicant {civil_number}"))
    if income.source not in policy.income_sources:
        findings.refer.append(Reason("income-source-not-accepted", f"income proof from {income.source!r}"))
    if income.employee_status != "active":
        findings.refuse.append(Reason("employee-inactive", f"employee status is {income.employee_status!r}"))
    if income.monthly_wage < policy.income_threshold:
        findings.refuse.append(Reason(
            "income-below-threshold",
            f"monthly wage {income.monthly_wage:.3f} OMR is below {policy.income_threshold:.3f} OMR"))


def _check_civil_status(findings: Findings, civil_number: str, civil, policy: Policy) -> None:
    if isinstance(civil, NoAnswer):
        return _no_answer(findings, "civil-registry", civil)
    if isinstance(civil, NotFound):
        return findings.refer.append(Reason("civil-registry-unknown-person", f"{civil.agency}: {civil.reason}"))
    if civil.civil_number != civil_number:
        return findings.refer.append(Reason(
            "civil-record-mismatch", f"civil record is for {civil.civil_number}, not the applicant {civil_number}"))
    if civil.source_registry not in policy.civil_registries:
        findings.refer.append(Reason(
            "marital-status-not-from-registry", f"marital status comes from {civil.source_registry!r}"))
    if not civil.marital_status:
        findings.refer.append(Reason("marital-status-missing", "the civil record has no marital status"))


def decide_private(civil_number: str, income, civil, policy: Policy = Policy()) -> Outcome:
    """Private (household worker) licence for citizen ``civil_number``.

    ``income`` is an IncomeProof, NotFound or NoAnswer; ``civil`` a
    CivilStatus, NotFound or NoAnswer.
    """
    findings = Findings()
    _check_income(findings, civil_number, income, policy)
    _check_civil_status(findings, civil_number, civil, policy)
    return findings.outcome()


def _check_registration(findings: Findings, cr_number: str, registration, today: date) -> None:
    if isinstance(registration, NoAnswer):
        return _no_answer(findings, "cr", registration)
    if isinstance(registration, NotFound):
        return findings.refuse.append(Reason("cr-not-found", f"{registration.agency}: {registration.reason}"))
    if registration.cr_number != cr_number:
        return findings.refer.append(Reason(
            "cr-record-mismatch", f"CR record is for {registration.cr_number}, not {cr_number}"))
    if registration.status != "active":
        findings.refuse.append(Reason("cr-not-active", f"commercial registration is {registration.status}"))
    if registration.expiry_date < today:
        findings.refuse.append(Reason("cr-expired", f"commercial registration expired on {registration.expiry_date}"))


def _check_membership(findings: Findings, cr_number: str, membership, today: date) -> None:
    if isinstance(membership, NoAnswer):
        return _no_answer(findings, "chamber", membership)
    if isinstance(membership, NotFound):
        return findings.refuse.append(Reason("chamber-membership-missing", f"{membership.agency}: {membership.reason}"))
    if membership.cr_number != cr_number:
        return findings.refer.append(Reason(
            "chamber-record-mismatch", f"chamber record is for {membership.cr_number}, not {cr_number}"))
    if membership.status != "active":
        findings.refuse.append(Reason("chamber-membership-lapsed", f"chamber membership is {membership.status}"))
    if membership.valid_until < today:
        findings.refuse.append(Reason(
            "chamber-membership-expired", f"chamber membership was valid until {membership.valid_until}"))


def decide_commercial(cr_number: str, registration, membership, today: date, *,
                      open_cases: int = 0, policy: Policy = Policy()) -> Outcome:
    """Commercial licence for establishment ``cr_number``.

    ``registration``: Registration, NotFound or NoAnswer; ``membership``:
    Membership, NotFound or NoAnswer; ``open_cases``: labour cases against
    the employer without a final judgment.
    """
    findings = Findings()
    _check_registration(findings, cr_number, registration, today)
    _check_membership(findings, cr_number, membership, today)
    if open_cases and policy.refer_on_pending_case:
        findings.refer.append(Reason("labour-case-pending", f"{open_cases} labour case(s) open against the employer"))
    return findings.outcome()


def local_today(now: datetime) -> date:
    """The Omani calendar day at instant ``now`` (at 22:00 UTC it is already tomorrow in Muscat)."""
    return now.astimezone(OMAN).date()


def licence_valid_until(decided_on: date, policy: Policy = Policy()) -> date:
    """Expiry of a licence approved on ``decided_on``."""
    return decided_on + timedelta(days=policy.licence_validity_days)

