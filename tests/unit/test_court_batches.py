"""Court batches: valid against the courts' XSD, deterministic, consistent with the population."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from hub.errors import InputError
from hub.xmlsafe import parse_xml
from simulators import names as N
from simulators.courts.batches import (
    EPOCH, NS, case_events_on, labour_case, labour_case_by_number, write_batches,
)
from simulators.population import Population, PopulationSpec

XSD = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / "courts" / "labour-case-batch.xsd"
DAY = date(2026, 2, 3)
Q = {"lcb": NS}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture(scope="module")
def population() -> Population:
    # 400k workers: 8 new cases a day, so a day has updates at several courts
    return Population(PopulationSpec.scaled(400_000))


def batches(population, tmp_path, day=DAY, **kw):
    summary = write_batches(population, day, tmp_path, **kw)
    return summary, [parse_xml((tmp_path / name).read_bytes()) for name in summary.names]


def test_batches_validate_against_the_courts_xsd(population, tmp_path, schema):
    summary, docs = batches(population, tmp_path)
    assert summary.files == len(docs) >= 2
    for doc in docs:
        schema.assertValid(etree.ElementTree(doc))
        assert int(doc.get("RecordCount")) == len(doc.findall("lcb:CaseUpdate", Q))
    assert sum(len(doc.findall("lcb:CaseUpdate", Q)) for doc in docs) == summary.updates > 0
    assert not list(tmp_path.glob("*.tmp"))


def test_several_cases_per_file_and_per_file_is_respected(population, tmp_path):
    summary, docs = batches(population, tmp_path / "big")
    assert max(len(doc.findall("lcb:CaseUpdate", Q)) for doc in docs) > 1
    small, small_docs = batches(population, tmp_path / "small", per_file=2)
    assert all(len(doc.findall("lcb:CaseUpdate", Q)) <= 2 for doc in small_docs)
    assert small.updates == summary.updates and small.files > summary.files


def test_same_day_same_bytes(population, tmp_path):
    one = write_batches(population, DAY, tmp_path / "one")
    two = write_batches(population, DAY, tmp_path / "two")
    assert one.names == two.names
    for name in one.names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_updates_are_consistent_with_the_population(population, tmp_path):
    _, docs = batches(population, tmp_path)
    courts = {code: governorate for code, governorate, _, _ in N.COURTS}
    for doc in docs:
        assert doc.get("BatchDate") == DAY.isoformat()
        for update in doc.findall("lcb:CaseUpdate", Q):
            worker = population.worker_by_civil_number(update.findtext("lcb:Plaintiff/lcb:CivilNo", namespaces=Q))
            employer = population.employer_by_cr(update.findtext("lcb:Defendant/lcb:CRNo", namespaces=Q))
            assert worker.employer_cr == employer.cr_number
            assert update.findtext("lcb:Plaintiff/lcb:NameEn", namespaces=Q) == worker.name.en
            assert courts[doc.get("CourtCode")] == employer.governorate
            assert update.findtext("lcb:StatusDate", namespaces=Q) == DAY.isoformat()


def test_each_status_carries_its_details(population, tmp_path):
    seen = Counter()
    for offset in range(0, 40, 3):
        day = DAY + timedelta(days=offset)
        _, docs = batches(population, tmp_path / str(offset), day=day)
        for update in (u for doc in docs for u in doc.findall("lcb:CaseUpdate", Q)):
            status = update.findtext("lcb:StatusCode", namespaces=Q)
            seen[status] += 1
            hearing, judgment = update.find("lcb:Hearing", Q), update.find("lcb:Judgment", Q)
            if status == "OPN":
                assert update.findtext("lcb:FiledOn", namespaces=Q) == day.isoformat()
                assert hearing is None and judgment is None
            elif status == "HRG":
                assert date.fromisoformat(hearing.findtext("lcb:SessionDate", namespaces=Q)) > day
            else:
                assert judgment.findtext("lcb:IsFinal", namespaces=Q) == ("true" if status == "CLS" else "false")
                award = judgment.findtext("lcb:AwardAmount", namespaces=Q)
                claimed = update.findtext("lcb:Claims/lcb:ClaimedAmount", namespaces=Q)
                assert (award is None) == (judgment.findtext("lcb:OutcomeCode", namespaces=Q) in ("E", "X"))
                assert award is None or Decimal(award) <= Decimal(claimed)
    assert set(seen) == {"OPN", "HRG", "JDG", "CLS"}


def test_a_case_life_is_ordered_and_ends_in_a_judgment(population):
    for serial in range(0, 400, 7):
        case = labour_case(population, serial)
        days = [event.day for event in case.events]
        assert days == sorted(days) and case.events[0].status == "OPN"
        assert case.events[-1].status in ("JDG", "CLS")
        assert (days[-1] - days[0]).days < 160
        assert case.filed_on == EPOCH + timedelta(days=serial // 8)


def test_events_of_a_day_are_exactly_the_case_events_dated_that_day(population):
    found = {(case.serial, event.status) for case, event in case_events_on(population, DAY)}
    first = 8 * ((DAY - EPOCH).days - 160)
    expected = {(s, e.status) for s in range(first, 8 * ((DAY - EPOCH).days + 1))
                for e in labour_case(population, s).events if e.day == DAY}
    assert found == expected and found


def test_case_lookup_by_number(population):
    case = labour_case(population, 4321)
    assert labour_case_by_number(population, case.number, today=DAY) == case
    assert labour_case_by_number(population, case.number, today=case.filed_on - timedelta(days=1)) is None
    wrong_year = f"LC/{case.filed_on.year + 1}/4321"
    for number in (wrong_year, "LC/2026/x", "4321", None, "LC/2026/12345678"):
        assert labour_case_by_number(population, number, today=DAY) is None
    assert case.status_on(case.filed_on).status == "OPN"
    assert case.status_on(case.events[-1].day) == case.events[-1]


def test_no_cases_before_the_epoch(population, tmp_path):
    summary = write_batches(population, EPOCH - timedelta(days=1), tmp_path)
    assert summary.files == summary.updates == 0


def test_bad_per_file_is_refused(population, tmp_path):
    with pytest.raises(InputError):
        write_batches(population, DAY, tmp_path, per_file=0)
