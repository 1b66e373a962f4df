"""Transfers through licensing's API, the police answering in-process through the real mappings.

``PoliceThroughMappings`` is the ``ask`` the hub would give licensing, minus
the transport: the canonical query goes through ``mappings/police``, the
police contract and the police simulator's handler, and the answer (or its
SOAP Fault) comes back through the mappings as canonical XML. The
end-to-end tests run the same over a real broker and real processes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.adapter import AGENCY_SCHEMAS
from hub.contracts import AgencyContracts
from hub.errors import AgencyUnavailableError, ReplyTimeoutError
from hub.mapping import Mappings
from hub.outbound.answers import fault_document
from hub.outbound.client import AgencySoapFault
from hub.soap import SoapFault
from simulators.licensing import effects, rules
from simulators.licensing.app import create_app
from simulators.licensing.config import LicensingConfig
from simulators.licensing.state import ApplicationRequest, LicensingState
from simulators.licensing.tables import vacancies
from simulators.police.residence import OUTSIDE, TransferRegister, find_worker
from simulators.police.transfer import eligibility_handler, notification_handler
from simulators.population import Population, PopulationSpec

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=timezone.utc)
POPULATION = Population(PopulationSpec(as_of=NOW.date()))
MAPPINGS = Mappings()
CONTRACT = AgencyContracts(AGENCY_SCHEMAS / "police", "police")
FREE = find_worker(POPULATION)
NEW_EMPLOYER = "1000150"


class PoliceThroughMappings:
    """``ask`` and ``notify`` as the hub and the police would answer them."""

    def __init__(self) -> None:
        self.register = TransferRegister()
        self.asked: list[etree._Element] = []
        self.down: Exception | None = None

    def _police(self, name: str, body: etree._Element) -> etree._Element:
        canonical.validate(body)
        request = MAPPINGS.transform("police", name, body)
        CONTRACT.validate(request)
        handler = (eligibility_handler if name == "TransferEligibilityQuery" else notification_handler)
        return handler(POPULATION, self.register)(request)

    def __call__(self, query_type: str, body: etree._Element, destination: str) -> etree._Element:
        assert (query_type, destination) == ("TransferEligibilityQuery", "police")
        self.asked.append(body)
        if self.down is not None:
            raise self.down
        try:
            answer = self._police(query_type, body)
        except SoapFault as raised:
            fault = AgencySoapFault("r", fault_code=f"soap:{raised.code}", fault_text=raised.text,
                                    system="residence", agency="police")
            return MAPPINGS.transform("police", "AgencyFault", fault_document(fault, query_id="q-1"))
        return MAPPINGS.transform("police", "TransferEligibilityRecord", answer, now="2026-05-20T08:00:00.000Z")

    def notify(self, body: etree._Element, destination: str) -> str:
        assert destination == "police"
        if self.down is not None:
            raise self.down
        self._police("TransferCompleted", body)
        return f"msg-{len(self.register.received)}"


@pytest.fixture
def state(tmp_path) -> LicensingState:
    return LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")


@pytest.fixture
def police() -> PoliceThroughMappings:
    return PoliceThroughMappings()


@pytest.fixture
def client(state, police):
    app = create_app(LicensingConfig(home=Path("unused")), state=state, ask=police, now=lambda: NOW,
                     notify=police.notify)
    app.testing = True
    return app.test_client()


def licence(state: LicensingState, employer_cr: str, profession: str, count: int = 1) -> str:
    number = state.create_application(ApplicationRequest(rules.COMMERCIAL, ((profession, None, count),),
                                                         employer_cr=employer_cr), NOW)
    approved = rules.Outcome(rules.APPROVED, (rules.Reason("all-checks-passed", "test"),))
    return state.record_decision(number, approved, NOW)["licence_number"]


def transfer(client, worker, licence_number: str, profession: str | None = None):
    return client.post("/api/transfers", json={"worker_civil_number": worker.civil_number,
                                               "licence_number": licence_number,
                                               "profession_code": profession or worker.profession_code})


def free(state: LicensingState, licence_number: str) -> int:
    return sum(v["free"] for v in state.licence(licence_number)["vacancies"])


def test_an_allowed_transfer_fills_a_vacancy_frees_the_old_one_and_the_police_are_told(client, state, police):
    old = licence(state, FREE.employer_cr, FREE.profession_code)
    visa = {"visa_number": "EV-1", "licence_number": old, "licence_type": rules.COMMERCIAL,
            "profession_code": FREE.profession_code, "issued_at": "2026-01-02T08:00:00.000Z",
            "worker": {"nationality": FREE.nationality, "passport_number": FREE.passport_number}}
    state.apply_once("visa-1", lambda conn: effects.visa_issued(conn, state, visa))
    new = licence(state, NEW_EMPLOYER, FREE.profession_code, count=2)
    assert (free(state, old), free(state, new)) == (0, 2)
    reply = transfer(client, FREE, new)
    assert reply.status_code == 201, reply.json
    body = reply.json
    assert body["status"] == "completed" and body["police_notified"] and body["transfer_id"].startswith("TRF-2026-")
    assert (free(state, old), free(state, new)) == (1, 1)
    assert body["previous_sponsor"] == f"CRNumber:{FREE.employer_cr}"
    assert body["new_sponsor"] == f"CRNumber:{NEW_EMPLOYER}"
    (told,) = police.register.received
    assert (told["transfer_ref"], told["civil_no"], told["new_sponsor_id"], told["licence_no"]) == (
        body["transfer_id"], FREE.civil_number, NEW_EMPLOYER, new)
    assert client.get(reply.headers["Location"]).json == body


def test_the_same_transfer_asked_twice_is_refused_and_the_police_now_name_the_new_sponsor(client, state):
    new = licence(state, NEW_EMPLOYER, FREE.profession_code, count=3)
    assert transfer(client, FREE, new).json["status"] == "completed"
    again = transfer(client, FREE, new).json
    assert again["status"] == "refused"
    assert {r["code"] for r in again["reasons"]} == {"same-employer", "transfer-already-recorded"}
    assert free(state, new) == 2


@pytest.mark.parametrize("criteria, code", [
    ({"presence": OUTSIDE}, "worker-outside-country"),
    ({"presence": "F"}, "worker-departed"),
    ({"residence_valid": False}, "residence-expired"),
    ({"absconding": True}, "absconding-reported"),
])
def test_the_refusals_the_police_facts_bring(client, state, police, criteria, code):
    worker = find_worker(POPULATION, **criteria)
    new = licence(state, NEW_EMPLOYER, worker.profession_code)
    body = transfer(client, worker, new).json
    assert body["status"] == "refused" and code in [r["code"] for r in body["reasons"]]
    assert free(state, new) == 1 and not body["police_notified"] and police.register.received == []


def test_no_free_vacancy_and_an_unknown_licence_are_refused(client, state):
    new = licence(state, NEW_EMPLOYER, FREE.profession_code)
    with state.engine.begin() as conn:  # a visa took the last one
        conn.execute(vacancies.update().values(used=1))
    assert [r["code"] for r in transfer(client, FREE, new).json["reasons"]] == ["no-vacancy"]
    assert [r["code"] for r in transfer(client, FREE, "CL-2026-999999").json["reasons"]] == ["licence-not-found"]


def test_a_worker_the_police_do_not_know_is_refused(client, state):
    new = licence(state, NEW_EMPLOYER, "7112")
    reply = client.post("/api/transfers", json={"worker_civil_number": "29999999", "licence_number": new,
                                                "profession_code": "7112"})
    assert [r["code"] for r in reply.json["reasons"]] == ["worker-unknown"]


def test_a_police_outage_refers_the_transfer_and_changes_no_vacancy(client, state, police):
    new = licence(state, NEW_EMPLOYER, FREE.profession_code)
    police.down = ReplyTimeoutError("no reply within 10 s", agency="police")
    body = transfer(client, FREE, new).json
    assert body["status"] == "referred" and [r["code"] for r in body["reasons"]] == ["police-no-answer"]
    assert free(state, new) == 1


def test_a_notice_the_hub_cannot_take_stays_owed_and_is_sent_again(client, state, police):
    new = licence(state, NEW_EMPLOYER, FREE.profession_code)
    transfers = client.application.extensions["licensing_transfers"]

    def hub_unreachable(body, destination):
        raise AgencyUnavailableError("broker unreachable", agency="police")
    transfers.notify = hub_unreachable
    body = transfer(client, FREE, new).json
    assert body["status"] == "completed" and not body["police_notified"]
    assert "broker unreachable" in body["notice_error"]
    assert free(state, new) == 0  # recorded all the same
    transfers.notify = police.notify
    again = client.post(f"/api/transfers/{body['transfer_id']}/notify")
    assert again.status_code == 202 and again.json["police_notified"]
    assert [t["transfer_ref"] for t in police.register.received] == [body["transfer_id"]]


def test_a_final_exit_after_a_transfer_frees_the_new_employers_vacancy(client, state):
    new = licence(state, NEW_EMPLOYER, FREE.profession_code)
    assert transfer(client, FREE, new).json["status"] == "completed"
    event = {"kind": "WorkerDeparture", "departure_kind": "final", "employer_cr": NEW_EMPLOYER,
             "occurred_at": "2026-06-01T08:00:00.000Z",
             "worker": {"civil_number": FREE.civil_number, "passport_number": FREE.passport_number}}
    outcomes = []
    state.apply_once("dep-1", lambda conn: outcomes.append(effects.worker_event(conn, "dep-1", event)))
    assert outcomes == ["vacancy-released"] and free(state, new) == 1


@pytest.mark.parametrize("payload, field", [
    ({"licence_number": "CL-1", "profession_code": "7112"}, "worker_civil_number"),
    ({"worker_civil_number": "2000", "licence_number": "CL-1", "profession_code": "7112"}, "worker_civil_number"),
    ({"worker_civil_number": "20000001", "licence_number": "XX-1", "profession_code": "7112"}, "licence_number"),
    ({"worker_civil_number": "20000001", "licence_number": "CL-1", "profession_code": 7112}, "profession_code"),
])
def test_bad_requests_are_400_naming_the_field_and_nothing_is_filed(client, police, payload, field):
    reply = client.post("/api/transfers", json=payload)
    assert reply.status_code == 400 and field in reply.json["reason"]
    assert police.asked == []
    assert client.post("/api/transfers", data="not json").status_code == 400


def test_unknown_transfers_are_404_and_only_completed_ones_can_be_notified(client, state):
    assert client.get("/api/transfers/TRF-2026-000404").status_code == 404
    refused = transfer(client, FREE, "CL-2026-999999").json
    assert client.post(f"/api/transfers/{refused['transfer_id']}/notify").status_code == 400
