"""A deterministic synthetic population: citizens, expatriate workers, employers.

Every entity is computed from ``(seed, kind, index)`` alone, so nothing is
stored and the population scales to 2 million workers in constant memory:

* randomness comes from one BLAKE2b digest of ``f"{seed}:{kind}:{index}"``
  (never ``hash()``, which changes with ``PYTHONHASHSEED``), read as a
  256-bit integer (the hungriest entity uses ~180 bits) and consumed with
  ``divmod`` — cheaper than seeding a ``random.Random`` per entity, and
  identical in every process;
* identifiers encode the index (citizen ``1nnnnnnn``, worker ``2nnnnnnn``,
  employer CR ``1nnnnnn``), so a lookup by id is a parse, not a search;
* employers own contiguous ranges of worker indexes. Employers are grouped in
  blocks of :data:`BLOCK` with a fixed share of the workers; inside a block
  the sizes are skewed (a few large payrolls, many small ones) and computed
  from the block's own seed, so either direction of the mapping costs one
  block computation, cached.

Validity dates (CR expiry, chamber membership, residence) are offsets from
``as_of`` (today unless the spec fixes it), so "active" stays active whatever
the day the simulators run; dates of birth are offsets from a fixed epoch.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate

from hub.errors import InputError
from simulators import names as N

BLOCK = 32
"""Employers per partition block (a block's workers are split among them)."""

WAGE_THRESHOLD = Decimal("600.000")
"""Monthly wage (OMR) the licensing rules use for private licences."""

BIRTH_EPOCH = date(2026, 1, 1)
_MAX_CITIZENS, _MAX_WORKERS, _MAX_EMPLOYERS = 10_000_000, 10_000_000, 1_000_000
_NATIONALITIES = tuple(code for code, _ in N.NATIONALITY_WEIGHTS)
_NATIONALITY_CUM = tuple(accumulate(w for _, w in N.NATIONALITY_WEIGHTS))
_BANK_CUM = tuple(accumulate(N.BANK_WEIGHTS))
_GOVERNORATE_CUM = tuple(accumulate(w for _, w in N.GOVERNORATES))
_MARITAL = ("single", "divorced", "widowed", "married")  # "married" here: spouse not a citizen we know
_MARITAL_CUM = tuple(accumulate((650, 130, 50, 170)))
_AGES = {"married": (25, 40), "single": (18, 28), "divorced": (28, 40), "widowed": (35, 40)}  # (min, span)
_INSURERS = ("social-insurance", "civil-service-pension", None)
_INSURER_CUM = tuple(accumulate((600, 200, 200)))


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


class Draw:
    """Deterministic draws from one entity's digest: ``divmod`` off a 256-bit integer."""

    __slots__ = ("x",)

    def __init__(self, seed: int, kind: str, index: int) -> None:
        digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=32).digest()
        self.x = int.from_bytes(digest, "little")

    def int(self, n: int) -> int:
        """A number in ``range(n)``."""
        self.x, r = divmod(self.x, n)
        return r

    def pick(self, seq):
        return seq[self.int(len(seq))]

    def weighted(self, cumulative: tuple[int, ...]) -> int:
        """Index drawn with the weights whose running sums are ``cumulative``."""
        return bisect.bisect_right(cumulative, self.int(cumulative[-1]))

    def chance(self, per_mille: int) -> bool:
        return self.int(1000) < per_mille


def iban(bank_code3: str, account: str) -> str:
    """An Omani IBAN with real ISO 13616 mod-97 check digits (account: 16 digits)."""
    # "OM00" moved to the end reads as 24 22 00 (O=24, M=22)
    check = 98 - int(f"{bank_code3}{account}242200") % 97
    return f"OM{check:02d}{bank_code3}{account}"


def _account(draw: Draw) -> tuple[str, str]:
    """(BIC, IBAN) of a fresh account at a bank drawn by market share."""
    bic, _, code3 = N.BANKS[draw.weighted(_BANK_CUM)]
    return bic, iban(code3, f"{draw.int(10**16):016d}")


def _money(baisas: int) -> Decimal:
    return Decimal(baisas).scaleb(-3)


def _omani_name(d: Draw, gender: str) -> Name:
    """Given name, "bin"/"bint" father's name, family name: أحمد بن سالم الحارثي."""
    given = d.pick(N.OMANI_FEMALE if gender == "F" else N.OMANI_MALE)
    father, family = d.pick(N.OMANI_MALE), d.pick(N.OMANI_FAMILY)
    link_en, link_ar = ("bint", "بنت") if gender == "F" else ("bin", "بن")
    return Name(f"{given[1]} {link_ar} {father[1]} {family[1]}", f"{given[0]} {link_en} {father[0]} {family[0]}")


class Population:
    """Entities of one :class:`PopulationSpec`, computed on demand (O(1) memory)."""

    def __init__(self, spec: PopulationSpec = PopulationSpec()) -> None:
        self.spec = spec
        self.as_of = spec.as_of or date.today()
        self._blocks = lru_cache(maxsize=256)(self._block_starts)

    # -- the employer / worker partition ---------------------------------
    def _block_first_worker(self, block: int) -> int:
        spec = self.spec
        return spec.workers * min(block * BLOCK, spec.employers) // spec.employers

    def _block_starts(self, block: int) -> tuple[int, ...]:
        """First worker index of each employer of ``block``, plus the block's end."""
        first, end = self._block_first_worker(block), self._block_first_worker(block + 1)
        size = min(BLOCK, self.spec.employers - block * BLOCK)
        draw, n = Draw(self.spec.seed, "block", block), end - first
        base = 1 if n >= size else 0
        weights = [(1 + draw.int(64)) ** 3 for _ in range(size)]  # skewed: a few big payrolls
        spare, total = n - base * size, sum(weights)
        counts = [base + spare * w // total for w in weights]
        for k in range(n - sum(counts)):  # rounding leftovers, one each
            counts[k % size] += 1
        return tuple(accumulate(counts, initial=first))

    def _employer_of_worker(self, i: int) -> int:
        spec = self.spec
        block = i * spec.employers // (spec.workers * BLOCK)
        while self._block_first_worker(block + 1) <= i:
            block += 1
        while self._block_first_worker(block) > i:
            block -= 1
        starts = self._blocks(block)
        return block * BLOCK + bisect.bisect_right(starts, i) - 1

    # -- entities ---------------------------------------------------------
    def citizen(self, i: int) -> Citizen:
        """Citizen number ``i`` (``0 <= i < spec.citizens``)."""
        _check_index("citizen", i, self.spec.citizens)
        d, pair = Draw(self.spec.seed, "citizen", i), Draw(self.spec.seed, "couple", i // 2)
        partner = i ^ 1
        if pair.chance(500) and partner < self.spec.citizens:  # a couple: married to each other
            gender = "M" if (i % 2 == 0) == pair.chance(500) else "F"
            status, spouse = "married", f"1{partner:07d}"
        else:
            gender, spouse = ("F" if d.chance(500) else "M"), None
            status = _MARITAL[d.weighted(_MARITAL_CUM)]
        low, span = _AGES[status]
        born = BIRTH_EPOCH - timedelta(days=low * 365 + d.int(span * 365))
        insurer = _INSURERS[d.weighted(_INSURER_CUM)]
        wage = employer = None
        if insurer is not None:
            omr = 325 + d.int(275) if d.chance(250) else 600 + d.int(3400)
            wage = _money(omr * 1000 + d.int(20) * 50)
            if insurer == "social-insurance" and self.spec.employers:
                employer = f"1{i % self.spec.employers:06d}"
        return Citizen(i, f"1{i:07d}", _omani_name(d, gender), born, gender, status, spouse, insurer,
                       employer, wage, insurer is not None and d.chance(950), _account(d)[1])

    def worker(self, i: int) -> Worker:
        """Worker number ``i`` (``0 <= i < spec.workers``)."""
        _check_index("worker", i, self.spec.workers)
        d = Draw(self.spec.seed, "worker", i)
        nationality = _NATIONALITIES[d.weighted(_NATIONALITY_CUM)]
        males, females, families = N.EXPAT[nationality]
        female_share = 350 if nationality in ("PHL", "IDN", "LKA") else 30
        gender = "F" if d.chance(female_share) else "M"
        given, family = d.pick(females if gender == "F" else males), d.pick(families)
        letters, digits = N.PASSPORT_SHAPE[nationality]
        code, title = d.pick(N.PROFESSIONS)
        wage = (90 + d.int(260) + (d.int(500) if d.chance(200) else 0)) * 1000 + d.int(4) * 250
        _, account = _account(d)
        return Worker(
            i, f"2{i:07d}", f"{d.pick(letters)}{d.int(10**digits):0{digits}d}", nationality,
            Name(f"{given[1]} {family[1]}", f"{given[0]} {family[0]}"),
            BIRTH_EPOCH - timedelta(days=21 * 365 + d.int(34 * 365)), gender,
            f"1{self._employer_of_worker(i):06d}", code, title, _money(wage), account,
            self.as_of + timedelta(days=d.int(800) - 60),
        )

    def employer(self, i: int) -> Employer:
        """Employer number ``i`` (``0 <= i < spec.employers``)."""
        _check_index("employer", i, self.spec.employers)
        d, today = Draw(self.spec.seed, "employer", i), self.as_of
        word, activity, form = d.pick(N.COMPANY_WORDS), d.pick(N.COMPANY_ACTIVITIES), d.pick(N.COMPANY_FORMS)
        name = Name(" ".join(p for p in (form[1], word[1], activity[1], form[2]) if p),
                    f"{word[0]} {activity[0]} {form[0]}")
        roll = d.int(1000)
        status = "active" if roll < 920 else "expired" if roll < 970 else "suspended"
        cr_expiry = today - timedelta(days=1 + d.int(400)) if status == "expired" \
            else today + timedelta(days=30 + d.int(1000))
        lapsed = d.chance(100)
        valid_until = today - timedelta(days=1 + d.int(300)) if lapsed else today + timedelta(days=10 + d.int(360))
        bic, account = _account(d)
        first = count = 0
        if self.spec.workers:
            starts = self._blocks(i // BLOCK)
            first, count = starts[i % BLOCK], starts[i % BLOCK + 1] - starts[i % BLOCK]
        return Employer(
            i, f"1{i:06d}", name, N.GOVERNORATES[d.weighted(_GOVERNORATE_CUM)][0], status, cr_expiry,
            # unique (7919 is prime to 10**7) without showing the index
            f"{10**7 + (i * 7919 + 104729) % 10**7:08d}", d.pick(N.CHAMBER_GRADES), valid_until,
            "lapsed" if lapsed else "valid", bic, account, first, count,
        )

    # -- lookups by id ------------------------------------------------------
    def citizen_by_civil_number(self, civil_number: str) -> Citizen | None:
        i = _decode(civil_number, "1", 8, self.spec.citizens)
        return None if i is None else self.citizen(i)

    def worker_by_civil_number(self, civil_number: str) -> Worker | None:
        i = _decode(civil_number, "2", 8, self.spec.workers)
        return None if i is None else self.worker(i)

    def employer_by_cr(self, cr_number: str) -> Employer | None:
        i = _decode(cr_number, "1", 7, self.spec.employers)
        return None if i is None else self.employer(i)

    # -- lazy iteration -----------------------------------------------------
    def citizens(self) -> Iterator[Citizen]:
        return map(self.citizen, range(self.spec.citizens))

    def workers(self) -> Iterator[Worker]:
        return map(self.worker, range(self.spec.workers))

    def employers(self) -> Iterator[Employer]:
        return map(self.employer, range(self.spec.employers))

    def workers_of(self, employer: Employer) -> Iterator[Worker]:
        """The employer's expatriate workers, in index order."""
        return map(self.worker, range(employer.first_worker, employer.first_worker + employer.worker_count))

    def citizens_employed_by(self, employer: Employer) -> Iterator[Citizen]:
        """Citizens actively employed by ``employer`` (private sector, social insurance)."""
        for i in range(employer.index, self.spec.citizens, max(1, self.spec.employers)):
            citizen = self.citizen(i)
            if citizen.employer_cr == employer.cr_number and citizen.employment_active:
                yield citizen

    def find_citizen(self, **criteria) -> Citizen:
        """First citizen (by index) matching every criterion.

        A criterion is an attribute (``insurer="social-insurance"``) or one of
        ``married``, ``insured`` (booleans), ``wage_at_least``, ``wage_below``.
        """
        return _find_first(self.citizens(), "citizen", criteria)

    def find_worker(self, **criteria) -> Worker:
        """First worker matching every criterion (attributes, ``wage_at_least``, ``wage_below``)."""
        return _find_first(self.workers(), "worker", criteria)

    def find_employer(self, **criteria) -> Employer:
        """First employer matching, e.g. ``cr_status="expired"``, ``min_workers=3``."""
        return _find_first(self.employers(), "employer", criteria)


def _check_index(kind: str, i: int, count: int) -> None:
    if not isinstance(i, int) or not 0 <= i < count:
        raise InputError(f"no {kind} number {i!r}: the population has {count}")


def _decode(number: str, prefix: str, length: int, count: int) -> int | None:
    """Index encoded in an id, or None when the id is not one of ours."""
    if not isinstance(number, str) or len(number) != length or not number.isdigit() \
            or not number.isascii() or number[0] != prefix:
        return None
    i = int(number[1:])
    return i if i < count else None


_DERIVED = {
    "married": lambda e, v: (e.marital_status == "married") == v,
    "insured": lambda e, v: (e.insurer is not None) == v,
    "wage_at_least": lambda e, v: e.monthly_wage is not None and e.monthly_wage >= Decimal(v),
    "wage_below": lambda e, v: e.monthly_wage is not None and e.monthly_wage < Decimal(v),
    "min_workers": lambda e, v: e.worker_count >= v,
}


def _find_first(entities: Iterator, kind: str, criteria: dict):
    """First entity satisfying every criterion; a clear error when none does."""
    def matches(entity) -> bool:
        for key, value in criteria.items():
            if key in _DERIVED:
                if not _DERIVED[key](entity, value):
                    return False
            elif not hasattr(entity, key):
                raise InputError(f"unknown {kind} criterion {key!r}")
            elif getattr(entity, key) != value:
                return False
        return True
    for entity in entities:
        if matches(entity):
            return entity
    raise InputError(f"no {kind} in the population matches {criteria}")
