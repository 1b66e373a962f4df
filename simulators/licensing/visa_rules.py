"""The visa rule, as a pure function: may a visa be issued under a licence, and which vacancy does it use?

Licensing answers the police's visa checks with it (on the queue and on its
API) and applies the visas they report issued by it; the transfer rule
(:mod:`simulators.licensing.transfer_rules`) asks it too, since a transfer
fills a vacancy exactly as a visa does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from simulators.licensing.findings import APPROVED, Reason


@dataclass(frozen=True)
class Vacancy:
    """What a licence allows: ``granted`` workers of one profession (and nationality, if set)."""

    profession_code: str
    granted: int
    used: int = 0
    nationality: str | None = None
    id: int | None = field(default=None, compare=False)
    """The store's row id, carried through so the chosen vacancy can be updated."""

    @property
    def free(self) -> int:
        return max(self.granted - self.used, 0)


@dataclass(frozen=True)
class LicenceView:
    """A licence as the visa check sees it."""

    number: str
    licence_type: str
    status: str
    valid_until: date
    vacancies: tuple[Vacancy, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class VisaAnswer:
    """Yes or no with the reason; ``vacancy`` is the one a visa would consume."""

    eligible: bool
    reason: Reason
    remaining: int | None = None
    vacancy: Vacancy | None = None


def check_visa(licence: LicenceView | None, licence_type: str, profession_code: str,
               nationality: str | None, today: date) -> VisaAnswer:
    """May a visa be issued under ``licence`` for this profession and nationality?"""
    refusal = licence_refusal(licence, licence_type, today)
    if refusal is not None:
        return VisaAnswer(False, refusal)
    same_profession = [v for v in licence.vacancies if v.profession_code == profession_code]
    if not same_profession:
        return VisaAnswer(False, Reason("profession-mismatch", f"licence {licence.number} has no vacancy for profession {profession_code}"), 0)
    allowed = [v for v in same_profession if v.nationality in (None, nationality)]
    if not allowed:
        return VisaAnswer(False, Reason("nationality-not-allowed", f"profession {profession_code} is restricted to other nationalities"), 0)
    vacancy = _pick_vacancy(allowed)
    remaining = sum(v.free for v in allowed)
    if vacancy is None:
        return VisaAnswer(False, Reason("no-vacancy", f"all vacancies for profession {profession_code} are used"), 0)
    text = f"licence valid until {licence.valid_until} with {remaining} free vacancy(ies) for profession {profession_code}"
    return VisaAnswer(True, Reason("vacancy-available", text), remaining, vacancy)


def licence_refusal(licence: LicenceView | None, licence_type: str, today: date) -> Reason | None:
    """Why no worker may be placed under ``licence`` today (visa or transfer), or None."""
    if licence is None:
        return Reason("licence-not-found", "no such licence")
    if licence.status != APPROVED:
        return Reason("licence-not-valid", f"licence {licence.number} is {licence.status}")
    if licence.valid_until < today:
        return Reason("licence-expired", f"licence {licence.number} expired on {licence.valid_until}")
    if licence.licence_type != licence_type:
        return Reason("licence-type-mismatch", f"licence {licence.number} is {licence.licence_type}, not {licence_type}")
    return None


def _pick_vacancy(allowed: list[Vacancy]) -> Vacancy | None:
    # A nationality-specific vacancy is used before an open one, so the open
    # one stays available for workers of any other nationality.
    free = [v for v in allowed if v.free > 0]
    free.sort(key=lambda v: v.nationality is None)
    return free[0] if free else None
