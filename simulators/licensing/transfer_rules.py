"""Transfer of services, decided as a pure function: facts in, a decision out.

A worker already in Oman moves from one employer to another. Licensing asks
the police about the worker and reads the new employer's licence; the
transfer is approved only when

* the police know the worker, hold no open absconding report, and the worker
  is in the country (not outside on a temporary exit, not gone on a final
  one) with a residence valid today;
* the new licence is approved and unexpired, and has a free vacancy of the
  worker's profession open to the worker's nationality — the visa rule
  (:func:`visa_rules.check_visa`), since a transfer fills a vacancy exactly as a
  visa does;
* the new sponsor is not the current one, and the same transfer was not
  recorded already.

As for licences, a police answer that is missing or about someone else
refers the request to an officer; every refusal reason is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from simulators.licensing import rules

IN_COUNTRY, OUTSIDE, DEPARTED = "in-country", "outside", "departed"


@dataclass(frozen=True)
class Sponsor:
    """Who sponsors a residence: ``kind`` is ``CRNumber`` (establishment) or ``CivilNumber`` (citizen)."""

    kind: str
    number: str


@dataclass(frozen=True)
class Residence:
    """The police's TransferEligibilityRecord, reduced to what the rules need."""

    civil_number: str
    nationality: str
    sponsor: Sponsor
    residence_expiry: date
    presence: str
    last_movement: date | None = None
    absconding_report: str | None = None
    """The open report's number and day, as text, or None."""


@dataclass(frozen=True)
class TransferAnswer:
    """The decision, and the vacancy of the new licence an approved transfer fills."""

    outcome: rules.Outcome
    vacancy: rules.Vacancy | None = None


def _check_residence(findings: rules.Findings, civil_number: str, residence, today: date) -> None:
    if isinstance(residence, rules.NoAnswer):
        return findings.refer.append(rules.Reason(
            "police-no-answer", f"{residence.agency} did not answer ({residence.code}): {residence.reason}"))
    if isinstance(residence, rules.NotFound):
        return findings.refuse.append(rules.Reason("worker-unknown", f"{residence.agency}: {residence.reason}"))
    if residence.civil_number != civil_number:
        return findings.refer.append(rules.Reason(
            "residence-record-mismatch", f"the police record is for {residence.civil_number}, not {civil_number}"))
    if residence.absconding_report:
        findings.refuse.append(rules.Reason("absconding-reported", f"absconding report {residence.absconding_report}"))
    if residence.presence == DEPARTED:
        findings.refuse.append(rules.Reason(
            "worker-departed", f"the worker left Oman on a final exit on {residence.last_movement or 'record'}"))
    elif residence.presence == OUTSIDE:
        findings.refuse.append(rules.Reason(
            "worker-outside-country", f"the worker is outside Oman since {residence.last_movement or 'an exit'}"))
    if residence.residence_expiry < today:
        findings.refuse.append(rules.Reason("residence-expired", f"residence expired on {residence.residence_expiry}"))


def decide_transfer(civil_number: str, profession_code: str, residence, licence: rules.LicenceView | None,
                    new_sponsor: Sponsor | None, today: date, *, already_recorded: bool = False) -> TransferAnswer:
    """May worker ``civil_number`` move to ``licence`` (held by ``new_sponsor``) in ``profession_code``?

    ``residence`` is a :class:`Residence`, ``rules.NotFound`` or ``rules.NoAnswer``.
    """
    findings = rules.Findings()
    _check_residence(findings, civil_number, residence, today)
    known = isinstance(residence, Residence)
    if known and new_sponsor is not None and residence.sponsor == new_sponsor:
        findings.refuse.append(rules.Reason(
            "same-employer", f"the worker is already sponsored by {new_sponsor.number}"))
    if already_recorded:
        findings.refuse.append(rules.Reason(
            "transfer-already-recorded", f"{civil_number} was already transferred to {licence and licence.number}"))
    nationality = residence.nationality if known else None
    licence_type = licence.licence_type if licence is not None else rules.COMMERCIAL
    placement = rules.check_visa(licence, licence_type, profession_code, nationality, today)
    if not placement.eligible:
        findings.refuse.append(placement.reason)
    outcome = findings.outcome()
    return TransferAnswer(outcome, placement.vacancy if outcome.decision == rules.APPROVED else None)
