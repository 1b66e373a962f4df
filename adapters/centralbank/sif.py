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
the mapping then selects children by name, about twice as fast in libxslt.)
Every problem is reported with its line; the file yields its one document
only when there is none.

Why text fed to a parser rather than ``SubElement`` calls: a row is one
``%`` format of escaped values, and lxml's incremental parser builds the
tree in C — several times faster than 15 Python calls per row, and still
never holding the whole file as text (rows are fed in slices).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lxml import etree

from adapters.centralbank.sif_checks import (
    BANK_SHORT_NAMES, EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE, HEADER_LABELS, HEADER_LABELS_IBAN, TAGS,
    RowCheck, amount_ok, baisas, header_problems, iban_ok, layout_problem, omr, row_problems, tag,
)
from hub.adapter import FileItem

__all__ = ["BANK_SHORT_NAMES", "EMPLOYEE_LABELS", "EMPLOYEE_LABELS_NO_REFERENCE", "FILE_NAME", "HEADER_LABELS",
           "HEADER_LABELS_IBAN", "baisas", "iban_ok", "omr", "read_sif", "tag"]

FILE_NAME = re.compile(r"^SIF_([0-9]{7,10})_([A-Z]{2,8})_([0-9]{8})_([0-9]{3})\.csv$")
_CHECKS = {labels: RowCheck(labels) for labels in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE)}
_ROW = {labels: '<employee line="%d">' + "".join(f"<{TAGS[l]}>%s</{TAGS[l]}>" for l in labels) + "</employee>"
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


class _Rows:
    """The rows document under construction, and every problem found on the way.

    Text goes to the parser only while no problem has been found: a bad file
    is still read to the end, to name all its bad lines, but builds nothing.
    """

    def __init__(self, file_name: str) -> None:
        self.errors: list[FileItem] = []
        self.name: dict[str, str] | None = None
        self.header: dict[str, str] | None = None
        self.pending: list[str] = []
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        self.file_name = file_name

    def error(self, line: int, reason: str) -> None:
        self.errors.append(FileItem(line, error=reason))
        self.pending = []

    def add(self, text: str) -> None:
        if not self.errors:
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
        yield from sorted(rows.errors, key=lambda item: item.line)
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
    payer = _header_layout([label.strip() for label in header_labels], rows)
    values = next(reader, None)
    if values is None:
        return rows.error(2, "header values (line 2) are missing")
    if payer:
        _header(rows, payer, values)
    employee_labels = next(reader, None)
    if employee_labels is None:
        return rows.error(3, "employee labels (line 3) are missing")
    labels = _employee_layout([label.strip() for label in employee_labels], rows)
    count, total = _employees(reader, lines, rows, labels)
    if rows.header is not None:
        _check_totals(rows, count, total)


def _header_layout(labels: list[str], rows: _Rows) -> str | None:
    for payer, expected in (("account", HEADER_LABELS), ("iban", HEADER_LABELS_IBAN)):
        if tuple(labels) == expected:
            return payer
    rows.error(1, layout_problem(1, labels, (HEADER_LABELS, HEADER_LABELS_IBAN),
                                 {"Payer IBAN": "Payer Account Number"}))
    return None


def _employee_layout(labels: list[str], rows: _Rows) -> tuple[str, ...] | None:
    for expected in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE):
        if tuple(labels) == expected:
            return expected
    rows.error(3, layout_problem(3, labels, (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE), {}))
    return None


def _header(rows: _Rows, payer: str, values: list[str]) -> None:
    """Check the header values (line 2); open the document with its ``<name>`` and ``<header>``."""
    labels = HEADER_LABELS if payer == "account" else HEADER_LABELS_IBAN
    if len(values) != len(labels):
        return rows.error(2, f"header has {len(values)} values, expected {len(labels)}")
    fields = dict(zip(labels, (value.strip() for value in values)))
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
    """Check and add every employee row; (rows read, sum of their net salaries in baisas)."""
    count, total, blank = 0, 0, None
    check = _CHECKS.get(labels)
    template = _ROW.get(labels)
    for values in reader:
        line = lines.number
        if not values or values == [""]:
            blank = blank or line
            continue
        if blank is not None:
            rows.error(blank, "empty line between employee rows")
            blank = None
        count += 1
        if labels is None:
            continue
        if len(values) != len(labels):
            rows.error(line, f"{len(values)} columns, expected {len(labels)}")
            continue
        values = [value.strip() for value in values]
        joined = "\x1f".join(values)
        net = check.net(values, joined)
        if net is None:
            # The field checks name what is wrong; the fallback only guards against a row vanishing silently.
            for problem in list(row_problems(dict(zip(labels, values)))) or ["row does not match the SIF layout"]:
                rows.error(line, problem)
            continue
        total += net
        if not rows.errors:
            rows.add(template % (line, *(map(_escaped, values) if _SPECIAL.search(joined) else values)))
    return count, total


def _check_totals(rows: _Rows, count: int, total: int) -> None:
    declared_count, declared_total = rows.header["Number Of Records"], rows.header["Total Salaries"]
    if declared_count.isdigit() and int(declared_count) != count:
        rows.error(2, f"Number Of Records is {declared_count} but the file has {count} employee row(s)")
    if amount_ok(declared_total) and baisas(declared_total) != total and not any(e.line > 3 for e in rows.errors):
        rows.error(2, f"Total Salaries is {declared_total} but the Net Salary rows add up to {omr(total)}")
