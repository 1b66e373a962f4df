"""The central bank mapping rebuilds the payer's IBAN from bank code and account number.

The reader carries only the employee columns the mapping reads (checked
against the mapping's own XPath below).

ISO 13616 check digits are computed in XSLT (two arithmetic steps for an
all-digit account, a letter-by-letter recursion otherwise); both ways are
checked here against Python's own mod-97 arithmetic.
"""

from __future__ import annotations

import re
import string

import pytest

from adapters.centralbank.sif import EMPLOYEE_LABELS as SIF_EMPLOYEE_LABELS
from adapters.centralbank.sif import EMPLOYEE_LABELS_NO_REFERENCE, MAPPED_LABELS, iban_ok, read_sif
from adapters.centralbank.sif_checks import TAGS
from hub.mapping import Mappings
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.population import Population, PopulationSpec

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(300))
LETTERS = {ord(ch): str(int(ch, 36)) for ch in string.ascii_uppercase}


def expected_iban(bank_code: str, account: str) -> str:
    bban = bank_code + account
    check = 98 - int((bban + "OM00").translate(LETTERS)) % 97
    return f"OM{check:02d}{bban}"


@pytest.mark.parametrize("account", ["0000000000000001", "1234567890123456", "9999999999999999",
                                     "00012345ABCDEF99", "ZZZZZZZZZZZZZZZZ", "A000000000000000"])
def test_payer_iban_is_rebuilt_with_its_check_digits(tmp_path, account):
    sif = next(f for f in (render_employer_file(POPULATION, POPULATION.employer(i), 2026, 2, SifFaults(), "A")
                           for i in range(POPULATION.spec.employers)) if f is not None)
    path = tmp_path / sif.name
    path.write_bytes(sif.data)
    [item] = read_sif(path)
    item.payload.find("header/PayerAccountNumber").text = account
    body = Mappings().transform("centralbank", "SalaryBatch", item.payload)
    iban = body.findtext(f"{R}PayerIban")
    bank_code = iban[4:7]
    assert iban == expected_iban(bank_code, account)
    assert iban_ok(iban)


def _employee_columns_read_by_the_mapping() -> set[str]:
    """Employee column names in the XPath of the mapping's select/test attributes and attribute templates."""
    from lxml import etree

    stylesheet = etree.parse(str(Mappings().path("centralbank", "SalaryBatch")))
    expressions = [value for node in stylesheet.iter() if isinstance(node.tag, str)
                   for name, value in node.attrib.items() if name in ("select", "test") or "{" in value]
    names = {word for expression in expressions for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", expression)}
    return names & ({TAGS[label] for label in SIF_EMPLOYEE_LABELS} | {"DeductionsTotal"})


@pytest.mark.parametrize("variant", ["A", "B"])
def test_employee_rows_carry_exactly_the_columns_the_mapping_reads(tmp_path, variant):
    sif = next(f for f in (render_employer_file(POPULATION, POPULATION.employer(i), 2026, 2, SifFaults(), variant)
                           for i in range(POPULATION.spec.employers)) if f is not None)
    path = tmp_path / sif.name
    path.write_bytes(sif.data)
    [item] = read_sif(path)
    layout = SIF_EMPLOYEE_LABELS if variant == "A" else EMPLOYEE_LABELS_NO_REFERENCE
    carried = [TAGS[label] for label in layout if label in MAPPED_LABELS] + ["DeductionsTotal"]
    rows = item.payload.findall("employee")
    assert rows and all([child.tag for child in row] == carried for row in rows)
    # a column the mapping reads but the reader dropped would map to nothing; one carried but unread is waste
    assert _employee_columns_read_by_the_mapping() == {TAGS[label] for label in MAPPED_LABELS} | {"DeductionsTotal"}
