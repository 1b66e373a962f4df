"""The rows document of a salary information file under construction: rows written as text, parsed in slices.

:class:`Rows` collects the header and employee rows as text and feeds them to
lxml's incremental parser in slices of :data:`_SLICE` rows, and only while
no problem has been found; :data:`ROW_WRITERS` write one employee row for each
layout (``adapters.centralbank.sif`` checks the values and escapes them with
:func:`escaped` when a row holds a character XML must not see as it is).
"""

from __future__ import annotations

import re

from lxml import etree

from adapters.centralbank.sif_checks import EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE
from adapters.centralbank.sif_lines import Problems


def _row_with_reference(line: int, lang: str, deducted: str, kind: str, person: str, reference: str, name: str,
                        account: str, net: str, basic: str, extra: str) -> str:
    """One employee row of the rows document (values escaped), layout with ``Reference Number``.

    Written out as an f-string, which Python assembles from its pieces, where
    a ``%`` template of the row was read character by character for every row:
    half the cost. The columns of ``adapters.centralbank.sif.MAPPED_LABELS`` in file order,
    each named by ``tag()``, then ``deducted``: both deduction columns added up.
    """
    return (f'<employee line="{line}" lang="{lang}"><EmployeeIdType>{kind}</EmployeeIdType>'
            f'<EmployeeId>{person}</EmployeeId><ReferenceNumber>{reference}</ReferenceNumber>'
            f'<EmployeeName>{name}</EmployeeName><EmployeeAccount>{account}</EmployeeAccount>'
            f'<NetSalary>{net}</NetSalary><BasicSalary>{basic}</BasicSalary><ExtraIncome>{extra}</ExtraIncome>'
            f'<DeductionsTotal>{deducted}</DeductionsTotal>'
            '</employee>')


def _row_without_reference(line: int, lang: str, deducted: str, kind: str, person: str, name: str, account: str,
                           net: str, basic: str, extra: str) -> str:
    """:func:`_row_with_reference` for the layout without ``Reference Number``."""
    return (f'<employee line="{line}" lang="{lang}"><EmployeeIdType>{kind}</EmployeeIdType>'
            f'<EmployeeId>{person}</EmployeeId>'
            f'<EmployeeName>{name}</EmployeeName><EmployeeAccount>{account}</EmployeeAccount>'
            f'<NetSalary>{net}</NetSalary><BasicSalary>{basic}</BasicSalary><ExtraIncome>{extra}</ExtraIncome>'
            f'<DeductionsTotal>{deducted}</DeductionsTotal>'
            '</employee>')


#: the writer of an employee row for each layout: (line, lang, deductions total, *mapped cells) -> text
ROW_WRITERS = {EMPLOYEE_LABELS: _row_with_reference, EMPLOYEE_LABELS_NO_REFERENCE: _row_without_reference}
_SPECIAL = re.compile("[&<>\r]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
#: employee rows fed to the parser at once
_SLICE = 256


def escaped(value: str) -> str:
    """``value`` with the characters XML text must not hold as they are written as references."""
    return value.translate(_ESCAPE) if _SPECIAL.search(value) else value


class Rows:
    """The rows document under construction, and every problem found on the way.

    Text goes to the parser only while no problem has been found: a bad file
    is still read to the end, to name all its bad lines, but builds nothing.
    """

    def __init__(self, file_name: str) -> None:
        self.errors = Problems()
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
