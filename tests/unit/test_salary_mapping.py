"""The central bank mapping rebuilds the payer's IBAN from bank code and account number.

ISO 13616 check digits are computed in XSLT (two arithmetic steps for an
all-digit account, a letter-by-letter recursion otherwise); both ways are
checked here against Python's own mod-97 arithmetic.
"""

from __future__ import annotations

import string

import pytest

from adapters.centralbank.sif import iban_ok, read_sif
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
