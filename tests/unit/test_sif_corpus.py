"""Salary files as payroll systems export them: a corpus that must be accepted, and one that must be refused.

Every file starts from the simulator's own writer and is then reshaped the
way a spreadsheet or a payroll export reshapes it (``45.75`` for ``45.750``,
month ``2``, labels in another case, ``,,,,`` rows, passport IDs, the
employer's own employee numbers as reference). An accepted file must give
one rows document that maps to a SalaryBatch valid against the canonical
schema; a refused file must give exactly the reasons listed, and nothing
that cascades from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from lxml import etree

from adapters.centralbank.sif import read_sif, read_sif_content
from hub.canonical import validate
from hub.mapping import Mappings
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.population import Population, PopulationSpec

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(300))
MAPPINGS = Mappings()
AMOUNT = re.compile(r"^[0-9]+\.[0-9]{3}$")


def employer_file(variant: str, index: int = 0):
    """The first employer file of the simulated month with at least three employees, in ``variant``."""
    for number in range(index, POPULATION.spec.employers):
        written = render_employer_file(POPULATION, POPULATION.employer(number), 2026, 2, SifFaults(), variant)
        if written is not None and written.lines >= 3:
            return written
    raise AssertionError("no employer with three employees")


def rows_of(data: bytes) -> list[list[str]]:
    return [line.split(",") for line in data.decode("utf-8").split("\r\n")[:-1]]


def joined(rows: list[list[str]], end: str = "\r\n") -> bytes:
    return "".join(",".join(row) + end for row in rows).encode("utf-8")


def edit(change: Callable[[list[list[str]]], None]) -> Callable[[bytes], bytes]:
    """A reshaping of the file's cells (``change`` edits the rows in place)."""
    def reshape(data: bytes) -> bytes:
        rows = rows_of(data)
        change(rows)
        return joined(rows)
    return reshape


def cell(rows: list[list[str]], row: int, label: str, value: str) -> None:
    labels = rows[0] if row == 1 else rows[2]
    rows[row][[name.strip().casefold() for name in labels].index(label.casefold())] = value


def general(value: str) -> str:
    """An amount as a spreadsheet "General" cell shows it: ``45.750`` → ``45.75``, ``0.000`` → ``0``."""
    return value.rstrip("0").rstrip(".") if AMOUNT.match(value) else value


def all_general(rows: list[list[str]]) -> None:
    for row in rows[1:2] + rows[3:]:
        row[:] = [general(value) for value in row]


def passport(rows: list[list[str]]) -> None:
    cell(rows, 3, "Employee ID Type", "P")
    cell(rows, 3, "Employee ID", "N1234567")


def labels(change: Callable[[str], str]) -> Callable[[list[list[str]]], None]:
    def relabel(rows: list[list[str]]) -> None:
        rows[0] = [change(label) for label in rows[0]]
        rows[2] = [change(label) for label in rows[2]]
    return relabel


def commas(rows: list[list[str]]) -> list[str]:
    return [""] * len(rows[2])


ACCEPTED = {
    "as written, layout A": ("A", lambda data: data),
    "as written, layout B": ("B", lambda data: data),
    "passport number (ID type P)": ("A", edit(passport)),
    "passport number, layout B": ("B", edit(passport)),
    "employer's employee number as reference": ("A", edit(lambda rows: cell(rows, 3, "Reference Number", "EMP-00042"))),
    "reference with slash and dot": ("A", edit(lambda rows: cell(rows, 4, "Reference Number", "HR/2026.02_7"))),
    "empty reference number": ("A", edit(lambda rows: cell(rows, 3, "Reference Number", ""))),
    "amounts as General cells": ("A", edit(all_general)),
    "amounts as General cells, layout B": ("B", edit(all_general)),
    "month without leading zero": ("A", edit(lambda rows: cell(rows, 1, "Salary Month", "2"))),
    "extra hours with a decimal": ("A", edit(lambda rows: cell(rows, 3, "Extra Hours", "12.5"))),
    "extra hours in quarters": ("B", edit(lambda rows: cell(rows, 3, "Extra Hours", "0.25"))),
    "labels in lower case": ("A", edit(labels(str.lower))),
    "labels in upper case": ("B", edit(labels(str.upper))),
    "labels with odd spacing": ("A", edit(labels(lambda label: " " + label.replace(" ", "  ") + " "))),
    "labels without spaces": ("B", edit(labels(lambda label: label.replace(" ", "")))),
    "trailing all-comma row": ("A", edit(lambda rows: rows.append(commas(rows)))),
    "trailing all-comma rows and empty lines": ("B", lambda data: data + b",,,,\r\n\r\n,,,,,,,,,,,,,,\r\n\r\n"),
    "empty line between employees": ("A", edit(lambda rows: rows.insert(4, []))),
    "separator-only row between employees": ("B", edit(lambda rows: rows.insert(4, commas(rows)))),
    "header rows padded to the employee width": ("A", edit(lambda rows: [rows[i].extend([""] * 6) for i in (0, 1)])),
    "Arabic employee name": ("A", edit(lambda rows: cell(rows, 3, "Employee Name", "ناصر بن عيسى الشكيلي"))),
    "LF line ends and a BOM": ("B", lambda data: b"\xef\xbb\xbf" + data.replace(b"\r\n", b"\n")),
    "all at once": ("A", lambda data: edit(lambda rows: (passport(rows), all_general(rows),
                                                          cell(rows, 1, "Salary Month", "2"),
                                                          labels(str.lower)(rows),
                                                          rows.append(commas(rows))))(data)),
}


@pytest.mark.parametrize("shape", list(ACCEPTED))
def test_payroll_exports_are_accepted_and_map_to_a_valid_salary_batch(tmp_path, shape):
    variant, reshape = ACCEPTED[shape]
    written = employer_file(variant)
    path = tmp_path / written.name
    path.write_bytes(reshape(written.data))
    items = list(read_sif(path))
    assert [item.error for item in items] == [None], items
    batch = MAPPINGS.transform("centralbank", "SalaryBatch", items[0].payload)
    validate(batch)
    assert batch.findtext(f"{R}PayMonth") == "2026-02"
    assert int(batch.findtext(f"{R}RecordCount")) == len(batch.findall(f"{R}SalaryLine")) == written.lines


def test_general_amounts_are_normalized_to_baisa_exactly(tmp_path):
    written = employer_file("A")
    path = tmp_path / written.name
    path.write_bytes(edit(all_general)(written.data))
    [item] = read_sif(path)
    batch = MAPPINGS.transform("centralbank", "SalaryBatch", item.payload)
    original = rows_of(written.data)
    net_column = original[2].index("Net Salary")
    assert [line.findtext(f"{R}NetSalary") for line in batch.iter(f"{R}SalaryLine")] == \
        [row[net_column] for row in original[3:]]
    assert batch.findtext(f"{R}Total") == original[1][original[0].index("Total Salaries")]


def test_passport_ids_and_arabic_names_reach_the_canonical_message(tmp_path):
    written = employer_file("A")
    path = tmp_path / written.name
    path.write_bytes(edit(lambda rows: (passport(rows), cell(rows, 4, "Employee Name", "ناصر الشكيلي")))(written.data))
    [item] = read_sif(path)
    first, second, *_ = MAPPINGS.transform("centralbank", "SalaryBatch", item.payload).iter(f"{R}SalaryLine")
    assert first.findtext(f"{R}EmployeePassportNumber") == "N1234567"
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert first.find(f"{R}EmployeeName").get(lang) == "en"
    assert (second.find(f"{R}EmployeeName").get(lang), second.findtext(f"{R}EmployeeName")) == ("ar", "ناصر الشكيلي")


REFUSED = {
    "ID type unknown": (edit(lambda rows: cell(rows, 3, "Employee ID Type", "X")),
                        [(4, "Employee ID Type 'X' is not C (civil ID), R (resident card) or P (passport)")]),
    "passport number too short": (edit(lambda rows: (cell(rows, 3, "Employee ID Type", "P"),
                                                     cell(rows, 3, "Employee ID", "N12"))),
                                  [(4, "Employee ID 'N12' is not a passport number (5 to 12 capital letters or digits)")]),
    "civil number with letters": (edit(lambda rows: cell(rows, 3, "Employee ID", "N1234567")),
                                  [(4, "Employee ID 'N1234567' is not 8 or 9 digits")]),
    "reference longer than 35": (edit(lambda rows: cell(rows, 3, "Reference Number", "R" * 36)),
                                 [(4, f"Reference Number {'R' * 36!r} is not up to 35 letters, digits or - / . _ "
                                      "(starting with a letter or digit)")]),
    "amount with 4 decimals": (edit(lambda rows: cell(rows, 3, "Deductions", "1.2345")),
                               [(4, "Deductions '1.2345' is not an amount in rials (up to 3 decimals)")]),
    "amount with a thousands separator": (edit(lambda rows: cell(rows, 3, "Basic Salary", '"1,940.400"')),
                                          [(4, "Basic Salary '1,940.400' is not an amount in rials (up to 3 decimals)")]),
    "month 13": (edit(lambda rows: cell(rows, 1, "Salary Month", "13")),
                 [(2, "Salary Month '13' is not a month (1 to 12, with or without a leading zero)")]),
    "extra hours with 3 decimals": (edit(lambda rows: cell(rows, 3, "Extra Hours", "1.125")),
                                    [(4, "Extra Hours '1.125' is not a number of hours (up to 999, at most 2 decimals)")]),
    "a misspelt label, and nothing cascading from it": (
        edit(lambda rows: rows[2].__setitem__(rows[2].index("Net Salary"), "net salry")),
        [(3, "employee labels are not a known SIF layout: missing Net Salary; unexpected net salry")]),
    "an extra column on one row": (edit(lambda rows: rows[4].append("x")), [(5, "16 columns, expected 15")]),
    "Total Salaries that does not add up": (
        edit(lambda rows: cell(rows, 1, "Total Salaries", "1.5")),
        [(2, "Total Salaries is 1.500 but the Net Salary rows add up to {total}")]),
}


@pytest.mark.parametrize("shape", list(REFUSED))
def test_bad_files_are_refused_with_exactly_their_reasons(tmp_path, shape):
    reshape, expected = REFUSED[shape]
    written = employer_file("A")
    original = rows_of(written.data)
    total = original[1][original[0].index("Total Salaries")]
    path = tmp_path / written.name
    path.write_bytes(reshape(written.data))
    found = [(item.line, item.error) for item in read_sif(path)]
    assert found == [(line, reason.format(total=total)) for line, reason in expected]


SHAPES = [(accepted, ACCEPTED[accepted][1]) for accepted in ACCEPTED] + [
    (refused, REFUSED[refused][0]) for refused in REFUSED] + [
    ("not UTF-8", lambda data: data.replace(b"Employee", b"Employ\xe9e", 1)),
    ("cut off", lambda data: data[:-5]), ("an unclosed quote", lambda data: data[:-30] + b'"' + data[-30:])] + [
    # a file read from memory is split into lines at LF alone, like the bytes on disk
    ("LF line ends", lambda data: data.replace(b"\r\n", b"\n")),
    ("a CR alone inside a line", edit(lambda rows: cell(rows, 3, "Notes / Comments", "a\rb"))),
    ("a quoted name over two lines", edit(lambda rows: cell(rows, 3, "Employee Name", '"NASSER\r\nAL SHUKAILI"'))),
    ("a quoted name with a CR", edit(lambda rows: cell(rows, 4, "Employee Name", '"NASSER\rAL SHUKAILI"'))),
    ("line and paragraph separators in a name", edit(lambda rows: cell(rows, 3, "Employee Name",
                                                                        "NASSER\u2028AL\x85SHUKAILI\u2029"))),
    ("markup characters in a name", edit(lambda rows: cell(rows, 3, "Employee Name", "A&B <C> \"D\""))),
]


@pytest.mark.parametrize(("shape", "reshape"), SHAPES, ids=[shape for shape, _ in SHAPES])
def test_a_file_read_from_memory_reads_as_from_disk(tmp_path, shape, reshape):
    """What the watcher reads from the bytes it hashed is what the file on disk gives, item for item."""
    written = employer_file("A" if shape not in ACCEPTED else ACCEPTED[shape][0])
    data = reshape(written.data)
    path = tmp_path / written.name
    path.write_bytes(data)
    from_disk, from_memory = list(read_sif(path)), list(read_sif_content(written.name, data))
    assert [(i.line, i.error, i.source_id) for i in from_memory] == [(i.line, i.error, i.source_id) for i in from_disk]
    assert [etree.tostring(i.payload) for i in from_memory if i.payload is not None] == [
        etree.tostring(i.payload) for i in from_disk if i.payload is not None]


def test_layouts_are_remembered_for_files_spelled_alike_but_never_for_huge_label_rows(tmp_path):
    from adapters.centralbank.sif_layout import _remembered_layout

    written = employer_file("A")
    long_label = "Notes / Comments" + " " * 2000  # a known layout once its spacing is ignored
    reshapes = {"alike": edit(labels(str.lower)),
                "huge": edit(lambda rows: rows[2].__setitem__(len(rows[2]) - 1, long_label))}
    looked_up = {}
    for name, reshape in reshapes.items():
        path = tmp_path / name / written.name
        path.parent.mkdir()
        path.write_bytes(reshape(written.data))
        assert [item.error for item in read_sif(path)] == [None]
        before = _remembered_layout.cache_info()
        assert [item.error for item in read_sif(path)] == [None]
        after = _remembered_layout.cache_info()
        looked_up[name] = (after.hits - before.hits, after.misses - before.misses)
    assert looked_up == {"alike": (2, 0), "huge": (1, 0)}  # the huge employee label row is never kept


@pytest.mark.parametrize("layout", ["with reference", "without reference"])
def test_each_row_writer_writes_the_mapped_columns_in_file_order_named_by_tag(layout):
    """The row writers spell out by hand what MAPPED_LABELS and tag() say; the two must not drift apart."""
    from adapters.centralbank.sif import EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE, MAPPED_LABELS, tag
    from adapters.centralbank.sif_rows import ROW_WRITERS

    labels = EMPLOYEE_LABELS if layout == "with reference" else EMPLOYEE_LABELS_NO_REFERENCE
    mapped = [label for label in labels if label in MAPPED_LABELS]
    expected = '<employee line="7" lang="ar">' + "".join(
        f"<{tag(label)}>v{index}</{tag(label)}>" for index, label in enumerate(mapped)) + (
        "<DeductionsTotal>d</DeductionsTotal></employee>")
    assert ROW_WRITERS[labels](7, "ar", "d", *(f"v{index}" for index in range(len(mapped)))) == expected
