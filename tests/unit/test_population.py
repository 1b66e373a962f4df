"""The synthetic population: deterministic, O(1) lookups, plausible distributions."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import InputError
from simulators.population import WAGE_THRESHOLD, Population, PopulationSpec

AS_OF = date(2026, 3, 1)
ROOT = Path(__file__).resolve().parents[2]
FINGERPRINT = """
from datetime import date
import hashlib
from simulators.population import Population, PopulationSpec
p = Population(PopulationSpec(seed=7, as_of=date(2026, 3, 1)))
h = hashlib.sha256()
for kind, count in (("citizen", 300), ("worker", 300), ("employer", 200)):
    for i in range(count):
        h.update(repr(getattr(p, kind)(i)).encode())
print(h.hexdigest())
"""


def fingerprint(population: Population) -> str:
    digest = hashlib.sha256()
    for kind, count in (("citizen", 300), ("worker", 300), ("employer", 200)):
        for i in range(count):
            digest.update(repr(getattr(population, kind)(i)).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(PopulationSpec(as_of=AS_OF))


def iban_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# -- determinism ------------------------------------------------------------

def test_same_seed_gives_identical_entities_in_two_instances():
    first = Population(PopulationSpec(seed=7, as_of=AS_OF))
    second = Population(PopulationSpec(seed=7, as_of=AS_OF))
    assert fingerprint(first) == fingerprint(second)


def test_same_seed_gives_identical_entities_across_processes_and_hash_seeds():
    here = fingerprint(Population(PopulationSpec(seed=7, as_of=AS_OF)))
    outputs = set()
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", FINGERPRINT], cwd=ROOT, env=env,
                                capture_output=True, text=True, check=True)
        outputs.add(result.stdout.strip())
    assert outputs == {here}


def test_another_seed_gives_other_people():
    assert fingerprint(Population(PopulationSpec(seed=8, as_of=AS_OF))) != \
        fingerprint(Population(PopulationSpec(seed=7, as_of=AS_OF)))


def test_as_of_moves_validity_dates_but_not_identities():
    early = Population(PopulationSpec(as_of=date(2026, 1, 1)))
    late = Population(PopulationSpec(as_of=date(2027, 1, 1)))
    a, b = early.employer(5), late.employer(5)
    assert (a.name, a.cr_status, a.iban) == (b.name, b.cr_status, b.iban)
    assert (b.cr_expiry - a.cr_expiry).days == 365
    assert early.worker(3).date_of_birth == late.worker(3).date_of_birth


# -- ids and lookups ----------------------------------------------------------

def test_ids_have_the_documented_shape(population):
    citizen, worker, employer = population.citizen(12), population.worker(34), population.employer(56)
    assert citizen.civil_number == "10000012"
    assert worker.civil_number == "20000034"
    assert employer.cr_number == "1000056"
    assert re.fullmatch(r"[A-Z]{1,2}[0-9]{7,8}", worker.passport_number)
    assert re.fullmatch(r"[0-9]{8}", employer.chamber_membership_number)


def test_lookup_by_id_returns_the_same_entity(population):
    for i in (0, 1, 199, 499):
        assert population.citizen_by_civil_number(f"1{i:07d}") == population.citizen(i)
    for i in (0, 1999):
        assert population.worker_by_civil_number(f"2{i:07d}") == population.worker(i)
    assert population.employer_by_cr("1000199") == population.employer(199)


@pytest.mark.parametrize("number", ["10000500", "2000000", "30000001", "1000000x", "", None, "１0000001", 10000001])
def test_unknown_or_malformed_ids_are_none(population, number):
    assert population.citizen_by_civil_number(number) is None
    assert population.worker_by_civil_number(number) is None


def test_unknown_cr_is_none(population):
    for cr in ("1000200", "2000001", "100001", "abcdefg"):
        assert population.employer_by_cr(cr) is None


def test_index_out_of_range_is_a_clear_error(population):
    with pytest.raises(InputError, match="no worker number 2000"):
        population.worker(2000)
    with pytest.raises(InputError):
        population.citizen(-1)


@pytest.mark.parametrize("kwargs", [{"workers": -1}, {"citizens": 10**8}, {"employers": 0},
                                    {"workers": "many"}, {"seed": "x"}])
def test_bad_spec_is_refused(kwargs):
    with pytest.raises(InputError):
        PopulationSpec(**kwargs)


def test_two_million_spec_is_computed_on_demand_not_held():
    tracemalloc.start()
    try:
        population = Population(PopulationSpec.scaled(2_000_000))
        worker = population.worker(1_999_999)
        employer = population.employer_by_cr(worker.employer_cr)
        last = population.employer_by_cr(f"1{population.spec.employers - 1:06d}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024, f"{peak} bytes: the population was built, not computed per look-up"
    assert population.spec.employers == 181_818 and population.spec.citizens == 500_000
    assert employer.first_worker <= 1_999_999 < employer.first_worker + employer.worker_count
    assert last.first_worker + last.worker_count == 2_000_000


# -- the employer / worker partition ----------------------------------------

def test_employers_partition_the_workers_contiguously(population):
    expected_first = 0
    for employer in population.employers():
        assert employer.first_worker == expected_first
        expected_first += employer.worker_count
        for worker in population.workers_of(employer):
            assert worker.employer_cr == employer.cr_number
    assert expected_first == population.spec.workers


def test_payroll_sizes_are_skewed_but_everyone_employs_someone(population):
    sizes = [e.worker_count for e in population.employers()]
    assert min(sizes) >= 1
    assert max(sizes) >= 3 * (sum(sizes) / len(sizes))


def test_citizen_employees_are_found_from_their_employer(population):
    employed = [c for c in population.citizens() if c.employer_cr and c.employment_active]
    assert employed
    for citizen in employed[:50]:
        employer = population.employer_by_cr(citizen.employer_cr)
        assert citizen in list(population.citizens_employed_by(employer))


def test_iterators_are_lazy(population):
    for iterator in (population.citizens(), population.workers(), population.employers()):
        assert iter(iterator) is iterator


# -- distributions -------------------------------------------------------------

def test_employer_statuses_cover_the_licensing_cases(population):
    employers = list(population.employers())
    statuses = Counter(e.cr_status for e in employers)
    chamber = Counter(e.chamber_status for e in employers)
    assert statuses["active"] > 150 and statuses["expired"] >= 1 and statuses["suspended"] >= 1
    assert 5 <= chamber["lapsed"] <= 40
    for e in employers:
        assert (e.cr_expiry < AS_OF) == (e.cr_status == "expired")
        assert (e.chamber_valid_until < AS_OF) == (e.chamber_status == "lapsed")
    assert len({e.governorate for e in employers}) >= 8
    assert len({e.chamber_membership_number for e in employers}) == len(employers)


def test_citizens_cover_insurers_wages_and_marital_status(population):
    citizens = list(population.citizens())
    insurers = Counter(c.insurer for c in citizens)
    assert 0.5 < insurers["social-insurance"] / len(citizens) < 0.7
    assert 0.12 < insurers["civil-service-pension"] / len(citizens) < 0.28
    assert 0.12 < insurers[None] / len(citizens) < 0.28
    insured = [c for c in citizens if c.insurer]
    below = sum(c.monthly_wage < WAGE_THRESHOLD for c in insured)
    assert 0.15 < below / len(insured) < 0.35
    assert all(c.monthly_wage is None and not c.employment_active for c in citizens if c.insurer is None)
    assert all(c.monthly_wage == c.monthly_wage.quantize(Decimal("0.001")) for c in insured)
    statuses = Counter(c.marital_status for c in citizens)
    assert statuses["married"] > 100 and statuses["single"] > 50
    assert statuses["divorced"] >= 1 and statuses["widowed"] >= 1


def test_spouses_point_at_each_other(population):
    couples = [c for c in population.citizens() if c.spouse_civil_number]
    assert couples
    for citizen in couples:
        spouse = population.citizen_by_civil_number(citizen.spouse_civil_number)
        assert spouse.spouse_civil_number == citizen.civil_number
        assert {spouse.gender, citizen.gender} == {"M", "F"}
        assert spouse.marital_status == "married"


def test_workers_have_plausible_nationalities_wages_and_residence(population):
    workers = list(population.workers())
    nationalities = Counter(w.nationality for w in workers)
    assert nationalities.most_common(1)[0][0] in ("IND", "BGD")
    assert len(nationalities) == 8
    assert all(Decimal("90") <= w.monthly_wage < Decimal("1000") for w in workers)
    expired = sum(w.residence_expiry < AS_OF for w in workers)
    assert 0 < expired < len(workers) * 0.2
    assert all(w.name.en and w.name.ar and re.fullmatch(r"[0-9]{4}", w.profession_code) for w in workers)


def test_every_iban_has_valid_check_digits(population):
    ibans = [c.iban for c in population.citizens()] + [w.iban for w in population.workers()] \
        + [e.iban for e in population.employers()]
    for iban in ibans:
        assert re.fullmatch(r"OM[0-9]{2}[0-9]{3}[0-9A-Z]{16}", iban), iban
        assert iban_ok(iban), iban
    assert len(set(ibans)) == len(ibans)


# -- finding scenario subjects ---------------------------------------------

def test_find_citizen_picks_the_first_match(population):
    found = population.find_citizen(insurer="social-insurance", married=True, wage_at_least=Decimal("600"))
    assert found.insurer == "social-insurance" and found.marital_status == "married"
    assert found.monthly_wage >= Decimal("600")
    earlier = [population.citizen(i) for i in range(found.index)]
    assert not any(c.insurer == "social-insurance" and c.marital_status == "married"
                   and c.monthly_wage >= Decimal("600") for c in earlier)
    poor = population.find_citizen(insured=True, wage_below="600")
    assert poor.monthly_wage < WAGE_THRESHOLD


def test_find_employer_and_worker(population):
    assert population.find_employer(cr_status="expired").cr_status == "expired"
    assert population.find_employer(chamber_status="lapsed", min_workers=2).worker_count >= 2
    assert population.find_worker(nationality="PHL").nationality == "PHL"


def test_find_refuses_unknown_criteria_and_reports_no_match(population):
    with pytest.raises(InputError, match="unknown citizen criterion 'shoe_size'"):
        population.find_citizen(shoe_size=42)
    with pytest.raises(InputError, match="no citizen"):
        population.find_citizen(insurer="social-insurance", wage_at_least="1000000")
