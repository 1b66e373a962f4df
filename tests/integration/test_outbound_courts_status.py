"""The labour court's case-status look-up end to end, over real HTTP and real transports.

Licensing asks ``LabourCaseStatusQuery`` (signed) on the courts queue; the
courts worker calls ``GetCaseStatus`` on the courts simulator and answers a
signed ``LabourCaseStatusRecord`` — or a canonical Fault. The same set-up as
``test_outbound_agencies`` (its ``rig`` and ``asker``: SQLite always,
RabbitMQ when it is up, required under RABT_REQUIRE_BROKER=1). Answers are
checked against the simulator's own register: the cases its batches file,
and the complaints referred to it.
"""

from __future__ import annotations

import time

import pytest
import requests
from outbound_helpers import FAST, canonical, late_answer, rig, simulator, text, wait_for  # noqa: F401 - rig: a fixture
from test_outbound_agencies import asker, referral  # noqa: F401 - shared fixtures

from hub.outbound import OutboundSettings
from hub.outbox import OutboxRelay
from simulators.courts import batches
from simulators.courts.app import first_referral_number
from simulators.licensing.app import create_app
from simulators.licensing.config import LicensingConfig
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.hub_link import TransportAsk, hub_verifier, licensing_seal
from simulators.licensing.state import LicensingState

R = "{urn:rabt:canonical:v1}"


@pytest.fixture
def court(rig):
    with simulator("courts") as sim:
        rig.start("courts", OutboundSettings(endpoints={"RABT_COURTS_LABOUR_COURT_URL": sim.url("labour-court")},
                                             reply_window=0.5, **FAST))
        yield sim


def filed_case(population, status: str) -> batches.LabourCase:
    """The latest case the batches file whose step on the population's day is ``status``."""
    for serial in range(first_referral_number(population) - 1, -1, -1):
        case = batches.labour_case(population, serial)
        if case.status_on(population.as_of).status == status:
            return case
    raise AssertionError(f"no case is {status}")


def status_query(case_number: str):
    return canonical("LabourCaseStatusQuery", CaseNumber=case_number)


def test_a_case_the_batches_file_is_found_with_its_current_step(asker, court, rig):
    case = filed_case(court.population, "HRG")
    step = case.status_on(court.population.as_of)
    query, header, body = asker.ask(status_query(case.number), "courts")
    assert (header.message_type, header.source_agency, header.source_system) == (
        "LabourCaseStatusRecord", "courts", "labour-court")
    assert header.source_message_id == query.message_id and header.correlation_id == query.correlation_id
    assert (text(body, "CaseNumber"), text(body, "Status"), text(body, "StatusDate")) == (
        case.number, "hearing", step.day.isoformat())
    assert text(body, "NextHearing") == f"{step.session:%Y-%m-%dT%H:%M:%S}+04:00"
    assert text(body, "Parties/Worker/CivilNumber") == case.worker.civil_number
    assert text(body, "Parties/Employer/CRNumber") == case.employer.cr_number
    assert (text(body, "Court/Code"), text(body, "FiledOn")) == (case.court[0], case.filed_on.isoformat())
    assert b"GetCaseStatusResponse" in rig.hub.log.get(header.message_id).raw  # the court's answer as received


def test_a_referred_complaint_is_found_by_the_case_number_the_court_gave(asker, court, rig):
    # one worker, one court system, two operations: the referral, then the look-up
    worker = court.population.worker(11)
    _, message = asker.message(referral(worker), "courts")
    asker.transport.publish([message])
    [received] = wait_for(lambda: requests.get(f"{court.base}/referrals", timeout=5).json()["referrals"])
    _, header, body = asker.ask(status_query(received["case_no"]), "courts")
    assert header.message_type == "LabourCaseStatusRecord"
    assert (text(body, "Status"), text(body, "ComplaintId"), text(body, "StatusDate")) == (
        "opened", "CMP-2026-000417", "2026-03-05")
    assert text(body, "Parties/Worker/CivilNumber") == worker.civil_number
    assert [s.text for s in body.iterfind(f"{R}Subject")] == ["unpaid-wages", "withheld-passport"]


def test_an_unknown_case_is_a_not_found_fault(asker, court):
    _, header, body = asker.ask(status_query("LC/1999/5"), "courts")
    assert header.message_type == "Fault"
    assert (text(body, "Code"), text(body, "Recoverable"), text(body, "Agency")) == ("not-found", "false", "courts")
    assert text(body, "Reason") == "no labour case numbered LC/1999/5"
    assert "MJ-LC-404" in text(body, "Detail")


def test_a_number_outside_the_courts_format_is_refused_before_calling_it(asker, court):
    _, header, body = asker.ask(status_query("CMP-2026-000417"), "courts")
    assert header.message_type == "Fault" and text(body, "Code") == "schema"
    assert "CaseNo" in text(body, "Reason")


@pytest.mark.parametrize("rule, reason", [
    ({"mode": "malformed"}, "not well-formed"),
    ({"mode": "hostile", "payload": "xxe"}, "DOCTYPE is not allowed"),
])
def test_a_garbage_answer_is_refused_with_its_reason(asker, court, rig, rule, reason):
    court.fault(count=1, operation="GetCaseStatus", **rule)
    _, header, body = asker.ask(status_query(filed_case(court.population, "OPN").number), "courts")
    assert (header.message_type, text(body, "Code")) == ("Fault", "parse")
    assert reason in text(body, "Reason") and "root:" not in text(body, "Reason")
    [refusal] = rig.hub.log.refusals("courts")
    assert reason in refusal.reason


def test_court_down_retries_then_dead_letters_and_a_replay_answers_late(asker, court, rig, tmp_path, trust_store):
    court.fault(mode="down")
    case = filed_case(court.population, "CLS")
    query, header, body = asker.ask(status_query(case.number), "courts")
    assert header.message_type == "Fault" and text(body, "Recoverable") == "true"  # the last attempt tells
    assert text(body, "Code") in ("circuit-open", "agency-unavailable")
    with rig.open_transport() as ops:
        [letter] = wait_for(lambda: ops.dead_letters(rig.hub.routes.queue_for("courts")))
        assert (letter.message_id, letter.attempts) == (query.message_id, 3)
        court.clear()
        time.sleep(1.1)  # the circuit's reset timeout: the next call is a trial
        ops.replay(letter.id)
        late_answer(rig.hub.log, query.correlation_id, "LabourCaseStatusRecord")
        OutboxRelay(rig.hub.log, ops).drain()  # nobody waits any more: queued to licensing
        state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
        consumer = LicensingConsumer(state, hub_verifier(trust_store))
        ops.consume(rig.hub.routes.queue_for("licensing"), consumer.handle, idle_timeout=1.0)
    kept = [e for e in state.events() if e["message_type"] == "LabourCaseStatusRecord"]
    assert [e["outcome"] for e in kept] == ["kept-for-officer"]


def test_licensing_api_asks_the_court_through_the_hub(asker, court, tmp_path, pki_dir, trust_store):
    ask = TransportAsk(asker.transport, hub_verifier(trust_store), licensing_seal(pki_dir), timeout=15.0)
    app = create_app(LicensingConfig(home=tmp_path), state=LicensingState(f"sqlite:///{tmp_path / 'l.sqlite3'}"),
                     ask=ask)
    client = app.test_client()
    case = filed_case(court.population, "JDG")
    found = client.get(f"/api/cases/{case.number}")
    assert found.status_code == 200, found.get_json()
    judged = found.get_json()
    assert (judged["case_number"], judged["status"], judged["judgment"]["final"]) == (case.number, "judgment", False)
    assert judged["worker"]["civil_number"] == case.worker.civil_number

    unknown = client.get("/api/cases/LC/1999/5")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "not-found", "reason": "no labour case numbered LC/1999/5",
                                  "agency": "courts"}

    court.fault(mode="down")
    down = client.get(f"/api/cases/{case.number}")
    assert down.status_code == 503 and down.get_json()["error"] in ("circuit-open", "agency-unavailable")
    assert "labour-court" in down.get_json()["reason"]
