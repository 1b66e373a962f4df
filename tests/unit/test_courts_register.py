"""The courts simulator's case register: GetCaseStatus knows the batches' cases and the referred ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree

from hub.soap import SoapFault
from hub.xmlsafe import parse_xml
from simulators.courts import batches
from simulators.courts.app import NS, case_status_handler, create_app, first_referral_number
from simulators.population import Population, PopulationSpec

XSD = Path(__file__).resolve().parents[2] / "schemas" / "agencies" / "courts" / "labour-court.xsd"
DAY = date(2026, 2, 3)
LCB = {"lcb": batches.NS}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def people(as_of: date) -> Population:
    return Population(replace(PopulationSpec.scaled(400_000), as_of=as_of))  # 8 new cases a day


def register(as_of: date):
    """The simulator's GetCaseStatus handler and its docket, for a population seen on ``as_of``."""
    app = create_app({"population": people(as_of)})
    state = app.extensions["rabt_simulator"]
    return case_status_handler(state["population"], state["state"]["docket"]), state["state"]["docket"]


def ask(handler, case_no: str) -> etree._Element:
    request = etree.Element(f"{{{NS}}}GetCaseStatus")
    etree.SubElement(request, f"{{{NS}}}CaseNo").text = case_no
    return handler(request)


def field(answer: etree._Element, path: str) -> str | None:
    return answer.findtext("/".join(f"{{{NS}}}{step}" for step in path.split("/")))


def test_every_case_of_a_days_batches_is_found_with_that_days_status(tmp_path, schema):
    handler, _ = register(as_of=DAY)
    summary = batches.write_batches(people(DAY), DAY, tmp_path)
    last_update: dict[str, etree._Element] = {}
    for name in summary.names:
        for update in parse_xml((tmp_path / name).read_bytes()).iterfind("lcb:CaseUpdate", LCB):
            last_update[update.findtext("lcb:CaseNo", namespaces=LCB)] = update  # a day may hold two steps
    assert len(last_update) > 5
    for case_no, update in last_update.items():
        answer = ask(handler, case_no)
        schema.assertValid(etree.ElementTree(answer))
        for mine, theirs in (("StatusCode", "StatusCode"), ("StatusDate", "StatusDate"), ("FiledOn", "FiledOn"),
                             ("PlaintiffCivilNo", "Plaintiff/CivilNo"), ("DefendantCRNo", "Defendant/CRNo"),
                             ("PlaintiffName", "Plaintiff/NameEn"), ("ComplaintNo", "ComplaintNo")):
            assert field(answer, mine) == update.findtext("/".join(f"lcb:{s}" for s in theirs.split("/")),
                                                          namespaces=LCB), (case_no, mine)
        if field(answer, "StatusCode") == "HRG":
            session = update.find("lcb:Hearing", LCB)
            expected = f"{session.findtext('lcb:SessionDate', namespaces=LCB)}T" \
                       f"{session.findtext('lcb:SessionTime', namespaces=LCB)}:00+04:00"
            assert field(answer, "NextHearing") == expected
        if field(answer, "StatusCode") in ("JDG", "CLS"):
            assert field(answer, "Judgment/AwardAmount") == update.findtext("lcb:Judgment/lcb:AwardAmount", namespaces=LCB)
            assert field(answer, "Judgment/TextEn") == update.findtext("lcb:Judgment/lcb:TextEn", namespaces=LCB)


def test_the_register_shows_the_latest_step_as_of_its_day():
    case = batches.labour_case(people(DAY), 9_000)
    judged = case.events[-1].day
    before, _ = register(as_of=judged - timedelta(days=1))
    after, _ = register(as_of=judged + timedelta(days=30))
    assert field(ask(before, case.number), "StatusCode") == case.status_on(judged - timedelta(days=1)).status
    assert field(ask(after, case.number), "StatusCode") == case.events[-1].status in ("JDG", "CLS")


NEXT_FILED = f"LC/2026/{first_referral_number(people(DAY))}"  # the batches file it the day after DAY


@pytest.mark.parametrize("case_no", ["LC/1999/5", "LC/2025/100", NEXT_FILED, "CMP-2026-000001"])
def test_unknown_or_not_yet_filed_cases_are_client_unknown_case(case_no):
    handler, _ = register(as_of=DAY)  # case 100 was filed in 2024, not 2025
    with pytest.raises(SoapFault) as caught:
        ask(handler, case_no)
    assert caught.value.code == "Client.UnknownCase" and case_no in caught.value.text


def test_referred_cases_get_numbers_no_batch_case_has():
    handler, docket = register(as_of=DAY)
    population = people(DAY)
    first = first_referral_number(population)
    last_filed = batches.labour_case(population, first - 1)
    assert last_filed.filed_on == DAY  # the last case the batches file by DAY comes just before
    assert batches.labour_case(population, first).filed_on > DAY
    e = {name: f"{{{NS}}}{name}" for name in ("ReceiveComplaintReferral", "ReferralRef", "ComplaintNo", "ReferredOn",
                                              "PlaintiffCivilNo", "PlaintiffName", "DefendantCRNo", "DefendantName",
                                              "ClaimType")}
    referral = etree.Element(e["ReceiveComplaintReferral"])
    for name, value in (("ReferralRef", "REF-1"), ("ComplaintNo", "CMP-2026-000001"), ("ReferredOn", DAY.isoformat()),
                        ("PlaintiffCivilNo", "12345678"), ("PlaintiffName", "A Worker"),
                        ("DefendantCRNo", "1234567"), ("DefendantName", "An Employer LLC"), ("ClaimType", "WAGE")):
        etree.SubElement(referral, e[name]).text = value
    case, _ = docket.register(referral)
    assert case.case_no == f"LC/2026/{first}"
    answer = ask(handler, case.case_no)
    assert (field(answer, "StatusCode"), field(answer, "ComplaintNo"), field(answer, "PlaintiffCivilNo")) == (
        "OPN", "CMP-2026-000001", "12345678")
