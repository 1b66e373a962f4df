"""Reading salary information files (SIF) into rows XML, checking every line.

The layout is described in ``schemas/agencies/centralbank/README.md``: row 1
header labels, row 2 header values, row 3 employee labels, then one row per
employee; columns are found by label, and two label sets are in use (payer
``Payer Account Number`` or ``Payer IBAN``; with or without ``Reference
Number``). :func:`read_sif` streams the CSV line by line and builds::

    <sif file="SIF_1000011_BMCT_20260301_001.csv" payer="account">
      <name cr="1000011" bank="BMCT" date="2026-03-01" sequence="001"/>
      <header line="2"><EmployerCrNo>1000011</EmployerCrNo>…</header>
      <employee line="4"><EmployeeIdType>C</EmployeeIdType>…</employee>…
    </sif>

one element per column, named after its label (:func:`tag`: ``Payer IBAN``
→ ``PayerIban``), which ``mappings/centralbank/SalaryBatch.xsl`` turns into
the canonical SalaryBatch. (Element names rather than ``<field name=…>``:
the mapping then selects children by name, about twice as fast in libxslt.) Every problem is reported with its line; the file yields its one
document only when there is none.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lxml import etree

from hub.adapter import FileItem

HEADER_LABELS = ("Employer CR-NO", "Payer CR-NO", "Payer Bank Short Name", "Payer Account Number",
                 "Salary Year", "Salary Month", "Total Salaries", "Number Of Records", "Payment Type")
HEADER_LABELS_IBAN = tuple("Payer IBAN" if label == "Payer Account Number" else label for label in HEADER_LABELS)
EMPLOYEE_LABELS = ("Employee ID Type", "Employee ID", "Reference Number", "Employee Name", "Employee BIC Code",
                   "Employee Account", "Salary Frequency", "Number Of Working days", "Net Salary",
                   "Basic Salary", "Extra Hours", "Extra Income", "Deductions", "Social Security Deductions",
                   "Notes / Comments")
EMPLOYEE_LABELS_NO_REFERENCE = tuple(label for label in EMPLOYEE_LABELS if label != "Reference Number")
BANK_SHORT_NAMES = ("BMCT", "NBO", "BDOF", "SIB", "HSBC", "OAB", "AHLI", "BNZW", "ALIZZ")

FILE_NAME = re.compile(r"^SIF_([0-9]{7,10})_([A-Z]{2,8})_([0-9]{8})_([0-9]{3})\.csv$")
_AMOUNT = re.compile(r"^[0-9]{1,12}\.[0-9]{3}$")
_PERSON_ID = re.compile(r"^[0-9]{8,9}$")
_CR = re.compile(r"^[0-9]{7,10}$")
_IBAN = re.compile(r"^OM[0-9]{2}[0-9]{3}[0-9A-Z]{16}$")
_ACCOUNT = re.compile(r"^[0-9A-Z]{16}$")
_BIC = re.compile(r"^[A-Z]{4}OM[A-Z0-9]{2}([A-Z0-9]{3})?$")
_AMOUNTS = ("Net Salary", "Basic Salary", "Extra Income", "Deductions", "Social Security Deductions")


def tag(label: str) -> str:
    """Element name of a column: its label's words capitalised and joined (``Employer CR-NO`` → ``EmployerCrNo``)."""
    return "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", label) if word)


_TAGS = {label: tag(label) for label in HEADER_LABELS + HEADER_LABELS_IBAN + EMPLOYEE_LABELS}


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN already shaped like an Omani one."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def baisas(amount: str) -> int:
    """``"351.308"`` → 351308 (the amount was checked against ``_AMOUNT``)."""
    return int(amount.replace(".", ""))


def omr(value: int) -> str:
    return f"{value // 1000}.{value % 1000:03d}"


class _Lines:
    """Decoded lines of a binary stream, remembering undecodable lines and a missing final line end."""

    def __init__(self, stream) -> None:
        self.stream, self.number, self.bad_encoding, self.unterminated = stream, 0, [], False

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.number += 1
            self.unterminated = not raw.endswith(b"\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad_encoding.append((self.number, f"not UTF-8 text (byte {exc.start + 1} of the line)"))
                text = raw.decode("utf-8", "replace")
            yield text.lstrip("\ufeff") if self.number == 1 else text


def read_sif(path: Path) -> Iterator[FileItem]:
    """Stream one SIF: a FileItem per bad line, or (when all is well) the one rows document."""
    path = Path(path)
    root = etree.Element("sif", file=path.name)
    errors: list[FileItem] = list(_check_name(path.name, root))
    with open(path, "rb") as stream:
        lines = _Lines(stream)
        rows = csv.reader(lines, strict=True)
        try:
            _read_rows(rows, lines, root, errors)
        except csv.Error as exc:
            errors.append(FileItem(lines.number, error=f"not valid CSV: {exc}"))
    errors += [FileItem(line, error=reason) for line, reason in lines.bad_encoding]
    if lines.unterminated and lines.number > 3:
        errors.append(FileItem(lines.number, error="last line is cut off (no line end): the file is truncated"))
    if errors:
        yield from sorted(errors, key=lambda item: item.line)
        return
    header = root.find("header")
    source_id = f"{_field(header, 'Employer CR-NO')}/{_field(header, 'Salary Year')}-{_field(header, 'Salary Month')}"
    yield FileItem(line=2, payload=root, source_id=source_id)


def _field(element, label: str) -> str:
    return element.findtext(_TAGS[label]) or ""


def _check_name(name: str, root) -> Iterator[FileItem]:
    match = FILE_NAME.match(name)
    if not match:
        yield FileItem(0, error=f"file name {name!r} is not SIF_<CR>_<BANK>_<YYYYMMDD>_<NNN>.csv")
        return
    cr, bank, day, sequence = match.groups()
    try:
        created = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        yield FileItem(0, error=f"file name date {day} is not a valid date")
        return
    etree.SubElement(root, "name", cr=cr, bank=bank, date=created.isoformat(), sequence=sequence)


def _read_rows(rows, lines: _Lines, root, errors: list[FileItem]) -> None:
    header_labels = next(rows, None)
    if header_labels is None:
        errors.append(FileItem(1, error="file has no header"))
        return
    payer = _header_layout([label.strip() for label in header_labels], errors)
    values = next(rows, None)
    if values is None:
        errors.append(FileItem(2, error="header values (line 2) are missing"))
        return
    header = _header(root, payer, values, errors) if payer else None
    employee_labels = next(rows, None)
    if employee_labels is None:
        errors.append(FileItem(3, error="employee labels (line 3) are missing"))
        return
    labels = _employee_layout([label.strip() for label in employee_labels], errors)
    count, total = _employees(rows, lines, root, labels, errors)
    if header is not None:
        _check_totals(header, count, total, errors)


def _header_layout(labels: list[str], errors: list[FileItem]) -> str | None:
    for payer, expected in (("account", HEADER_LABELS), ("iban", HEADER_LABELS_IBAN)):
        if tuple(labels) == expected:
            return payer
    missing = [label for label in HEADER_LABELS_IBAN if label not in labels and label != "Payer IBAN"]
    if "Payer IBAN" not in labels and "Payer Account Number" not in labels:
        missing.append("Payer IBAN or Payer Account Number")
    extra = [label for label in labels if label not in HEADER_LABELS + ("Payer IBAN",)]
    detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                     f"unexpected {', '.join(extra)}" if extra else ""])) or "wrong order"
    errors.append(FileItem(1, error=f"header labels are not a known SIF layout: {detail}"))
    return None


def _employee_layout(labels: list[str], errors: list[FileItem]) -> tuple[str, ...] | None:
    for expected in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE):
        if tuple(labels) == expected:
            return expected
    missing = [label for label in EMPLOYEE_LABELS_NO_REFERENCE if label not in labels]
    extra = [label for label in labels if label not in EMPLOYEE_LABELS]
    detail = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                     f"unexpected {', '.join(extra)}" if extra else ""])) or "wrong order"
    errors.append(FileItem(3, error=f"employee labels are not a known SIF layout: {detail}"))
    return None


def _header(root, payer: str, values: list[str], errors: list[FileItem]):
    """Check the header values (line 2) and add ``<header>``; None when they are unusable."""
    labels = HEADER_LABELS if payer == "account" else HEADER_LABELS_IBAN
    if len(values) != len(labels):
        errors.append(FileItem(2, error=f"header has {len(values)} values, expected {len(labels)}"))
        return None
    fields = dict(zip(labels, (value.strip() for value in values)))
    for problem in _header_problems(fields, root.find("name")):
        errors.append(FileItem(2, error=problem))
    root.set("payer", payer)
    header = etree.SubElement(root, "header", line="2")
    for label in labels:
        etree.SubElement(header, _TAGS[label]).text = fields[label]
    return header


def _header_problems(fields: dict[str, str], name) -> Iterator[str]:
    cr = fields["Employer CR-NO"]
    if not _CR.match(cr):
        yield f"Employer CR-NO {cr!r} is not a CR number (7 to 10 digits)"
    elif name is not None and name.get("cr") != cr:
        yield f"Employer CR-NO {cr} differs from the CR {name.get('cr')} in the file name"
    if not _CR.match(fields["Payer CR-NO"]):
        yield f"Payer CR-NO {fields['Payer CR-NO']!r} is not a CR number"
    bank = fields["Payer Bank Short Name"]
    if bank not in BANK_SHORT_NAMES:
        yield f"Payer Bank Short Name {bank!r} is not one of {', '.join(BANK_SHORT_NAMES)}"
    elif name is not None and name.get("bank") != bank:
        yield f"Payer Bank Short Name {bank} differs from the bank {name.get('bank')} in the file name"
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
        yield f"Total Salaries {fields['Total Salaries']!r} is not an amount with 3 decimals"
    if not fields["Number Of Records"].isdigit() or int(fields["Number Of Records"]) < 1:
        yield f"Number Of Records {fields['Number Of Records']!r} is not a positive whole number"


def _period_problems(year: str, month: str) -> Iterator[str]:
    if not (len(year) == 4 and year.isdigit() and 2000 <= int(year) <= 2100):
        yield f"Salary Year {year!r} is not a year (YYYY)"
    if not (len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
        yield f"Salary Month {month!r} is not a month (01 to 12)"


def _employees(rows, lines: _Lines, root, labels, errors: list[FileItem]) -> tuple[int, int]:
    """Check and add every employee row; (rows read, sum of their net salaries in baisas)."""
    count, total, blank = 0, 0, None
    for values in rows:
        line = lines.number
        if not values or values == [""]:
            blank = blank or line
            continue
        if blank is not None:
            errors.append(FileItem(blank, error="empty line between employee rows"))
            blank = None
        count += 1
        if labels is None:
            continue
        if len(values) != len(labels):
            errors.append(FileItem(line, error=f"{len(values)} columns, expected {len(labels)}"))
            continue
        fields = dict(zip(labels, (value.strip() for value in values)))
        problems = list(_row_problems(fields))
        errors += [FileItem(line, error=problem) for problem in problems]
        if not problems:
            total += baisas(fields["Net Salary"])
            employee = etree.SubElement(root, "employee", line=str(line))
            for label in labels:
                etree.SubElement(employee, _TAGS[label]).text = fields[label]
    return count, total


def _row_problems(fields: dict[str, str]) -> Iterator[str]:
    kind, person = fields["Employee ID Type"], fields["Employee ID"]
    if kind not in ("C", "R"):
        yield f"Employee ID Type {kind!r} is not C (civil ID) or R (resident card)"
    if not person:
        yield "Employee ID is missing"
    elif not _PERSON_ID.match(person):
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
    bad = [label for label in _AMOUNTS if not _AMOUNT.match(fields[label])]
    for label in bad:
        yield f"{label} {fields[label]!r} is not an amount with 3 decimals"
    if not bad:
        net, basic, extra, deductions, social = (baisas(fields[label]) for label in _AMOUNTS)
        if net != basic + extra - deductions - social:
            yield (f"Net Salary {fields['Net Salary']} is not Basic Salary + Extra Income - Deductions - "
                   f"Social Security Deductions ({omr(basic + extra - deductions - social) if basic + extra >= deductions + social else 'negative'})")


def _check_totals(header, count: int, total: int, errors: list[FileItem]) -> None:
    declared_count, declared_total = _field(header, "Number Of Records"), _field(header, "Total Salaries")
    if declared_count.isdigit() and int(declared_count) != count:
        errors.append(FileItem(2, error=f"Number Of Records is {declared_count} but the file has {count} employee row(s)"))
    if _AMOUNT.match(declared_total) and baisas(declared_total) != total and not any(e.line > 3 for e in errors):
        errors.append(FileItem(2, error=f"Total Salaries is {declared_total} but the Net Salary rows add up to {omr(total)}"))
