"""What a population is made of: its spec and the entities drawn from it.

:class:`PopulationSpec` says how many of each and which seed; :class:`Citizen`,
:class:`Worker` and :class:`Employer` are the frozen records the simulators
read (no behaviour beyond a derived property); :class:`Name` is their
bilingual name; :data:`WAGE_THRESHOLD` is the wage their incomes are judged by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hub.errors import InputError
from simulators import names as N

WAGE_THRESHOLD = Decimal("600.000")
"""Monthly wage (OMR) the licensing rules use for private licences."""

_MAX_CITIZENS, _MAX_WORKERS, _MAX_EMPLOYERS = 10_000_000, 10_000_000, 1_000_000


@dataclass(frozen=True)
class PopulationSpec:
    """How big the population is and which seed draws it."""

    seed: int = 2026
    """Same seed, same people: every entity derives from it."""
    citizens: int = 500
    """Omani citizens (licence applicants, private-sector and government employees)."""
    workers: int = 2000
    """Expatriate workers, spread over the employers."""
    employers: int = 200
    """Establishments with a commercial registration."""
    as_of: date | None = None
    """Day validity dates are drawn around; ``None`` means the day the population is built."""

    @classmethod
    def scaled(cls, workers: int, seed: int = 2026) -> PopulationSpec:
        """One knob: 11 workers per employer on average, a citizen per 4 workers."""
        return cls(seed=seed, workers=workers, employers=max(1, workers // 11), citizens=workers // 4)

    def __post_init__(self) -> None:
        for field, limit in (("citizens", _MAX_CITIZENS), ("workers", _MAX_WORKERS),
                             ("employers", _MAX_EMPLOYERS)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
                raise InputError(f"population {field} must be an integer from 0 to {limit}, got {value!r}")
        if self.workers and not self.employers:
            raise InputError("a population with workers needs at least one employer")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InputError(f"population seed must be an integer, got {self.seed!r}")


@dataclass(frozen=True, slots=True)
class Name:
    """A person's or establishment's name in Arabic and in English."""

    ar: str
    en: str


@dataclass(frozen=True, slots=True)
class Citizen:
    """An Omani citizen, as the civil registry and the insurers know them."""

    index: int
    civil_number: str
    name: Name
    date_of_birth: date
    gender: str
    marital_status: str
    spouse_civil_number: str | None
    insurer: str | None
    employer_cr: str | None
    monthly_wage: Decimal | None
    employment_active: bool
    iban: str


@dataclass(frozen=True, slots=True)
class Worker:
    """An expatriate worker holding a resident card, employed by one establishment."""

    index: int
    civil_number: str
    passport_number: str
    nationality: str
    name: Name
    date_of_birth: date
    gender: str
    employer_cr: str
    profession_code: str
    profession: str
    monthly_wage: Decimal
    iban: str
    residence_expiry: date


@dataclass(frozen=True, slots=True)
class Employer:
    """An establishment: commercial registration, chamber membership, payroll account."""

    index: int
    cr_number: str
    name: Name
    governorate: str
    cr_status: str
    cr_expiry: date
    chamber_membership_number: str
    chamber_grade: str
    chamber_valid_until: date
    chamber_status: str
    bank_code: str
    iban: str
    first_worker: int
    worker_count: int

    @property
    def bank_short_name(self) -> str:
        """The short bank name SIF files carry (e.g. ``BMCT``)."""
        return next(short for bic, short, _ in N.BANKS if bic == self.bank_code)
