"""Salary information files (SIF) of the Wage Protection System, written as a bank would.

One CSV per employer payroll per month, ``SIF_<CR>_<BANK>_<YYYYMMDD>_<NNN>.csv``
(creation date, sequence). Row 1 holds the header labels, row 2 the header
values, row 3 the employee labels, then one row per employee. Two layouts are
seen in the field and both are written (``schemas/agencies/centralbank/README.md``):

* ``A``: ``Payer Account Number`` in the header, a ``Reference Number`` column;
* ``B``: ``Payer IBAN`` in the header, no ``Reference Number`` column.

``variant="mixed"`` lets each payer bank use its own layout, as bank software
does. Everything is drawn from the population's seed, so the same month of the
same population gives byte-identical files. Files are written to a temporary
name and renamed, so a reader never sees half a file — except the deliberately
truncated ones (``truncated_ratio``), which are renamed complete-but-cut.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hub.errors import InputError
from simulators import names as N
from simulators.population import Citizen, Draw, Employer, Population

HEADER_LABELS = {
    "A": ("Employer CR-NO", "Payer CR-NO", "Payer Bank Short Name", "Payer Account Number",
          "Salary Year", "Salary Month", "Total Salaries", "Number Of Records", "Payment Type"),
    "B": ("Employer CR-NO", "Payer CR-NO", "Payer Bank Short Name", "Payer IBAN",
          "Salary Year", "Salary Month", "Total Salaries", "Number Of Records", "Payment Type"),
}
EMPLOYEE_LABELS = {
    "A": ("Employee ID Type", "Employee ID", "Reference Number", "Employee Name", "Employee BIC Code",
          "Employee Account", "Salary Frequency", "Number Of Working days", "Net Salary", "Basic Salary",
          "Extra Hours", "Extra Income", "Deductions", "Social Security Deductions", "Notes / Comments"),
}
EMPLOYEE_LABELS["B"] = tuple(label for label in EMPLOYEE_LABELS["A"] if label != "Reference Number")

BANK_LAYOUT = {"BMUSOMRX": "A", "BDOFOMRX": "A", "BBMEOMRX": "A", "AUBOOMRU": "A", "IZZBOMRU": "A",
               "NBOMOMRX": "B", "BSHROMRU": "B", "OMABOMRU": "B", "BNZWOMRX": "B"}
"""Layout each payer bank's software produces when ``variant="mixed"``."""

DUE_DAY = 7
"""A month's salaries are due by this day of the following month; later is late."""

LATE_NOTE = "Late payment - paid {:%Y-%m-%d}"
"""``Notes / Comments`` of every line in a late file (the payment date)."""

SOCIAL_SECURITY_PER_MILLE = 70
"""Employee share of social insurance deducted from an Omani's basic salary."""

_BIC_BY_CODE = {code3: bic for bic, _, code3 in N.BANKS}
_SHORT_BY_BIC = {bic: short for bic, short, _ in N.BANKS}


@dataclass(frozen=True)
class SifFaults:
    """Faults to inject into a month of files; each ratio is between 0 and 1."""

    late_ratio: float = 0.0
    """Share of employers paying after the due date (whole file late, note on each line)."""
    missing_ratio: float = 0.0
    """Share of employees left out of their employer's file (not paid)."""
    broken_total_ratio: float = 0.0
    """Share of files whose ``Total Salaries`` does not add up."""
    truncated_ratio: float = 0.0
    """Share of files cut in the middle of an employee row."""

    def __post_init__(self) -> None:
        for name in ("late_ratio", "missing_ratio", "broken_total_ratio", "truncated_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise InputError(f"{name} must be a number from 0 to 1, got {value!r}")


@dataclass
class MonthSummary:
    """What :func:`write_month` wrote."""

    year: int
    month: int
    files: int = 0
    lines: int = 0
    total: Decimal = Decimal("0.000")
    """Sum of the net salaries actually written (truncated rows excluded)."""
    late_files: int = 0
    missing_lines: int = 0
    broken_total_files: int = 0
    truncated_files: int = 0
    variants: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})


def due_date(year: int, month: int) -> date:
    """Last on-time payment day for the salaries of ``year``-``month``."""
    return date(year + month // 12, month % 12 + 1, DUE_DAY)


def file_name(cr_number: str, bank_short: str, created: date, sequence: int = 1) -> str:
    return f"SIF_{cr_number}_{bank_short}_{created:%Y%m%d}_{sequence:03d}.csv"


def omr(baisas: int) -> str:
    """Amount with 3 decimals, from integer baisas (1 OMR = 1000 baisas)."""
    sign = "-" if baisas < 0 else ""
    return f"{sign}{abs(baisas) // 1000}.{abs(baisas) % 1000:03d}"


@dataclass(frozen=True)
class EmployerFile:
    """One employer's file for one month: name and bytes, plus what was injected."""

    name: str
    data: bytes
    variant: str
    lines: int
    total_baisas: int
    late: bool
    missing: int
    broken_total: bool
    truncated: bool


def render_employer_file(population: Population, employer: Employer, year: int, month: int,
                         faults: SifFaults = SifFaults(), variant: str = "mixed") -> EmployerFile | None:
    """The employer's SIF for the month, or None when nobody is paid (no file)."""
    rng = random.Random(Draw(population.spec.seed, f"sif:{year}-{month:02d}", employer.index).x)
    layout = BANK_LAYOUT[employer.bank_code] if variant == "mixed" else variant
    late = rng.random() < faults.late_ratio
    paid_on = _payment_date(rng, year, month, late)
    rows, missing = [], 0
    for person in _employees(population, employer):
        if rng.random() < faults.missing_ratio:
            missing += 1
            continue
        rows.append(_employee_row(rng, person, layout, paid_on, late, employer, len(rows) + 1))
    if not rows:
        return None
    total = sum(row.pop() for row in rows)  # each row carries its net baisas last
    broken = rng.random() < faults.broken_total_ratio
    declared = total + (rng.randint(1, 500_000) if broken else 0)
    bank_short = _SHORT_BY_BIC[employer.bank_code]
    payer_account = employer.iban[7:] if layout == "A" else employer.iban
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER_LABELS[layout])
    writer.writerow((employer.cr_number, employer.cr_number, bank_short, payer_account,
                     year, f"{month:02d}", omr(declared), len(rows), "Salary"))
    writer.writerow(EMPLOYEE_LABELS[layout])
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8")
    truncated = rng.random() < faults.truncated_ratio
    if truncated:
        data = _truncate(rng, data)
    return EmployerFile(file_name(employer.cr_number, bank_short, paid_on), data, layout, len(rows),
                        total, late, missing, broken, truncated)


def _employees(population: Population, employer: Employer) -> Iterable:
    yield from population.citizens_employed_by(employer)
    yield from population.workers_of(employer)


def _payment_date(rng: random.Random, year: int, month: int, late: bool) -> date:
    due = due_date(year, month)
    if late:
        return due + timedelta(days=rng.randint(1, 20))
    return date(year, month, 25) + timedelta(days=rng.randint(0, (due - date(year, month, 25)).days))


def _employee_row(rng: random.Random, person, layout: str, paid_on: date, late: bool,
                  employer: Employer, line: int) -> list:
    """One employee row (per layout), with the net salary in baisas appended last."""
    citizen = isinstance(person, Citizen)
    basic = int(person.monthly_wage.scaleb(3))
    hours = rng.choice((0, 0, 0, 0, 0, 8, 12, 16, 24, 30)) if not citizen else 0
    extra = hours * (basic // 208) * 5 // 4 + (rng.choice((0, 0, 10, 15, 25, 40)) * 1000)
    deductions = rng.choice((0,) * 12 + (5000, 10000, 25000, 50000))
    social = basic * SOCIAL_SECURITY_PER_MILLE // 1000 if citizen else 0
    net = basic + extra - min(deductions, basic // 2) - social
    row = ["C" if citizen else "R", person.civil_number]
    if layout == "A":
        row.append(f"{employer.bank_code[:4]}{paid_on:%y%m%d}{employer.index:06d}{line:04d}")
    row += [person.name.en.upper(), _BIC_BY_CODE[person.iban[4:7]], person.iban, "M", 30,
            omr(net), omr(basic), hours, omr(extra), omr(min(deductions, basic // 2)), omr(social),
            LATE_NOTE.format(paid_on) if late else "", net]
    return row


def _truncate(rng: random.Random, data: bytes) -> bytes:
    """Cut inside the last employee row, as an interrupted transfer would."""
    last_row_start = data.rstrip(b"\r\n").rfind(b"\r\n") + 2
    return data[:rng.randint(last_row_start + 1, len(data) - 3)]


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    """Write ``name`` in ``folder`` via ``name.tmp`` and a rename: readers see all or nothing."""
    target = folder / name
    temporary = folder / f"{name}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, target)
    return target


def write_month(population: Population, year: int, month: int, inbox: Path, *,
                late_ratio: float = 0.0, missing_ratio: float = 0.0, variant: str = "mixed",
                broken_total_ratio: float = 0.0, truncated_ratio: float = 0.0,
                employers: Iterable[int] | None = None,
                progress: Callable[[int, int, MonthSummary], None] | None = None) -> MonthSummary:
    """Write every employer's SIF for the month into ``inbox``, one file at a time.

    ``employers`` limits the run to some employer indexes; ``progress(done,
    total, summary)`` is called about every 1% of employers.
    """
    _check_month(year, month, variant)
    faults = SifFaults(late_ratio, missing_ratio, broken_total_ratio, truncated_ratio)
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    indexes = range(population.spec.employers) if employers is None else list(employers)
    summary, every = MonthSummary(year, month), max(1, len(indexes) // 100)
    total_baisas = 0
    for done, index in enumerate(indexes, 1):
        sif = render_employer_file(population, population.employer(index), year, month, faults, variant)
        if sif is not None:
            write_atomically(inbox, sif.name, sif.data)
            total_baisas += 0 if sif.truncated else sif.total_baisas
            _count(summary, sif)
        if progress and (done % every == 0 or done == len(indexes)):
            progress(done, len(indexes), summary)
    summary.total = Decimal(total_baisas).scaleb(-3)
    return summary


def _count(summary: MonthSummary, sif: EmployerFile) -> None:
    summary.files += 1
    summary.lines += sif.lines
    summary.late_files += sif.late
    summary.missing_lines += sif.missing
    summary.broken_total_files += sif.broken_total
    summary.truncated_files += sif.truncated
    summary.variants[sif.variant] += 1


def _check_month(year: int, month: int, variant: str) -> None:
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise InputError(f"salary year must be from 2000 to 2100, got {year!r}")
    if not isinstance(month, int) or not 1 <= month <= 12:
        raise InputError(f"salary month must be from 1 to 12, got {month!r}")
    if variant not in ("A", "B", "mixed"):
        raise InputError(f"SIF variant must be 'A', 'B' or 'mixed', got {variant!r}")
