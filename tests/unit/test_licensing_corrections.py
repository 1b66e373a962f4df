"""Worker data corrections through licensing's API, each subscriber answering through the real mappings.

``Subscribers`` is the ``notify`` the hub gives licensing, minus the
transport: each copy goes through ``mappings/<agency>/WorkerDataCorrected.xsl``,
the agency's contract and its simulator's handler. The end-to-end tests
(demo scenario) run the same over a real broker, the outbound workers and
real processes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.adapter import AGENCY_SCHEMAS
from hub.contracts import AgencyContracts
from hub.errors import AgencyUnavailableError
from hub.mapping import Mappings
from hub.routing import load_routes
from simulators.insurance.app import correction_handler as insurance_handler
from simulators.licensing import effects
from simulators.licensing.app import create_app
from simulators.licensing.config import LicensingConfig
from simulators.licensing.state import LicensingState
from simulators.police.corrections import CorrectionRegister, correction_handler as police_handler
from simulators.population import Population, PopulationSpec

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=timezone.utc)
POPULATION = Population(PopulationSpec(as_of=NOW.date()))
MAPPINGS = Mappings()
WORKER = POPULATION.worker(3)


class Subscribers:
    """``notify(body, destination, correlation_id)`` as the police and social insurance would take it."""

    def __init__(self) -> None:
        self.police = CorrectionRegister()
        self.insurance: list[dict] = []
        self.sent: list[tuple[str, str, str]] = []
        self.down: set[str] = set()

    def __call__(self, body: etree._Element, destination: str, correlation_id: str) -> str:
        if destination in self.down:
            raise AgencyUnavailableError(f"broker refused the copy for {destination}", agency=destination)
        canonical.validate(body)
        request = MAPPINGS.transform(destination, "WorkerDataCorrected", body)
        AgencyContracts(AGENCY_SCHEMAS / destination, destination).validate(request)
        handler = police_handler(POPULATION, self.police) if destination == "police" else \
            insurance_handler(POPULATION, self.insurance)
        handler(request)
        self.sent.append((destination, correlation_id, etree.QName(request).localname))
        return f"msg-{len(self.sent)}"


@pytest.fixture
def state(tmp_path) -> LicensingState:
    state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    arrival = {"kind": "WorkerArrival", "employer_cr": WORKER.employer_cr, "occurred_at": "2026-05-01T06:00:00Z",
               "visa_number": "EV-9", "licence_number": None, "port": "MCT", "sponsor_civil_number": None,
               "worker": {"civil_number": WORKER.civil_number, "passport_number": WORKER.passport_number,
                          "names": {"ar": WORKER.name.ar, "en": WORKER.name.en}, "nationality": WORKER.nationality}}
    state.apply_once("arrival-1", lambda conn: effects.worker_event(conn, "arrival-1", arrival))
    return state


@pytest.fixture
def subscribers() -> Subscribers:
    return Subscribers()


@pytest.fixture
def client(state, subscribers):
    app = create_app(LicensingConfig(home=Path("unused")), state=state, now=lambda: NOW, notify=subscribers)
    app.testing = True
    return app.test_client()


def correct(client, worker: str = WORKER.civil_number, **fields):
    return client.post(f"/api/workers/{worker}/corrections", json={"employer_cr": WORKER.employer_cr} | fields)


def test_the_default_routes_subscribe_the_police_and_social_insurance():
    assert load_routes().subscribers("WorkerDataCorrected") == ("police", "insurance")
    assert load_routes().subscribers("WorkerArrival") == ()


def test_a_correction_is_recorded_and_each_subscriber_told_in_its_own_contract(client, subscribers):
    reply = correct(client, name_en="Corrected Name", passport_number="N1234567")
    assert reply.status_code == 201, reply.json
    body = reply.json
    assert body["correction_id"] == "COR-2026-000001"
    assert body["changes"] == [{"field": "name-en", "before": WORKER.name.en, "after": "Corrected Name"},
                               {"field": "passport-number", "before": WORKER.passport_number, "after": "N1234567"}]
    assert body["notices"] == {"police": "msg-1", "insurance": "msg-2"}
    # one copy per subscriber, one correlation id for all, each in the agency's own operation
    assert subscribers.sent == [("police", body["correlation_id"], "NotifyWorkerDataCorrected"),
                                ("insurance", body["correlation_id"], "NotifyInsuredPersonCorrected")]
    (police,) = subscribers.police.received
    assert police["civil_no"] == WORKER.civil_number and police["passport_no"] == WORKER.passport_number
    assert police["corrected"] == {"NewPassportNo": "N1234567", "NewNameEn": "Corrected Name"}
    (insurance,) = subscribers.insurance
    assert insurance["items"] == {"FULL_NAME_EN": "Corrected Name", "PASSPORT_NO": "N1234567"}
    assert client.get(reply.headers["Location"]).json == body


def test_a_second_correction_starts_from_the_first_and_follows_a_new_civil_number(client):
    first = correct(client, nationality="BGD").json
    assert first["worker"]["nationality"] == "BGD"
    moved = correct(client, civil_number="99887766").json
    assert moved["changes"] == [{"field": "civil-number", "before": WORKER.civil_number, "after": "99887766"}]
    assert moved["previous"]["civil_number"] == WORKER.civil_number and moved["worker"]["nationality"] == "BGD"
    again = correct(client, worker="99887766", name_ar="اسم مصحح")
    assert again.status_code == 201, again.json
    assert again.json["previous"]["civil_number"] == "99887766"
    assert again.json["worker"] == {**moved["worker"], "names": {**moved["worker"]["names"], "ar": "اسم مصحح"}}
    stale = correct(client, name_en="Other")
    assert stale.status_code == 404 and "corrected to 99887766" in stale.json["reason"]


def test_only_the_sponsor_may_correct_and_bad_requests_say_which_field(client, subscribers):
    other = client.post(f"/api/workers/{WORKER.civil_number}/corrections",
                        json={"employer_cr": "1999999", "name_en": "X Y"})
    assert other.status_code == 403 and other.json["error"] == "not-the-sponsor"
    assert correct(client, civil_number="123").status_code == 400
    nothing = correct(client)
    assert nothing.status_code == 400 and "nothing to correct" in nothing.json["reason"]
    same = correct(client, name_en=WORKER.name.en)
    assert same.status_code == 400 and "every value given" in same.json["reason"]
    unknown = client.post("/api/workers/11112222/corrections", json={"employer_cr": WORKER.employer_cr,
                                                                     "name_en": "Somebody"})
    assert unknown.status_code == 404
    assert client.post(f"/api/workers/{WORKER.civil_number}/corrections", data=b"\xff").status_code == 400
    assert subscribers.sent == []


def test_a_subscriber_the_hub_cannot_reach_now_is_told_later_and_the_others_once(client, subscribers):
    subscribers.down = {"insurance"}
    body = correct(client, nationality="NPL").json
    assert body["notices"] == {"police": "msg-1"} and "insurance" in body["notice_error"]
    subscribers.down = set()
    resent = client.post(f"/api/corrections/{body['correction_id']}/notify")
    assert resent.status_code == 202
    assert resent.json["notices"] == {"police": "msg-1", "insurance": "msg-2"}
    assert [s[0] for s in subscribers.sent] == ["police", "insurance"]
    assert len({s[1] for s in subscribers.sent}) == 1
