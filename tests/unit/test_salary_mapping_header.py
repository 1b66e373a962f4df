"""The SalaryBatch mapping's per-file values and the Deductions sum, checked against Python's own rules.

The mapping computes the payment status (late after day 7 of the month
after the pay month), the payer bank's BIC and IBAN bank code from a table,
and each line's Deductions as Deductions + Social Security Deductions with a
shortcut when one of them is zero; each is compared here with the rule as
the simulator and the reader state it.
"""

from __future__ import annotations

import copy
import random
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from adapters.centralbank.sif import BANK_SHORT_NAMES, baisas, omr, read_sif
from hub.errors import MappingError
from hub.mapping import Mappings
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.names import BANKS
from simulators.population import Population, PopulationSpec

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(300))


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """One generated file's rows document (account layout: the payer's IBAN is rebuilt from the bank code)."""
    sif = next(f for f in (render_employer_file(POPULATION, POPULATION.employer(i), 2026, 2, SifFaults(), "A")
                           for i in range(POPULATION.spec.employers)) if f is not None)
    path = tmp_path_factory.mktemp("sif") / sif.name
    path.write_bytes(sif.data)
    [item] = read_sif(path)
    return item.payload


def mapped(rows, *, bank: str | None = None, year: str | None = None, month: str | None = None,
           paid: date | None = None):
    document = copy.deepcopy(rows)
    header = document.find("header")
    for tag, value in (("PayerBankShortName", bank), ("SalaryYear", year), ("SalaryMonth", month)):
        if value is not None:
            header.find(tag).text = value
    if paid is not None:
        document.find("name").set("date", paid.isoformat())
    return Mappings().transform("centralbank", "SalaryBatch", document)


def due(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 7)


@pytest.mark.parametrize("year, month", [(2026, 1), (2026, 9), (2026, 11), (2026, 12), (2099, 12)])
@pytest.mark.parametrize("days_after_due", [-40, -1, 0, 1, 30])
def test_payment_status_is_late_only_after_day_7_of_the_next_month(rows, year, month, days_after_due):
    paid = date.fromordinal(due(year, month).toordinal() + days_after_due)
    body = mapped(rows, year=str(year), month=f"{month:02d}", paid=paid)
    statuses = {line.findtext(f"{R}PaymentStatus") for line in body.iter(f"{R}SalaryLine")}
    assert statuses == {"late" if days_after_due > 0 else "on-time"}
    assert {line.findtext(f"{R}PaymentDate") for line in body.iter(f"{R}SalaryLine")} == {paid.isoformat()}


@pytest.mark.parametrize("bic, bank, code", BANKS)
def test_every_bank_gets_its_bic_and_iban_bank_code(rows, bic, bank, code):
    body = mapped(rows, bank=bank)
    assert body.findtext(f"{R}PayerBankCode") == bic
    assert body.findtext(f"{R}PayerIban")[4:7] == code


def test_the_bank_table_covers_exactly_the_banks_the_reader_accepts():
    assert sorted(bank for _, bank, _ in BANKS) == sorted(BANK_SHORT_NAMES)


@pytest.mark.parametrize("bank", ["XYZ", "", "BMC", "BMCT:", "NBO;SIB", "bmct"])
def test_an_unknown_bank_is_refused_by_name(rows, bank):
    with pytest.raises(MappingError) as refused:
        mapped(rows, bank=bank)
    assert refused.value.reason == f"line 2: unknown Payer Bank Short Name '{bank}'"


@pytest.mark.parametrize("deductions, social", [("0.000", "0.000"), ("12.500", "0.000"), ("0.000", "29.536"),
                                                ("0.100", "0.200"), ("999999999999.999", "0.001"), ("1.005", "2.995")])
def test_deductions_are_the_exact_sum_of_both_columns(rows, deductions, social):
    document = copy.deepcopy(rows)
    for line in document.iter("employee"):
        line.find("DeductionsTotal").text = omr(baisas(deductions) + baisas(social))  # as the reader adds them up
    body = Mappings().transform("centralbank", "SalaryBatch", document)
    expected = f"{Decimal(deductions) + Decimal(social):.3f}"
    assert {line.findtext(f"{R}Deductions") for line in body.iter(f"{R}SalaryLine")} == {expected}


def amounts(draw: random.Random) -> str:
    """An amount as the row check accepts it: 1 to 12 digits, 3 decimals, small ones most often."""
    digits = draw.choice([1, 1, 2, 3, 3, 4, 6, 9, 12])
    return f"{draw.randrange(10 ** digits)}.{draw.randrange(1000):03d}"


def test_the_readers_deductions_total_is_what_the_mapping_added_up_before():
    """The mapping wrote format-number(Deductions + SocialSecurityDeductions, '0.000'); the reader's sum must agree."""
    before = etree.XSLT(etree.XML(
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:template match="/rows"><sums><xsl:for-each select="row"><sum>'
        "<xsl:value-of select=\"format-number(Deductions[1] + SocialSecurityDeductions[1], '0.000')\"/>"
        "</sum></xsl:for-each></sums></xsl:template></xsl:stylesheet>"))
    draw = random.Random(19)
    pairs = [(amounts(draw), amounts(draw)) for _ in range(20_000)] + [
        (deductions, social) for deductions in ("0.000", "0.001", "999999999999.999", "0.999", "1.005")
        for social in ("0.000", "0.001", "999999999999.999", "2.995", "99999999999.999")]
    rows = etree.XML("<rows>" + "".join(f"<row><Deductions>{deductions}</Deductions><SocialSecurityDeductions>"
                                        f"{social}</SocialSecurityDeductions></row>" for deductions, social in pairs)
                     + "</rows>")
    added_up = [sum_.text for sum_ in before(rows).getroot()]
    assert added_up == [omr(baisas(deductions) + baisas(social)) for deductions, social in pairs]
