"""Reading salary information files (SIF) into rows XML, checking every line.

The layout is described in ``schemas/agencies/centralbank/README.md``: row 1
header labels, row 2 header values, row 3 employee labels, then one row per
employee; columns are found by label, and two label sets are in use (payer
``Payer Account Number`` or ``Payer IBAN``; with or without ``Reference
Number``). :func:`read_sif` streams the CSV line by line and builds::

    <sif file="SIF_1000011_BMCT_20260301_001.csv" payer="account">
      <name cr="1000011" bank="BMCT" date="2026-03-01" sequence="001"/>
      <header line="2"><EmployerCrNo>1000011</EmployerCrNo>…</header>
      <employee line="4" lang="en"><EmployeeIdType>C</EmployeeIdType>…</employee>…
    </sif>

one element per column, named after its label (:func:`tag`: ``Payer IBAN``
→ ``PayerIban``), which ``mappings/centralbank/SalaryBatch.xsl`` turns into
the canonical SalaryBatch. (Element names rather than ``<field name=…>``:
the mapping then selects children by name, about twice as fast in libxslt.)
An employee row carries only the columns the mapping reads
(:data:`MAPPED_LABELS`): the others (BIC, frequency, working days, extra
hours, notes) are checked here and have no place in the canonical message;
parsing them cost a quarter of the rows document's instructions. Both
deductions go as one exact ``DeductionsTotal``, added up by the row check:
cheaper than libxslt's addition and format-number on every row.
Every problem is reported with its line; the file yields its one document
only when there is none. A file of bad lines keeps only the problems the
rejection report can list (:data:`hub.filedrop.report.MAX_LISTED`, the first
by line) and counts the rest, so its memory does not grow with its size.

Files as payroll systems export them are read as the bank reads them:
labels in any case and spacing, amounts as spreadsheet cells (``45.75``,
``0``, normalized to 3 decimals), the month without its leading zero, and
empty or separator-only rows (``,,,,``) ignored.

Why text fed to a parser rather than ``SubElement`` calls: a row is one
f-string of escaped values, and lxml's incremental parser builds the
tree in C — several times faster than 15 Python calls per row, and still
never holding the rows document as one text (rows are fed in slices). Only
a file the watcher already holds, of at most 256 KiB, is decoded whole.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lxml import etree

from adapters.centralbank.sif_checks import (
    BANK_SHORT_NAMES, EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE, HEADER_LABELS, HEADER_LABELS_IBAN, TAGS,
    AMOUNTS, RowCheck, amount_ok, amount_with_3_decimals, baisas, header_problems, iban_ok, month_with_2_digits,
    omr, row_problems, tag,
)
from adapters.centralbank.sif_layout import employee_layout, payer_kind
from adapters.centralbank.sif_lines import Lines, csv_problem, plain_rows, tracked
from adapters.centralbank.sif_rows import ROW_WRITERS, Rows, escaped
from hub.adapter import FileItem

__all__ = ["BANK_SHORT_NAMES", "EMPLOYEE_LABELS", "EMPLOYEE_LABELS_NO_REFERENCE", "FILE_NAME", "HEADER_LABELS",
           "HEADER_LABELS_IBAN", "MAPPED_LABELS", "baisas", "iban_ok", "omr", "read_sif", "read_sif_content", "tag"]

FILE_NAME = re.compile(r"^SIF_([0-9]{7,10})_([A-Z]{2,8})_([0-9]{8})_([0-9]{3})\.csv$")
_CHECKS = {labels: RowCheck(labels) for labels in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE)}
_NAME_COLUMN = {labels: labels.index("Employee Name") for labels in _CHECKS}
#: a name holding a letter of the Arabic script is labelled ``ar`` (checked in Python: far cheaper than XSLT)
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_AMOUNT_COLUMNS = {labels: [labels.index(label) for label in AMOUNTS] for labels in _CHECKS}
#: the employee columns mappings/centralbank/SalaryBatch.xsl reads; the others are checked here, not carried
MAPPED_LABELS = ("Employee ID Type", "Employee ID", "Reference Number", "Employee Name", "Employee Account",
                 "Net Salary", "Basic Salary", "Extra Income")
_MAPPED = {labels: operator.itemgetter(*(index for index, label in enumerate(labels) if label in MAPPED_LABELS))
           for labels in _CHECKS}


#: files up to this size are decoded whole when read from memory (:func:`read_sif_content`)
_WHOLE_TEXT = 256 * 1024


def read_sif(path: Path) -> Iterator[FileItem]:
    """Stream one SIF: a FileItem per bad line, or (when all is well) the one rows document."""
    path = Path(path)
    with open(path, "rb") as stream:
        yield from _read_sif(path.name, stream)


def read_sif_content(name: str, data: bytes) -> Iterator[FileItem]:
    """:func:`read_sif` of a file the watcher already read into memory (``name``: its file name).

    A file that is UTF-8 throughout (nearly all) is decoded once and split in
    C: into lines and at commas by :func:`plain_rows` when it holds no quote,
    else by the CSV reader. Any other file (a line not UTF-8, a byte
    order mark, a row the CSV reader refuses) is read line by line as from
    disk, which names each such problem at its line. Only files up to
    :data:`_WHOLE_TEXT` bytes are decoded whole: the text and the reader's copy
    of it take up to eight times the file's size.
    """
    text = None
    if len(data) <= _WHOLE_TEXT:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if text is None or text.startswith("\ufeff"):
        return _read_sif(name, io.BytesIO(data))
    return _read_text(name, text, data)


def _read_text(name: str, text: str, data: bytes) -> Iterator[FileItem]:
    rows = Rows(name)
    _check_name(name, rows)
    split = plain_rows(text)
    if split is not None:
        # no quotes: a row is a line, so employee rows are numbered from line 4 on
        lines = iter(split)
        _read_rows(lines, zip(itertools.count(4), lines), rows)
        line_count = len(split)
    else:
        # newline="\n": lines end at LF alone, as when reading bytes (a CR or U+2028 stays in its line)
        reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
        try:
            _read_rows(reader, _numbered(reader, reader), rows)
        except csv.Error:  # read again line by line, which names the line the bad row began on
            yield from _read_sif(name, io.BytesIO(data))
            return
        line_count = reader.line_num
    if text and not text.endswith("\n") and line_count > 3:
        rows.error(line_count, "last line is cut off (no line end): the file is truncated")
    yield from _items(rows)


def _read_sif(name: str, stream) -> Iterator[FileItem]:
    rows = Rows(name)
    _check_name(name, rows)
    lines = Lines(stream)
    reader = csv.reader(lines, strict=True)
    try:
        source = tracked(reader, lines)
        _read_rows(source, _numbered(source, reader), rows)
    except csv.Error as exc:
        # named at the line its row began: an unclosed quote is only found at the end of the file
        rows.error(lines.record_start, f"not valid CSV: {csv_problem(exc)}")
    for line, reason in lines.bad_encoding:
        rows.error(line, reason)
    if lines.unterminated and lines.number > 3:
        rows.error(lines.number, "last line is cut off (no line end): the file is truncated")
    yield from _items(rows)


def _items(rows: Rows) -> Iterator[FileItem]:
    """Every problem found, or (when there is none) the one rows document."""
    if rows.errors:
        yield from rows.errors.items()
        return
    header = rows.header
    source_id = f"{header['Employer CR-NO']}/{header['Salary Year']}-{header['Salary Month']}"
    try:
        document = rows.document()
    except etree.XMLSyntaxError as exc:  # every value was checked and escaped: a bug, but named, not a crash
        yield FileItem(0, error=f"rows document could not be built: {exc}")
        return
    yield FileItem(line=2, payload=document, source_id=source_id)


def _check_name(name: str, rows: Rows) -> None:
    match = FILE_NAME.match(name)
    if not match:
        rows.error(0, f"file name {name!r} is not SIF_<CR>_<BANK>_<YYYYMMDD>_<NNN>.csv")
        return
    cr, bank, day, sequence = match.groups()
    try:
        created = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        rows.error(0, f"file name date {day} is not a valid date")
        return
    rows.name = {"cr": cr, "bank": bank, "date": created.isoformat(), "sequence": sequence}


def _numbered(source: Iterator[list[str]], reader) -> Iterator[tuple[int, list[str]]]:
    """Each row of ``source`` with the line the CSV ``reader`` ended it on (a quoted value may span lines)."""
    return ((reader.line_num, values) for values in source)


def _read_rows(reader: Iterator[list[str]], employees: Iterator[tuple[int, list[str]]], rows: Rows) -> None:
    """Check the file's rows: the three header rows from ``reader``, then ``employees`` (its rest, numbered)."""
    header_labels = next(reader, None)
    if header_labels is None:
        return rows.error(1, "file has no header")
    payer, problem = payer_kind(header_labels)
    if problem:
        rows.error(1, problem)
    values = next(reader, None)
    if values is None:
        return rows.error(2, "header values (line 2) are missing")
    if payer:
        _header(rows, payer, values)
    employee_labels = next(reader, None)
    if employee_labels is None:
        return rows.error(3, "employee labels (line 3) are missing")
    labels, problem = employee_layout(employee_labels)
    if problem:
        rows.error(3, problem)
    count, total = _employees(employees, rows, labels)
    if rows.header is not None and labels is not None:  # unknown columns: no sums to compare, no false alarm
        _check_totals(rows, count, total)


def _header(rows: Rows, payer: str, values: list[str]) -> None:
    """Check the header values (line 2); open the document with its ``<name>`` and ``<header>``."""
    labels = HEADER_LABELS if payer == "account" else HEADER_LABELS_IBAN
    while len(values) > len(labels) and not values[-1].strip():
        values = values[:-1]  # a spreadsheet pads the header row to the width of the employee rows
    if len(values) != len(labels):
        return rows.error(2, f"header has {len(values)} values, expected {len(labels)}")
    fields = dict(zip(labels, (value.strip() for value in values)))
    fields["Salary Month"] = month_with_2_digits(fields["Salary Month"])
    fields["Total Salaries"] = amount_with_3_decimals(fields["Total Salaries"])
    for problem in header_problems(fields, rows.name):
        rows.error(2, problem)
    rows.header = fields
    if rows.name is None:
        return  # a bad file name is already an error: no document is built
    name = rows.name
    rows.add(f'<sif file="{rows.file_name}" payer="{payer}">'
             f'<name cr="{name["cr"]}" bank="{name["bank"]}" date="{name["date"]}" sequence="{name["sequence"]}"/>'
             '<header line="2">' + "".join(f"<{TAGS[label]}>{escaped(fields[label])}</{TAGS[label]}>"
                                           for label in labels) + "</header>")


def _employees(employees: Iterator[tuple[int, list[str]]], rows: Rows, labels) -> tuple[int, int]:
    """Check and add every employee row, given with its line; (rows read, sum of their net salaries in baisas).

    A row in the file's own form takes the fast path; only a row it refuses
    is looked at again: ignored when empty, retried with its amounts
    normalized, and else named field by field.
    """
    count, total = 0, 0
    check, row, name_column = _CHECKS.get(labels), ROW_WRITERS.get(labels), _NAME_COLUMN.get(labels)
    mapped = _MAPPED.get(labels)
    width = len(labels) if labels else -1
    for line, values in employees:
        if len(values) == width:
            values = list(map(str.strip, values))  # in C: 15 columns a row, 2 million rows a month
            joined = "\x1f".join(values)
            sums = check.sums(values, joined)
            if sums is None and not joined.strip("\x1f"):
                continue
            if sums is None:
                sums, values, joined = _normalized(check, labels, values)
        elif not "".join(values).strip():
            continue  # an empty or separator-only row (``,,,,``): nothing to pay, not an employee
        else:
            sums = None
        count += 1
        if sums is None:
            _row_error(rows, line, labels, values)
            continue
        net, deducted = sums
        total += net
        if not rows.errors.count:
            name = values[name_column]
            lang = "en" if name.isascii() or not _ARABIC.search(name) else "ar"
            cells = mapped(values)
            # four scans in C (memchr) cost a fifth of one regex search over the row
            special = "&" in joined or "<" in joined or ">" in joined or "\r" in joined
            rows.add(row(line, lang, omr(deducted), *(map(escaped, cells) if special else cells)))
    return count, total


def _normalized(check: RowCheck, labels: tuple[str, ...],
                values: list[str]) -> tuple[tuple[int, int] | None, list[str], str]:
    """The row checked again with its spreadsheet amounts (``45.75``, ``0``) written with 3 decimals."""
    values = list(values)
    for index in _AMOUNT_COLUMNS[labels]:
        values[index] = amount_with_3_decimals(values[index])
    joined = "\x1f".join(values)
    return check.sums(values, joined), values, joined


def _row_error(rows: Rows, line: int, labels: tuple[str, ...] | None, values: list[str]) -> None:
    """Name what is wrong with one employee row (nothing when the labels are unknown: line 3 says so)."""
    if labels is None:
        return
    if len(values) != len(labels):
        return rows.error(line, f"{len(values)} columns, expected {len(labels)}")
    # The field checks name what is wrong; the fallback only guards against a row vanishing silently.
    for problem in list(row_problems(dict(zip(labels, values)))) or ["row does not match the SIF layout"]:
        rows.error(line, problem)


def _check_totals(rows: Rows, count: int, total: int) -> None:
    declared_count, declared_total = rows.header["Number Of Records"], rows.header["Total Salaries"]
    if declared_count.isdigit() and int(declared_count) != count:
        rows.error(2, f"Number Of Records is {declared_count} but the file has {count} employee row(s)")
    if amount_ok(declared_total) and baisas(declared_total) != total and not rows.errors.after_header:
        rows.error(2, f"Total Salaries is {declared_total} but the Net Salary rows add up to {omr(total)}")
