"""The rules a salary information file (SIF) must follow, and the words for each breach.

Layouts and rules are those of ``schemas/agencies/centralbank/README.md``.
Every employee row is checked twice over only when it is bad: a row first
meets :func:`row_ok`, one compiled pattern over the whole row plus the two
checks a pattern cannot do (IBAN mod 97, the net salary sum). Only a row it
refuses goes through :func:`row_problems`, which names each broken field. The
pattern is at least as strict as the field checks (and also refuses
characters XML cannot carry), so a row it accepts is one they accept.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Sequence

HEADER_LABELS = ("Employer CR-NO", "Payer CR-NO", "Payer Bank Short Name", "Payer Account Number",
                 "Salary Year", "Salary Month", "Total Salaries", "Number Of Records", "Payment Type")
HEADER_LABELS_IBAN = tuple("Payer IBAN" if label == "Payer Account Number" else label for label in HEADER_LABELS)
EMPLOYEE_LABELS = ("Employee ID Type", "Employee ID", "Reference Number", "Employee Name", "Employee BIC Code",
                   "Employee Account", "Salary Frequency", "Number Of Working days", "Net Salary",
                   "Basic Salary", "Extra Hours", "Extra Income", "Deductions", "Social Security Deductions",
                   "Notes / Comments")
EMPLOYEE_LABELS_NO_REFERENCE = tuple(label for label in EMPLOYEE_LABELS if label != "Reference Number")
BANK_SHORT_NAMES = ("BMCT", "NBO", "BDOF", "SIB", "HSBC", "OAB", "AHLI", "BNZW", "ALIZZ")

_AMOUNT = re.compile(r"^[0-9]{1,12}\.[0-9]{3}$")
#: an amount as a spreadsheet writes a "General" cell: 0 to 3 decimals (``45.75``, ``0``)
_LOOSE_AMOUNT = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,3})?$")
_PERSON_ID = re.compile(r"^[0-9]{8,9}$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,12}$")
_CR = re.compile(r"^[0-9]{7,10}$")
_IBAN = re.compile(r"^OM[0-9]{2}[0-9]{3}[0-9A-Z]{16}$")
_ACCOUNT = re.compile(r"^[0-9A-Z]{16}$")
_BIC = re.compile(r"^[A-Z]{4}OM[A-Z0-9]{2}([A-Z0-9]{3})?$")
AMOUNTS = ("Net Salary", "Basic Salary", "Extra Income", "Deductions", "Social Security Deductions")
#: characters XML 1.0 cannot carry (C0 controls but tab, line feed, carriage return; U+FFFE, U+FFFF)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LETTER_DIGITS = {ord(ch): str(int(ch, 36)) for ch in string.ascii_letters}


def label_key(label: str) -> str:
    """A label as compared: case and spacing do not count (``Employee  id`` is ``Employee ID``)."""
    return "".join(label.split()).casefold()


def tag(label: str) -> str:
    """Element name of a column: its label's words capitalised and joined (``Employer CR-NO`` → ``EmployerCrNo``)."""
    return "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", label) if word)


TAGS = {label: tag(label) for label in HEADER_LABELS + HEADER_LABELS_IBAN + EMPLOYEE_LABELS}


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN already shaped like an Omani one."""
    bban = iban[4:]
    if bban.isdigit() and iban[:2] == "OM":  # the usual case: only "OM" to turn into digits (24 22)
        return int(f"{bban}2422{iban[2:4]}") % 97 == 1
    return int((bban + iban[:4]).translate(_LETTER_DIGITS)) % 97 == 1


def baisas(amount: str) -> int:
    """``"351.308"`` → 351308 (the amount was checked against ``_AMOUNT``)."""
    return int(amount.replace(".", ""))


def amount_with_3_decimals(text: str) -> str:
    """A spreadsheet amount (``45.75``, ``0``) in the file's own form (``45.750``); other text unchanged.

    Normalizing here, before any check, keeps one form for everything after:
    the sums in baisas, the rows document and the canonical Money values.
    """
    if not _LOOSE_AMOUNT.match(text):
        return text
    whole, _, decimals = text.partition(".")
    return f"{int(whole)}.{decimals.ljust(3, '0')}"


def month_with_2_digits(text: str) -> str:
    """``2`` → ``02`` (a month as a spreadsheet writes it); other text unchanged."""
    return f"0{text}" if len(text) == 1 and text.isdigit() else text


def omr(value: int) -> str:
    return f"{value // 1000}.{value % 1000:03d}"


def layout_problem(row: int, labels: Sequence[str], layouts: Sequence[tuple[str, ...]],
                   alternatives: dict[str, str]) -> str:
    """Why ``labels`` (row 1 or 3) match none of ``layouts``: what is missing, what is unexpected."""
    known = {label for layout in layouts for label in layout}
    either = set(alternatives)
    missing = [label for label in layouts[-1] if label not in labels and label not in either]
    missing += [f"{a} or {b}" for a, b in alternatives.items() if a not in labels and b not in labels]
    extra = [label for label in labels if label not in known]
    detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                     f"unexpected {', '.join(extra)}" if extra else ""])) or "wrong order"
    what = "header" if row == 1 else "employee"
    return f"{what} labels are not a known SIF layout: {detail}"


def header_problems(fields: dict[str, str], name: dict[str, str] | None) -> Iterator[str]:
    """What is wrong with the header values (line 2); ``name`` holds the parts of the file name."""
    cr = fields["Employer CR-NO"]
    if not _CR.match(cr):
        yield f"Employer CR-NO {cr!r} is not a CR number (7 to 10 digits)"
    elif name is not None and name["cr"] != cr:
        yield f"Employer CR-NO {cr} differs from the CR {name['cr']} in the file name"
    if not _CR.match(fields["Payer CR-NO"]):
        yield f"Payer CR-NO {fields['Payer CR-NO']!r} is not a CR number"
    bank = fields["Payer Bank Short Name"]
    if bank not in BANK_SHORT_NAMES:
        yield f"Payer Bank Short Name {bank!r} is not one of {', '.join(BANK_SHORT_NAMES)}"
    elif name is not None and name["bank"] != bank:
        yield f"Payer Bank Short Name {bank} differs from the bank {name['bank']} in the file name"
    if "Payer IBAN" in fields:
        iban = fields["Payer IBAN"]
        if not iban:
            yield "Payer IBAN is missing"
        elif not _IBAN.match(iban) or not iban_ok(iban):
            yield f"Payer IBAN {iban!r} is not a valid Omani IBAN"
    elif not _ACCOUNT.match(fields["Payer Account Number"]):
        yield f"Payer Account Number {fields['Payer Account Number']!r} is not 16 letters or digits"
    yield from _period_problems(fields["Salary Year"], fields["Salary Month"])
    if not _AMOUNT.match(fields["Total Salaries"]):
        yield f"Total Salaries {fields['Total Salaries']!r} is not an amount in rials (up to 3 decimals)"
    if not fields["Number Of Records"].isdigit() or int(fields["Number Of Records"]) < 1:
        yield f"Number Of Records {fields['Number Of Records']!r} is not a positive whole number"
    if fields["Payment Type"] != "Salary":
        yield f"Payment Type {fields['Payment Type']!r} is not Salary"


def _period_problems(year: str, month: str) -> Iterator[str]:
    if not (len(year) == 4 and year.isdigit() and 2000 <= int(year) <= 2100):
        yield f"Salary Year {year!r} is not a year (YYYY)"
    if not (len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
        yield f"Salary Month {month!r} is not a month (1 to 12, with or without a leading zero)"


def not_xml_problems(fields: dict[str, str], labels) -> Iterator[str]:
    """A problem for each of the ``labels`` whose value holds a character XML cannot carry.

    Only columns no other rule checks: a bad character in an amount or an id
    already breaks that column's own rule.
    """
    for label in labels:
        found = NOT_XML.search(fields.get(label, ""))
        if found:
            yield f"{label} {fields[label]!r} holds the control character U+{ord(found.group()):04X}"


_FIELD = {  # the pattern row_ok applies to each checked column; others only exclude NOT_XML characters
    # the ID's form depends on its type, so both columns are one pattern (they are adjacent in every layout)
    "Employee ID Type": "(?:[CR]\x1f[0-9]{8,9}|P\x1f[A-Z0-9]{5,12})",
    "Reference Number": "(?:[0-9A-Za-z][0-9A-Za-z/._-]{0,34})?",
    "Employee Name": "[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]+",
    "Employee BIC Code": "[A-Z]{4}OM[A-Z0-9]{2}(?:[A-Z0-9]{3})?",
    "Employee Account": "OM[0-9]{2}[0-9]{3}[0-9A-Z]{16}",
    "Salary Frequency": "M", "Number Of Working days": "(?:[0-9]|[12][0-9]|3[01])", "Extra Hours": "[0-9]{1,3}(?:\\.[0-9]{1,2})?",
    **{label: "[0-9]{1,12}\\.[0-9]{3}" for label in AMOUNTS},
}
#: columns of a fixed form that row_problems checks with their _FIELD pattern, and the words for it
_FORM_RULES = {"Reference Number": "up to 35 letters, digits or - / . _ (starting with a letter or digit)",
               "Salary Frequency": "M (monthly)", "Number Of Working days": "a whole number from 0 to 31",
               "Extra Hours": "a number of hours (up to 999, at most 2 decimals)"}
#: columns with no rule of their own but the characters XML can carry (the name must not be empty either)
_FREE_TEXT = ("Employee Name", "Notes / Comments")
_ANY = "[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*"  # \x1f, the separator below, is excluded too


class RowCheck:
    """The fast check of one employee layout: whole-row pattern, IBAN, net salary sum (and the deductions')."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self.pattern = re.compile("\x1f".join(_FIELD.get(label, _ANY) for label in labels
                                               if label != "Employee ID"))
        self.account = labels.index("Employee Account")
        self.amounts = [labels.index(label) for label in AMOUNTS]

    def sums(self, values: list[str], joined: str) -> tuple[int, int] | None:
        """(net salary, both deductions) in baisas for a good row, else None (``joined``: values joined by \\x1f)."""
        if not self.pattern.fullmatch(joined) or not iban_ok(values[self.account]):
            return None
        net, basic, extra, deductions, social = self.amounts
        net = int(values[net].replace(".", ""))
        deducted = int(values[deductions].replace(".", "")) + int(values[social].replace(".", ""))
        earned = int(values[basic].replace(".", "")) + int(values[extra].replace(".", ""))
        return (net, deducted) if net == earned - deducted else None


def row_problems(fields: dict[str, str]) -> Iterator[str]:
    """Every problem of one employee row, by field (a row :class:`RowCheck` refused)."""
    kind, person = fields["Employee ID Type"], fields["Employee ID"]
    if kind not in ("C", "R", "P"):
        yield f"Employee ID Type {kind!r} is not C (civil ID), R (resident card) or P (passport)"
    if not person:
        yield "Employee ID is missing"
    elif kind == "P" and not _PASSPORT.match(person):
        yield f"Employee ID {person!r} is not a passport number (5 to 12 capital letters or digits)"
    elif kind != "P" and not _PERSON_ID.match(person):
        yield f"Employee ID {person!r} is not 8 or 9 digits"
    if not fields["Employee Name"]:
        yield "Employee Name is missing"
    iban = fields["Employee Account"]
    if not iban:
        yield "Employee Account (IBAN) is missing"
    elif not _IBAN.match(iban) or not iban_ok(iban):
        yield f"Employee Account {iban!r} is not a valid Omani IBAN"
    if not _BIC.match(fields["Employee BIC Code"]):
        yield f"Employee BIC Code {fields['Employee BIC Code']!r} is not a BIC"
    for label, rule in _FORM_RULES.items():
        if label in fields and not re.fullmatch(_FIELD[label], fields[label]):
            yield f"{label} {fields[label]!r} is not {rule}"
    bad = [label for label in AMOUNTS if not _AMOUNT.match(fields[label])]
    for label in bad:
        yield f"{label} {fields[label]!r} is not an amount in rials (up to 3 decimals)"
    if not bad:
        net, basic, extra, deductions, social = (baisas(fields[label]) for label in AMOUNTS)
        if net != basic + extra - deductions - social:
            yield (f"Net Salary {fields['Net Salary']} is not Basic Salary + Extra Income - Deductions - "
                   f"Social Security Deductions ({omr(basic + extra - deductions - social) if basic + extra >= deductions + social else 'negative'})")
    yield from not_xml_problems(fields, _FREE_TEXT)


def amount_ok(text: str) -> bool:
    """True for an amount with 3 decimals (``351.308``)."""
    return bool(_AMOUNT.match(text))
