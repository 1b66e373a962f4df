"""Transfer of services on the police side: the register, the simulator's service, the mappings both ways.

Every round trip goes canonical query → police request (checked against
``transfer.xsd``) → the simulator's handler → police answer (checked) →
canonical record (validated), so the mappings are tested on the documents the
police really send.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.adapter import AGENCY_SCHEMAS
from hub.contracts import AgencyContracts
from hub.errors import MappingError
from hub.mapping import Mappings
from hub.soap import SoapFault
from simulators.police.app import create_app
from simulators.police.residence import DEPARTED, IN_COUNTRY, OUTSIDE, TransferRegister, find_worker, residence_facts
from simulators.police.transfer import NS, eligibility_handler, notification_handler
from simulators.population import Population, PopulationSpec

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R, T = "{urn:rabt:canonical:v1}", f"{{{NS}}}"
NOW = "2026-05-20T08:00:00.000Z"
MAPPINGS = Mappings()
CONTRACT = AgencyContracts(AGENCY_SCHEMAS / "police", "police")
POPULATION = Population(PopulationSpec(as_of=date(2026, 5, 20)))


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml"), etree.XMLParser(remove_comments=True)).getroot()


def text(element: etree._Element, path: str) -> str | None:
    return element.findtext("/".join(R + step for step in path.split("/")))


def ask(civil_number: str, register: TransferRegister | None = None) -> etree._Element:
    """TransferEligibilityQuery about ``civil_number`` → the police → canonical record."""
    query = sample("TransferEligibilityQuery")
    query.find(R + "CivilNumber").text = civil_number
    request = MAPPINGS.transform("police", "TransferEligibilityQuery", query)
    CONTRACT.validate(request)
    assert request.findtext(T + "RequestRef") == "TRF-2026-000017"
    answer = eligibility_handler(POPULATION, register or TransferRegister())(request)
    CONTRACT.validate(answer)
    record = MAPPINGS.transform("police", "TransferEligibilityRecord", answer, now=NOW)
    canonical.validate(record)
    return record


def test_the_register_draws_the_same_facts_in_every_process_and_a_realistic_share_of_each():
    facts = [residence_facts(POPULATION, w) for w in POPULATION.workers()]
    assert facts == [residence_facts(POPULATION, w) for w in POPULATION.workers()]
    share = {kind: sum(f.presence == kind for f in facts) / len(facts) for kind in (IN_COUNTRY, OUTSIDE, DEPARTED)}
    assert 0.85 < share[IN_COUNTRY] < 0.95 and 0.02 < share[OUTSIDE] < 0.08 and 0.01 < share[DEPARTED] < 0.07
    assert 0.01 < sum(f.absconding_report is not None for f in facts) / len(facts) < 0.06
    assert all((f.last_exit is None) == (f.presence == IN_COUNTRY) for f in facts)


def test_a_worker_free_to_move_maps_to_an_in_country_record_with_the_current_sponsor():
    worker = find_worker(POPULATION)
    record = ask(worker.civil_number)
    assert text(record, "Worker/CivilNumber") == worker.civil_number
    assert text(record, "Worker/PassportNumber") == worker.passport_number
    assert text(record, "Worker/Nationality") == worker.nationality
    assert text(record, "CurrentSponsor/CRNumber") == worker.employer_cr
    assert text(record, "ResidenceExpiry") == worker.residence_expiry.isoformat()
    assert text(record, "Presence") == "in-country"
    assert record.find(R + "AbscondingReport") is None and record.find(R + "LastMovementOn") is None
    assert text(record, "AsOf") == NOW


@pytest.mark.parametrize("criteria, presence", [({"presence": OUTSIDE}, "outside"),
                                                ({"presence": DEPARTED}, "departed")])
def test_a_worker_outside_or_gone_maps_with_the_day_of_the_exit(criteria, presence):
    worker = find_worker(POPULATION, **criteria)
    record = ask(worker.civil_number)
    facts = residence_facts(POPULATION, worker)
    assert text(record, "Presence") == presence
    assert text(record, "LastMovementOn") == facts.last_exit.isoformat()


def test_an_absconding_report_maps_with_its_number_and_day():
    worker = find_worker(POPULATION, absconding=True)
    number, filed = residence_facts(POPULATION, worker).absconding_report
    record = ask(worker.civil_number)
    assert text(record, "AbscondingReport/ReportNumber") == number
    assert text(record, "AbscondingReport/ReportedOn") == filed.isoformat()


def test_an_expired_residence_is_reported_as_the_police_hold_it():
    worker = find_worker(POPULATION, residence_valid=False)
    assert date.fromisoformat(text(ask(worker.civil_number), "ResidenceExpiry")) < POPULATION.as_of


def test_an_unknown_civil_number_is_the_not_found_fault():
    request = MAPPINGS.transform("police", "TransferEligibilityQuery", sample("TransferEligibilityQuery"))
    with pytest.raises(SoapFault) as caught:
        eligibility_handler(POPULATION, TransferRegister())(request)  # 21004417: not in a 2,000-worker population
    assert "UnknownCivilNumber" in caught.value.code


@pytest.mark.parametrize("change, message", [
    ({"AbscondFlag": "Y"}, "AbscondFlag Y without AbscondReportNo"),
    ({"PresenceCode": "Q"}, "unknown PresenceCode Q"),
    ({"SponsorType": "X"}, "unknown SponsorType X"),
    ({"ResidenceExpiry": "2027-03-31"}, "is not dd/mm/yyyy"),
    ({"NameAr": " ", "NameEn": ""}, "has no name"),
])
def test_police_answers_the_mapping_cannot_read_are_mapping_errors(change, message):
    request = etree.Element(T + "CheckTransferEligibility")
    etree.SubElement(request, T + "RequestRef").text = "TRF-1"
    etree.SubElement(request, T + "CivilNo").text = find_worker(POPULATION).civil_number
    answer = eligibility_handler(POPULATION, TransferRegister())(request)
    for name, value in change.items():
        answer.find(T + name).text = value
    with pytest.raises(MappingError, match=message):
        MAPPINGS.transform("police", "TransferEligibilityRecord", answer, now=NOW)


def notice(civil_number: str, new_sponsor: str = "1000042") -> etree._Element:
    completed = sample("TransferCompleted")
    completed.find(f"{R}Worker/{R}CivilNumber").text = civil_number
    completed.find(f"{R}NewSponsor/{R}CRNumber").text = new_sponsor
    request = MAPPINGS.transform("police", "TransferCompleted", completed)
    CONTRACT.validate(request)
    return request


def test_a_completed_transfer_maps_to_the_police_notification():
    request = notice("20000001")
    assert [request.findtext(T + n) for n in ("TransferRef", "CivilNo", "PassportNo", "PrevSponsorType",
                                                "PrevSponsorId", "NewSponsorType", "NewSponsorId", "LicenceNo",
                                                "ProfessionCode", "EffectiveDate")] == [
        "TRF-2026-000017", "20000001", "P4471920", "C", "1000007", "C", "1000042", "CL-2026-000003", "7112",
        "06/12/2026"]


def test_a_private_sponsor_is_the_police_type_p_with_the_citizens_civil_number():
    completed = sample("TransferCompleted")
    sponsor = completed.find(R + "NewSponsor")
    sponsor.remove(sponsor[0])
    etree.SubElement(sponsor, R + "CivilNumber").text = "10000012"
    canonical.validate(completed)
    request = MAPPINGS.transform("police", "TransferCompleted", completed)
    assert (request.findtext(T + "NewSponsorType"), request.findtext(T + "NewSponsorId")) == ("P", "10000012")


def test_the_notification_moves_the_residence_once_and_the_next_answer_names_the_new_sponsor():
    register = TransferRegister()
    worker = find_worker(POPULATION)
    handle = notification_handler(POPULATION, register)
    first = handle(notice(worker.civil_number))
    CONTRACT.validate(first)
    again = handle(notice(worker.civil_number))  # a redelivery: same TransferRef
    assert first.findtext(T + "Acknowledged") == "Y"
    assert again.findtext(T + "RegisteredAt") == first.findtext(T + "RegisteredAt")
    assert len(register.received) == 1 and register.received[0]["effective_on"] == "2026-12-06"
    assert text(ask(worker.civil_number, register), "CurrentSponsor/CRNumber") == "1000042"


def test_a_notification_about_someone_the_police_do_not_know_is_refused():
    with pytest.raises(SoapFault):
        notification_handler(POPULATION, TransferRegister())(notice("29999999"))


def test_the_simulator_serves_the_contract_and_lists_what_it_received():
    app = create_app({"workers": 200})
    client = app.test_client()
    wsdl = client.get("/soap/transfer?wsdl")
    assert wsdl.status_code == 200 and b"CheckTransferEligibility" in wsdl.data
    assert client.get("/transfers").json == {"transfers": []}
    register = app.extensions["rabt_simulator"]["state"]["transfers"]
    register.record({"transfer_ref": "TRF-9", "civil_no": "20000001", "new_sponsor_type": "C",
                     "new_sponsor_id": "1000042"})
    assert [t["transfer_ref"] for t in client.get("/transfers").json["transfers"]] == ["TRF-9"]


def test_find_worker_names_what_it_could_not_find():
    tiny = Population(PopulationSpec(workers=3, employers=1, citizens=0, as_of=date.today() - timedelta(days=1)))
    with pytest.raises(LookupError, match="profession_code"):
        find_worker(tiny, profession_code="0000")
