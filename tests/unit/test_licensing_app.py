"""The licensing Flask app end to end, with agencies answering from the real canonical samples."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.errors import AgencyFaultError, ConfigError, ReplyTimeoutError
from simulators.licensing.app import create_app
from simulators.licensing.config import LicensingConfig
from simulators.licensing.state import LicensingState

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R = "{urn:rabt:canonical:v1}"
NOW = datetime(2024, 5, 20, 8, 0, tzinfo=timezone.utc)
CITIZEN = "09123456"  # the citizen in the IncomeRecord and CivilStatusRecord samples
CR = "1093456"  # the establishment in the CR and chamber samples


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml"), etree.XMLParser(remove_comments=True)).getroot()


def edited(name: str, **fields: str) -> etree._Element:
    element = sample(name)
    for path, value in fields.items():
        node = element.find("/".join(R + step for step in path.split("__")))
        node.text = value
    canonical.validate(element)  # an edited sample is still a valid canonical record
    return element


class FakeAgencies:
    """``ask`` as the hub would answer it; every query it gets must be valid canonical XML."""

    def __init__(self, **replies) -> None:
        self.replies = {
            "IncomeQuery": sample("IncomeRecord"), "CivilStatusQuery": sample("CivilStatusRecord"),
            "CommercialRegistrationQuery": sample("CommercialRegistrationRecord"),
            "ChamberMembershipQuery": sample("ChamberMembershipRecord"),
        } | replies
        self.asked: list[tuple[str, str, etree._Element]] = []

    def __call__(self, query_type: str, body: etree._Element, destination: str) -> etree._Element:
        canonical.validate(body)
        self.asked.append((query_type, destination, body))
        reply = self.replies[query_type]
        if isinstance(reply, Exception):
            raise reply
        return copy.deepcopy(reply)


@pytest.fixture
def state(tmp_path) -> LicensingState:
    return LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")


def client_for(state, agencies, **kw):
    app = create_app(LicensingConfig(home=Path("unused")), state=state, ask=agencies, now=lambda: NOW, **kw)
    app.testing = True
    return app.test_client()


def private(**changes) -> dict:
    return {"licence_type": "private", "applicant_civil_number": CITIZEN,
            "applicant_name": "سالم بن خلفان البوسعيدي",
            "vacancies": [{"profession_code": "911101", "count": 1}]} | changes


def commercial(**changes) -> dict:
    return {"licence_type": "commercial", "employer_cr": CR, "applicant_name": "Gulf United Contracting LLC",
            "vacancies": [{"profession_code": "711201", "count": 6},
                          {"profession_code": "741101", "nationality": "IND", "count": 2}]} | changes


def test_private_application_approved_issues_a_licence(state):
    agencies = FakeAgencies()
    client = client_for(state, agencies)
    response = client.post("/api/applications", json=private())
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/applications/{body['number']}")
    assert body["status"] == "approved" and body["decision"]["decided_by"] == "automatic"
    assert body["applicant_name"] == "سالم بن خلفان البوسعيدي"
    licence_number = body["decision"]["licence_number"]
    assert licence_number == "PL-" + body["number"].split("-", 1)[1]
    # the decider asked the right agencies, about the applicant, naming the application
    assert [(q, d) for q, d, _ in agencies.asked] == [("IncomeQuery", "insurance"), ("CivilStatusQuery", "police")]
    for _, _, query in agencies.asked:
        assert query.findtext(R + "CivilNumber") == CITIZEN
        assert query.findtext(R + "ApplicationId") == body["number"]
    licence = client.get(f"/api/licences/{licence_number}").get_json()
    assert licence["status"] == "approved" and licence["valid_until"] == "2025-05-20"
    assert [(v["profession_code"], v["granted"], v["free"]) for v in licence["vacancies"]] == [("911101", 1, 1)]


def test_private_refused_below_threshold(state):
    agencies = FakeAgencies(IncomeQuery=edited("IncomeRecord", MonthlyWage="450.000"))
    body = client_for(state, agencies).post("/api/applications", json=private()).get_json()
    assert body["status"] == "refused"
    assert [r["code"] for r in body["decision"]["reasons"]] == ["income-below-threshold"]
    assert body["decision"]["licence_number"] is None


def test_threshold_comes_from_the_config(state):
    from decimal import Decimal

    from simulators.licensing.rules import Policy

    config = LicensingConfig(policy=Policy(income_threshold=Decimal("1500")))
    app = create_app(config, state=state, ask=FakeAgencies(), now=lambda: NOW)
    body = app.test_client().post("/api/applications", json=private()).get_json()
    assert [r["code"] for r in body["decision"]["reasons"]] == ["income-below-threshold"]


def test_private_refused_when_the_fund_reports_inactive(state):
    agencies = FakeAgencies(IncomeQuery=edited("IncomeRecord", EmployeeStatus="inactive"))
    body = client_for(state, agencies).post("/api/applications", json=private()).get_json()
    assert (body["status"], [r["code"] for r in body["decision"]["reasons"]]) == ("refused", ["employee-inactive"])


def test_private_referred_when_the_civil_registry_times_out(state):
    agencies = FakeAgencies(CivilStatusQuery=ReplyTimeoutError("no reply within 10s"))
    body = client_for(state, agencies).post("/api/applications", json=private()).get_json()
    assert body["status"] == "referred"
    assert [r["code"] for r in body["decision"]["reasons"]] == ["civil-registry-no-answer"]
    assert "reply-timeout" in body["decision"]["reasons"][0]["text"]


def test_private_referred_when_registry_does_not_know_the_applicant(state):
    unknown = edited("Fault", Code="not-found", Agency="police", Reason="No citizen with civil number 09123456")
    body = client_for(state, FakeAgencies(CivilStatusQuery=unknown)).post("/api/applications", json=private()).get_json()
    assert [r["code"] for r in body["decision"]["reasons"]] == ["civil-registry-unknown-person"]


def test_private_referred_when_the_answer_is_about_someone_else(state):
    body = client_for(state, FakeAgencies()).post(
        "/api/applications", json=private(applicant_civil_number="10458832")).get_json()
    assert body["status"] == "referred"
    assert [r["code"] for r in body["decision"]["reasons"]] == ["income-record-mismatch", "civil-record-mismatch"]


def test_commercial_approved_with_sample_cr_and_membership(state):
    agencies = FakeAgencies()
    client = client_for(state, agencies)
    body = client.post("/api/applications", json=commercial()).get_json()
    assert body["status"] == "approved"
    assert [(q, d) for q, d, _ in agencies.asked] == [("CommercialRegistrationQuery", "commerce"),
                                                        ("ChamberMembershipQuery", "commerce")]
    licence = client.get(f"/api/licences/{body['decision']['licence_number']}").get_json()
    assert [(v["profession_code"], v["nationality"], v["granted"]) for v in licence["vacancies"]] == [
        ("711201", None, 6), ("741101", "IND", 2)]


def test_commercial_refused_for_unknown_cr_and_lapsed_membership(state):
    lapsed = edited("ChamberMembershipRecord", Status="expired", ValidUntil="2024-03-31")
    agencies = FakeAgencies(CommercialRegistrationQuery=sample("Fault"), ChamberMembershipQuery=lapsed)
    body = client_for(state, agencies).post("/api/applications", json=commercial()).get_json()
    assert body["status"] == "refused"
    assert [r["code"] for r in body["decision"]["reasons"]] == [
        "cr-not-found", "chamber-membership-lapsed", "chamber-membership-expired"]


def test_commercial_referred_on_agency_fault_or_wrong_reply(state):
    agencies = FakeAgencies(ChamberMembershipQuery=AgencyFaultError("chamber service error", fault_code="soap:Server"),
                            CommercialRegistrationQuery=sample("IncomeRecord"))
    body = client_for(state, agencies).post("/api/applications", json=commercial()).get_json()
    assert body["status"] == "referred"
    assert [r["code"] for r in body["decision"]["reasons"]] == ["cr-no-answer", "chamber-no-answer"]
    assert "unexpected-reply" in body["decision"]["reasons"][0]["text"]


def test_decision_is_published_as_a_valid_licence_decision(state):
    published = []
    client = client_for(state, FakeAgencies(), publish=published.append)
    body = client.post("/api/applications", json=commercial()).get_json()
    assert len(published) == 1
    decision = published[0]
    canonical.validate(decision)
    assert decision.findtext(R + "ApplicationId") == body["number"]
    assert decision.findtext(R + "Decision") == "approved"
    assert decision.findtext(R + "EmployerCR") == CR
    assert len(decision.findall(f"{R}Vacancies/{R}Vacancy")) == 2


def test_get_endpoints(state):
    client = client_for(state, FakeAgencies())
    first = client.post("/api/applications", json=private()).get_json()
    second = client.post("/api/applications", json=commercial()).get_json()
    assert client.get(f"/api/applications/{first['number']}").get_json() == first
    decisions = client.get("/api/decisions").get_json()["decisions"]
    assert [d["application_number"] for d in decisions] == [second["number"], first["number"]]
    assert client.get("/api/decisions?limit=1").get_json()["decisions"][0]["application_number"] == second["number"]
    assert client.get("/api/applications/APP-1999-000001").status_code == 404
    assert client.get("/api/licences/PL-1999-000001").status_code == 404
    assert client.get("/api/events").get_json() == {"events": []}
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("payload, words", [
    ("not json", "JSON object"),
    ({"licence_type": "private", "applicant_civil_number": CITIZEN}, "vacancies"),
    (private(applicant_civil_number="12ab"), "applicant_civil_number"),
    (private(applicant_civil_number=None), "civil number"),
    (commercial(employer_cr=None), "CR number"),
    (private(licence_type="diplomatic"), "private or commercial"),
    (private(vacancies=[{"profession_code": "911101", "count": 0}]), "count"),
    (private(vacancies=[{"profession_code": "911101", "count": True}]), "count"),
    (private(vacancies=[{"count": 1}]), "profession_code"),
    (private(vacancies=[{"profession_code": "911101", "nationality": "ph"}]), "nationality"),
    (private(vacancies=["911101"]), "object"),
    (private(applicant_name="x" * 201), "applicant_name"),
])
def test_bad_applications_are_refused_with_the_reason(state, payload, words):
    agencies = FakeAgencies()
    client = client_for(state, agencies)
    response = (client.post("/api/applications", data=payload, content_type="application/json")
                if isinstance(payload, str) else client.post("/api/applications", json=payload))
    assert response.status_code == 400
    assert response.get_json()["error"] == "input"
    assert words in response.get_json()["reason"]
    assert agencies.asked == [] and state.decisions() == []


def test_bad_limit_is_a_400(state):
    response = client_for(state, FakeAgencies()).get("/api/events?limit=abc")
    assert response.status_code == 400 and "limit" in response.get_json()["reason"]


def test_no_hub_configured_refers_instead_of_failing(tmp_path):
    app = create_app(LicensingConfig(home=tmp_path))  # production defaults, no broker URL
    body = app.test_client().post("/api/applications", json=private()).get_json()
    assert body["status"] == "referred"
    assert [r["code"] for r in body["decision"]["reasons"]] == ["income-no-answer", "civil-registry-no-answer"]
    assert (tmp_path / "licensing.sqlite3").exists()


def test_html_form_submits_and_lists_arabic_names_right_to_left(state):
    client = client_for(state, FakeAgencies())
    response = client.post("/applications", data={
        "licence_type": "private", "applicant_name": "سالم بن خلفان البوسعيدي", "applicant_civil_number": CITIZEN,
        "profession_code": "911101", "nationality": "PHL", "count": "1"})
    assert response.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert '<td dir="auto" lang="ar">سالم بن خلفان البوسعيدي</td>' in page
    assert 'class="approved">approved' in page
    assert state.application(state.decisions()[0]["application_number"])["vacancies"] == [
        {"profession_code": "911101", "nationality": "PHL", "count": 1}]


def test_html_form_error_is_shown_and_escaped(state):
    client = client_for(state, FakeAgencies())
    response = client.post("/applications", data={"licence_type": "private", "applicant_civil_number": "<b>1</b>",
                                                   "profession_code": "911101", "count": "1"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page and "&lt;b&gt;1&lt;/b&gt;" in page and "<b>1</b>" not in page


def test_english_names_are_marked_english(state):
    client = client_for(state, FakeAgencies())
    client.post("/api/applications", json=commercial())
    assert '<td dir="auto" lang="en">Gulf United Contracting LLC</td>' in client.get("/").get_data(as_text=True)


def test_plain_dict_config_as_rabt_simulate_passes_it(tmp_path):
    app = create_app({"home": str(tmp_path), "income_threshold": "2000", "population": object()}, ask=FakeAgencies())
    body = app.test_client().post("/api/applications", json=private()).get_json()
    assert [r["code"] for r in body["decision"]["reasons"]] == ["income-below-threshold"]
    with pytest.raises(ConfigError, match="income_threshold"):
        create_app({"home": str(tmp_path), "income_threshold": "lots"})


def test_config_from_environment():
    config = LicensingConfig.from_env({"RABT_HOME": "/srv/rabt", "RABT_LICENSING_INCOME_THRESHOLD": "750.500",
                                       "RABT_BROKER_URL": "amqp://x", "RABT_LICENSING_REPLY_TIMEOUT": "3"})
    assert (str(config.policy.income_threshold), config.broker_url, config.reply_timeout) == ("750.500", "amqp://x", 3.0)
    assert config.effective_database_url == "sqlite:////srv/rabt/licensing.sqlite3"
    with pytest.raises(ConfigError):
        LicensingConfig.from_env({"RABT_LICENSING_REPLY_TIMEOUT": "soon"})


def test_referred_application_is_decided_again_when_asked_and_a_decided_one_is_final(state):
    agencies = FakeAgencies(CivilStatusQuery=ReplyTimeoutError("no reply within 10s"))
    app = create_app(LicensingConfig(), state=state, ask=agencies, now=lambda: NOW)
    number = app.test_client().post("/api/applications", json=private()).get_json()["number"]
    decider = app.extensions["licensing"].decider
    agencies.replies["CivilStatusQuery"] = sample("CivilStatusRecord")  # the registry is back
    assert decider.decide(number)["decision"] == "approved"
    asked = len(agencies.asked)
    assert decider.decide(number)["decision"] == "approved"
    assert len(agencies.asked) == asked  # nobody asked again
    assert [d["decision"] for d in state.decisions()] == ["approved", "referred"]


def _direct_visa_check(client, **params):
    return client.get("/api/visa-eligibility", query_string=params)


def test_direct_visa_check_gives_the_consumers_answer_and_records_nothing(state):
    from simulators.licensing.consumer import LicensingConsumer

    client = client_for(state, FakeAgencies())
    licence = client.post("/api/applications", json=commercial()).get_json()["decision"]["licence_number"]
    consumer = LicensingConsumer(state, verify=lambda raw: raw, now=lambda: NOW)
    cases = [("711201", "PHL", "commercial", True, "vacancy-available", 6),
             ("741101", "IND", "commercial", True, "vacancy-available", 2),
             ("741101", "PHL", "commercial", False, "nationality-not-allowed", 0),
             ("999999", "IND", "commercial", False, "profession-mismatch", 0),
             ("711201", "IND", "private", False, "licence-type-mismatch", None)]
    for profession, nationality, licence_type, eligible, code, remaining in cases:
        params = {"licence_number": licence, "profession_code": profession, "nationality": nationality}
        # the licence type defaults to what the number says, as the police mapping derives it
        params |= {"licence_type": licence_type} if licence_type == "private" else {}
        body = _direct_visa_check(client, **params).get_json()
        assert (body["eligible"], body["reason"]["code"], body["remaining"]) == (eligible, code, remaining)
        queued = consumer.visa_answer({"licence_number": licence, "licence_type": licence_type,
                                       "profession_code": profession, "nationality": nationality})
        assert (queued.eligible, queued.reason.code, queued.remaining) == (eligible, code, remaining)
    assert _direct_visa_check(client, licence_number="CL-1999-000001", profession_code="711201").get_json()[
        "reason"]["code"] == "licence-not-found"
    assert client.get("/api/events").get_json() == {"events": []}
    assert sum(v["used"] for v in client.get(f"/api/licences/{licence}").get_json()["vacancies"]) == 0


@pytest.mark.parametrize("params, words", [
    ({"profession_code": "711201"}, "licence_number"),
    ({"licence_number": "XX-2024-000001", "profession_code": "711201"}, "licence_number"),
    ({"licence_number": "CL-2024-000001"}, "profession_code is required"),
    ({"licence_number": "CL-2024-000001", "profession_code": "7x"}, "profession_code"),
    ({"licence_number": "CL-2024-000001", "profession_code": "711201", "nationality": "india"}, "nationality"),
    ({"licence_number": "CL-2024-000001", "profession_code": "711201", "licence_type": "diplomatic"}, "licence_type"),
])
def test_direct_visa_check_refuses_bad_queries_with_the_reason(state, params, words):
    response = _direct_visa_check(client_for(state, FakeAgencies()), **params)
    assert response.status_code == 400
    assert response.get_json()["error"] == "input" and words in response.get_json()["reason"]
