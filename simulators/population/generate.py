"""How each entity is drawn: the distributions of citizens, workers and employers.

Each function turns one entity's :class:`~simulators.population.draw.Draw`
into a record; what it cannot draw itself (the employer owning a worker, the
workers of an employer) it is given. Identifiers encode the index (citizen
``1nnnnnnn``, worker ``2nnnnnnn``, employer CR ``1nnnnnn``). Validity dates
(CR expiry, chamber membership, residence) are offsets from ``as_of``, so
"active" stays active whatever the day; dates of birth are offsets from
:data:`BIRTH_EPOCH`.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import accumulate

from simulators import names as N
from simulators.population.draw import Draw, bank_account, money
from simulators.population.model import Citizen, Employer, Name, PopulationSpec, Worker

BIRTH_EPOCH = date(2026, 1, 1)
_NATIONALITIES = tuple(code for code, _ in N.NATIONALITY_WEIGHTS)
_NATIONALITY_CUM = tuple(accumulate(w for _, w in N.NATIONALITY_WEIGHTS))
_GOVERNORATE_CUM = tuple(accumulate(w for _, w in N.GOVERNORATES))
_MARITAL = ("single", "divorced", "widowed", "married")  # "married" here: spouse not a citizen we know
_MARITAL_CUM = tuple(accumulate((650, 130, 50, 170)))
_AGES = {"married": (25, 40), "single": (18, 28), "divorced": (28, 40), "widowed": (35, 40)}  # (min, span)
_INSURERS = ("social-insurance", "civil-service-pension", None)
_INSURER_CUM = tuple(accumulate((600, 200, 200)))


def make_citizen(spec: PopulationSpec, i: int) -> Citizen:
    """Citizen number ``i``; couples are neighbouring indexes married to each other."""
    d, pair = Draw(spec.seed, "citizen", i), Draw(spec.seed, "couple", i // 2)
    partner = i ^ 1
    if pair.chance(500) and partner < spec.citizens:  # a couple: married to each other
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
        wage = money(omr * 1000 + d.int(20) * 50)
        if insurer == "social-insurance" and spec.employers:
            employer = f"1{i % spec.employers:06d}"
    return Citizen(i, f"1{i:07d}", _omani_name(d, gender), born, gender, status, spouse, insurer,
                   employer, wage, insurer is not None and d.chance(950), bank_account(d)[1])


def make_worker(seed: int, i: int, as_of: date, employer_index: int) -> Worker:
    """Worker number ``i``, employed by employer number ``employer_index``."""
    d = Draw(seed, "worker", i)
    nationality = _NATIONALITIES[d.weighted(_NATIONALITY_CUM)]
    males, females, families = N.EXPAT[nationality]
    female_share = 350 if nationality in ("PHL", "IDN", "LKA") else 30
    gender = "F" if d.chance(female_share) else "M"
    given, family = d.pick(females if gender == "F" else males), d.pick(families)
    letters, digits = N.PASSPORT_SHAPE[nationality]
    code, title = d.pick(N.PROFESSIONS)
    wage = (90 + d.int(260) + (d.int(500) if d.chance(200) else 0)) * 1000 + d.int(4) * 250
    _, account = bank_account(d)
    return Worker(
        i, f"2{i:07d}", f"{d.pick(letters)}{d.int(10**digits):0{digits}d}", nationality,
        Name(f"{given[1]} {family[1]}", f"{given[0]} {family[0]}"),
        BIRTH_EPOCH - timedelta(days=21 * 365 + d.int(34 * 365)), gender,
        f"1{employer_index:06d}", code, title, money(wage), account,
        as_of + timedelta(days=d.int(800) - 60),
    )


def make_employer(seed: int, i: int, as_of: date, first_worker: int, worker_count: int) -> Employer:
    """Employer number ``i``, whose workers are ``worker_count`` indexes from ``first_worker``."""
    d, today = Draw(seed, "employer", i), as_of
    word, activity, form = d.pick(N.COMPANY_WORDS), d.pick(N.COMPANY_ACTIVITIES), d.pick(N.COMPANY_FORMS)
    name = Name(" ".join(p for p in (form[1], word[1], activity[1], form[2]) if p),
                f"{word[0]} {activity[0]} {form[0]}")
    roll = d.int(1000)
    status = "active" if roll < 920 else "expired" if roll < 970 else "suspended"
    cr_expiry = today - timedelta(days=1 + d.int(400)) if status == "expired" \
        else today + timedelta(days=30 + d.int(1000))
    lapsed = d.chance(100)
    valid_until = today - timedelta(days=1 + d.int(300)) if lapsed else today + timedelta(days=10 + d.int(360))
    bic, account = bank_account(d)
    return Employer(
        i, f"1{i:06d}", name, N.GOVERNORATES[d.weighted(_GOVERNORATE_CUM)][0], status, cr_expiry,
        # unique (7919 is prime to 10**7) without showing the index
        f"{10**7 + (i * 7919 + 104729) % 10**7:08d}", d.pick(N.CHAMBER_GRADES), valid_until,
        "lapsed" if lapsed else "valid", bic, account, first_worker, worker_count,
    )


def _omani_name(d: Draw, gender: str) -> Name:
    """Given name, "bin"/"bint" father's name, family name: أحمد بن سالم الحارثي."""
    given = d.pick(N.OMANI_FEMALE if gender == "F" else N.OMANI_MALE)
    father, family = d.pick(N.OMANI_MALE), d.pick(N.OMANI_FAMILY)
    link_en, link_ar = ("bint", "بنت") if gender == "F" else ("bin", "بن")
    return Name(f"{given[1]} {link_ar} {father[1]} {family[1]}", f"{given[0]} {link_en} {father[0]} {family[0]}")
