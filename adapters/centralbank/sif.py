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
parsing them cost a quarter of the rows document's instructions.
Every problem is reported with its line; the file yields its one document
only when there is none. A file of bad lines keeps only the problems the
rejection report can list (:data:`hub.filedrop.report.MAX_LISTED`, the first
by line) and counts the rest, so its memory does not grow with its size.

Files as payroll systems export them are read as the bank reads them:
labels in any case and spacing, amounts as spreadsheet cells (``45.75``,
``0``, normalized to 3 decimals), the month without its leading zero, and
empty or separator-only rows (``,,,,``) ignored.

Why text fed to a parser rather than ``SubElement`` calls: a row is one
``%`` format of escaped values, and lxml's incremental parser builds the
tree in C — several times faster than 15 Python calls per row, and still
never holding the whole file as text (rows are fed in slices).
"""

from __future__ import annotations

import csv
import heapq
import operator
import re
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from pathlib import Path

from lxml import etree

from adapters.centralbank.sif_checks import (
    BANK_SHORT_NAMES, EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE, HEADER_LABELS, HEADER_LABELS_IBAN, TAGS,
    AMOUNTS, RowCheck, amount_ok, amount_with_3_decimals, baisas, header_problems, iban_ok, label_key,
    layout_problem, month_with_2_digits, omr, row_problems, tag,
)
from hub.adapter import FileItem
from hub.filedrop.report import MAX_LISTED

__all__ = ["BANK_SHORT_NAMES", "EMPLOYEE_LABELS", "EMPLOYEE_LABELS_NO_REFERENCE", "FILE_NAME", "HEADER_LABELS",
           "HEADER_LABELS_IBAN", "MAPPED_LABELS", "baisas", "iban_ok", "omr", "read_sif", "tag"]

FILE_NAME = re.compile(r"^SIF_([0-9]{7,10})_([A-Z]{2,8})_([0-9]{8})_([0-9]{3})\.csv$")
_CHECKS = {labels: RowCheck(labels) for labels in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE)}
_NAME_COLUMN = {labels: labels.index("Employee Name") for labels in _CHECKS}
#: a name holding a letter of the Arabic script is labelled ``ar`` (checked in Python: far cheaper than XSLT)
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_AMOUNT_COLUMNS = {labels: [labels.index(label) for label in AMOUNTS] for labels in _CHECKS}
#: the reason yielded for each problem beyond those kept: counted by the report, never listed
NOT_LISTED = "further problem (not listed: the report lists the first ones by line)"
#: the employee columns mappings/centralbank/SalaryBatch.xsl reads; the others are checked here, not carried
MAPPED_LABELS = ("Employee ID Type", "Employee ID", "Reference Number", "Employee Name", "Employee Account",
                 "Net Salary", "Basic Salary", "Extra Income", "Deductions", "Social Security Deductions")
_MAPPED = {labels: operator.itemgetter(*(index for index, label in enumerate(labels) if label in MAPPED_LABELS))
           for labels in _CHECKS}
_ROW = {labels: '<employee line="%d" lang="%s">' + "".join(f"<{TAGS[l]}>%s</{TAGS[l]}>" for l in labels
                                                           if l in MAPPED_LABELS) + "</employee>"
        for labels in _CHECKS}
_SPECIAL = re.compile("[&<>\r]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
#: employee rows fed to the parser at once
_SLICE = 256


class _Lines:
    """Decoded lines of a binary stream, remembering undecodable lines and a missing final line end."""

    def __init__(self, stream) -> None:
        self.stream, self.number, self.bad_encoding, self.unterminated = stream, 0, [], False
        self.record_start = 1

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


class _Problems:
    """The problems of one file: the first ``keep`` by line, and how many more there were."""

    def __init__(self, keep: int = MAX_LISTED) -> None:
        self.keep, self.count, self.after_header = keep, 0, 0
        self._kept: list[tuple[int, int, str]] = []  # (-line, -order, reason): a max-heap on the line

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        self.after_header += line > 3
        item = (-line, -self.count, reason)
        if len(self._kept) < self.keep:
            heapq.heappush(self._kept, item)
        elif item > self._kept[0]:  # earlier than the latest kept: it takes that one's place
            heapq.heapreplace(self._kept, item)

    def items(self) -> Iterator[FileItem]:
        """The kept problems in line order, then one bare item per problem not kept (so all are counted)."""
        for line, _, reason in sorted(self._kept, reverse=True):
            yield FileItem(-line, error=reason)
        for _ in range(self.count - len(self._kept)):
            yield FileItem(0, error=NOT_LISTED)


class _Rows:
    """The rows document under construction, and every problem found on the way.

    Text goes to the parser only while no problem has been found: a bad file
    is still read to the end, to name all its bad lines, but builds nothing.
    """

    def __init__(self, file_name: str) -> None:
        self.errors = _Problems()
        self.name: dict[str, str] | None = None
        self.header: dict[str, str] | None = None
        self.pending: list[str] = []
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        self.file_name = file_name

    def error(self, line: int, reason: str) -> None:
        self.errors.add(line, reason)
        self.pending = []

    def add(self, text: str) -> None:
        if not self.errors.count:  # the count, not truth: __bool__ is a Python call per row
            self.pending.append(text)
            if len(self.pending) >= _SLICE:
                self.flush()

    def flush(self) -> None:
        if self.pending and not self.errors:
            self.parser.feed("".join(self.pending))
        self.pending = []

    def document(self) -> etree._Element:
        self.add("</sif>")
        self.flush()
        return self.parser.close()


def read_sif(path: Path) -> Iterator[FileItem]:
    """Stream one SIF: a FileItem per bad line, or (when all is well) the one rows document."""
    path = Path(path)
    rows = _Rows(path.name)
    _check_name(path.name, rows)
    with open(path, "rb") as stream:
        lines = _Lines(stream)
        try:
            _read_rows(_tracked(csv.reader(lines, strict=True), lines), lines, rows)
        except csv.Error as exc:
            # named at the line its row began: an unclosed quote is only found at the end of the file
            rows.error(lines.record_start, f"not valid CSV: {_csv_problem(exc)}")
    for line, reason in lines.bad_encoding:
        rows.error(line, reason)
    if lines.unterminated and lines.number > 3:
        rows.error(lines.number, "last line is cut off (no line end): the file is truncated")
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


#: Python's csv messages, in the words of the bank that wrote the file (the first is a hint for programmers)
_CSV_PROBLEMS = {
    "new-line character seen in unquoted field": "a carriage return (CR) inside the line, outside quotes; "
                                                 "lines end in CRLF or LF",
    "unexpected end of data": "a quoted value is not closed: it runs from this line to the end of the file",
    "',' expected after '\"'": "a quote inside a quoted value must be doubled (\"\")",
}


def _tracked(reader, lines: _Lines) -> Iterator[list[str]]:
    """The CSV reader's rows, keeping ``lines.record_start`` at the line the row being read begins."""
    while True:
        lines.record_start = lines.number + 1
        row = next(reader, None)
        if row is None:
            return
        yield row


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    return next((plain for known, plain in _CSV_PROBLEMS.items() if text.startswith(known)), text)


def _check_name(name: str, rows: _Rows) -> None:
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


def _read_rows(reader, lines: _Lines, rows: _Rows) -> None:
    header_labels = next(reader, None)
    if header_labels is None:
        return rows.error(1, "file has no header")
    payer = _header_layout(header_labels, rows)
    values = next(reader, None)
    if values is None:
        return rows.error(2, "header values (line 2) are missing")
    if payer:
        _header(rows, payer, values)
    employee_labels = next(reader, None)
    if employee_labels is None:
        return rows.error(3, "employee labels (line 3) are missing")
    labels = _employee_layout(employee_labels, rows)
    count, total = _employees(reader, lines, rows, labels)
    if rows.header is not None and labels is not None:  # unknown columns: no sums to compare, no false alarm
        _check_totals(rows, count, total)


_LAYOUT_KEYS = {tuple(map(label_key, labels)): labels
                for labels in (HEADER_LABELS, HEADER_LABELS_IBAN, EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE)}


def _layout(labels: list[str]) -> tuple[str, ...] | None:
    """The known layout ``labels`` spell, whatever their case and spacing; trailing empty cells ignored.

    Nearly every file spells its labels as the files before it did, so the
    answer is remembered: normalizing 24 labels per file cost more than
    checking the dozen rows of a typical file. Only label rows of a sane
    length are remembered, and only the last few spellings, so hostile files
    cannot make the memory grow.
    """
    labels = tuple(labels)
    if sum(map(len, labels)) > _REMEMBERED_LABELS_CHARS:
        return _layout_of(labels)
    return _remembered_layout(labels)


def _layout_of(labels: tuple[str, ...]) -> tuple[str, ...] | None:
    while labels and not labels[-1].strip():
        labels = labels[:-1]
    return _LAYOUT_KEYS.get(tuple(map(label_key, labels)))


_REMEMBERED_LABELS_CHARS = 1024
_remembered_layout = lru_cache(maxsize=32)(_layout_of)


def _header_layout(labels: list[str], rows: _Rows) -> str | None:
    layout = _layout(labels)
    if layout in (HEADER_LABELS, HEADER_LABELS_IBAN):
        return "account" if layout == HEADER_LABELS else "iban"
    rows.error(1, layout_problem(1, [label.strip() for label in labels], (HEADER_LABELS, HEADER_LABELS_IBAN),
                                 {"Payer IBAN": "Payer Account Number"}))
    return None


def _employee_layout(labels: list[str], rows: _Rows) -> tuple[str, ...] | None:
    layout = _layout(labels)
    if layout in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE):
        return layout
    rows.error(3, layout_problem(3, [label.strip() for label in labels],
                                 (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE), {}))
    return None


def _header(rows: _Rows, payer: str, values: list[str]) -> None:
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
             '<header line="2">' + "".join(f"<{TAGS[label]}>{_escaped(fields[label])}</{TAGS[label]}>"
                                           for label in labels) + "</header>")


def _escaped(value: str) -> str:
    return value.translate(_ESCAPE) if _SPECIAL.search(value) else value


def _employees(reader, lines: _Lines, rows: _Rows, labels) -> tuple[int, int]:
    """Check and add every employee row; (rows read, sum of their net salaries in baisas).

    A row in the file's own form takes the fast path; only a row it refuses
    is looked at again: ignored when empty, retried with its amounts
    normalized, and else named field by field.
    """
    count, total = 0, 0
    check, template, name_column = _CHECKS.get(labels), _ROW.get(labels), _NAME_COLUMN.get(labels)
    mapped = _MAPPED.get(labels)
    width = len(labels) if labels else -1
    for values in reader:
        if len(values) == width:
            values = list(map(str.strip, values))  # in C: 15 columns a row, 2 million rows a month
            joined = "\x1f".join(values)
            net = check.net(values, joined)
            if net is None and not joined.strip("\x1f"):
                continue
            if net is None:
                net, values, joined = _normalized(check, labels, values)
        elif not "".join(values).strip():
            continue  # an empty or separator-only row (``,,,,``): nothing to pay, not an employee
        else:
            net = None
        count += 1
        if net is None:
            _row_error(rows, lines.number, labels, values)
            continue
        total += net
        if not rows.errors.count:
            name = values[name_column]
            lang = "en" if name.isascii() or not _ARABIC.search(name) else "ar"
            cells = mapped(values)
            rows.add(template % (lines.number, lang, *(map(_escaped, cells) if _SPECIAL.search(joined) else cells)))
    return count, total


def _normalized(check: RowCheck, labels: tuple[str, ...], values: list[str]) -> tuple[int | None, list[str], str]:
    """The row checked again with its spreadsheet amounts (``45.75``, ``0``) written with 3 decimals."""
    values = list(values)
    for index in _AMOUNT_COLUMNS[labels]:
        values[index] = amount_with_3_decimals(values[index])
    joined = "\x1f".join(values)
    return check.net(values, joined), values, joined


def _row_error(rows: _Rows, line: int, labels: tuple[str, ...] | None, values: list[str]) -> None:
    """Name what is wrong with one employee row (nothing when the labels are unknown: line 3 says so)."""
    if labels is None:
        return
    if len(values) != len(labels):
        return rows.error(line, f"{len(values)} columns, expected {len(labels)}")
    # The field checks name what is wrong; the fallback only guards against a row vanishing silently.
    for problem in list(row_problems(dict(zip(labels, values)))) or ["row does not match the SIF layout"]:
        rows.error(line, problem)


def _check_totals(rows: _Rows, count: int, total: int) -> None:
    declared_count, declared_total = rows.header["Number Of Records"], rows.header["Total Salaries"]
    if declared_count.isdigit() and int(declared_count) != count:
        rows.error(2, f"Number Of Records is {declared_count} but the file has {count} employee row(s)")
    if amount_ok(declared_total) and baisas(declared_total) != total and not rows.errors.after_header:
        rows.error(2, f"Total Salaries is {declared_total} but the Net Salary rows add up to {omr(total)}")
