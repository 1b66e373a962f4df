"""The agency simulators over real HTTP: zeep loads every WSDL, every operation
answers for a known and an unknown id, bad requests get SOAP faults, and every
fault-injection mode reaches the client as the right kind of failure."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest
import requests
import zeep
from click.testing import CliRunner
from lxml import etree
from werkzeug.serving import WSGIRequestHandler, make_server
from zeep.exceptions import EntitiesForbidden, Fault, TransportError
from zeep.transports import Transport

from hub import lifeline
from simulators.courts.batches import labour_case
from simulators.population import Population, PopulationSpec
from simulators.registry import SIMULATORS, create
from simulators.soap import AGENCY_SCHEMAS

SEED = 2026
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # keep test output readable
        pass


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(PopulationSpec.scaled(400, seed=SEED))


@pytest.fixture(scope="module")
def urls(population):
    """Every simulator listening on a free port; name -> base URL."""
    servers, urls = [], {}
    for name in SIMULATORS:
        server, urls[name] = serve(create(name, {"population": population}))
        servers.append(server)
    yield urls
    for server in servers:
        requests.delete(f"http://127.0.0.1:{server.port}/_admin/faults", timeout=5)  # wake sleepers
        server.shutdown()
        server.server_close()


def client(url: str, service: str, operation_timeout: float = 5) -> zeep.Client:
    transport = Transport(timeout=5, operation_timeout=operation_timeout)
    return zeep.Client(f"{url}/soap/{service}?wsdl", transport=transport, settings=zeep.Settings(strict=True))


def first(items, predicate):
    return next(item for item in items if predicate(item))


def fault_of(call, *args):
    with pytest.raises(Fault) as info:
        call(*args)
    return info.value


# -- every WSDL, every operation ---------------------------------------------------------


def test_police_marital_status_known_and_unknown(urls, population):
    citizen = first(population.citizens(), lambda c: c.marital_status == "married" and c.spouse_civil_number)
    service = client(urls["police"], "civil-registry").service
    answer = service.GetMaritalStatus(citizen.civil_number)
    assert answer.CivilNo == citizen.civil_number
    assert answer.MaritalStatusCode == "M"
    assert answer.SpouseCivilNo == [citizen.spouse_civil_number]
    assert answer.FullNameEn == citizen.name.en
    assert answer.BirthDate == citizen.date_of_birth.strftime("%d/%m/%Y")
    assert datetime.strptime(answer.RecordDate, "%d/%m/%Y").date() <= population.as_of
    single = first(population.citizens(), lambda c: c.marital_status == "single")
    assert service.GetMaritalStatus(single.civil_number).MaritalStatusCode == "S"

    fault = fault_of(service.GetMaritalStatus, "19999999")
    assert fault.code == "soap:Client.UnknownCivilNumber"
    assert "19999999" in fault.message
    assert fault.detail.findtext(".//{urn:om:rop:civilregistry:2019}ErrorCode") == "CS-1404"


def test_commerce_registration_and_chamber(urls, population):
    employer = first(population.employers(), lambda e: e.cr_status != "active")
    registry = client(urls["commerce"], "commercial-registry").service
    answer = registry.GetCommercialRegistration(employer.cr_number)
    assert answer.CRNumber == employer.cr_number
    assert answer.CRStatusCode == {"expired": "02", "suspended": "03"}[employer.cr_status]
    assert answer.ExpiryDate == employer.cr_expiry
    assert answer.GovernorateCode == employer.governorate
    assert len(answer.Activities.Activity) >= 1
    assert fault_of(registry.GetCommercialRegistration, "9999999").code == "soap:Client.UnknownCR"

    chamber = client(urls["commerce"], "chamber-membership").service
    membership = chamber.GetChamberMembership(employer.cr_number)
    assert membership.MembershipNo == employer.chamber_membership_number
    assert membership.StatusCode == ("A" if employer.chamber_status == "valid" else "L")
    assert membership.ValidTo == employer.chamber_valid_until.strftime("%Y%m%d")
    assert fault_of(chamber.GetChamberMembership, "9999999").code == "soap:Client.NotAMember"


@pytest.mark.parametrize("fund, code, other", [
    ("social-insurance", "SI", "civil-service-pension"),
    ("civil-service-pension", "CSP", "social-insurance"),
])
def test_each_fund_answers_only_for_its_own_insured(urls, population, fund, code, other):
    service = client(urls["insurance"], fund).service
    insured = first(population.citizens(), lambda c: c.insurer == fund)
    answer = service.GetIncomeProof(insured.civil_number)
    assert (answer.FundCode, answer.CivilId) == (code, insured.civil_number)
    assert answer.MonthlyWage == insured.monthly_wage
    assert answer.InsuredStatusCode == ("10" if insured.employment_active else "20")

    someone_else = first(population.citizens(), lambda c: c.insurer == other)
    uninsured = first(population.citizens(), lambda c: c.insurer is None)
    for civil_number in (someone_else.civil_number, uninsured.civil_number, "19999999"):
        fault = fault_of(service.GetIncomeProof, civil_number)
        assert fault.code == "soap:Client.NotInsured", civil_number


def test_courts_case_status_and_referrals(urls, population):
    service = client(urls["courts"], "labour-court").service
    filed = labour_case(population, 1)  # the batches' case 1, filed long before as_of
    case = service.GetCaseStatus(filed.number)
    assert case.CaseNo == filed.number and case.FiledOn == filed.filed_on
    assert case.PlaintiffCivilNo == filed.worker.civil_number and case.DefendantCRNo == filed.employer.cr_number
    assert (case.StatusCode, case.StatusDate) == (filed.events[-1].status, filed.events[-1].day)
    assert fault_of(service.GetCaseStatus, "LC/1999/5").code == "soap:Client.UnknownCase"

    worker = population.worker(3)
    referral = dict(
        ReferralRef="REF-TEST-0001", ComplaintNo="CMP-2026-000042", ReferredOn=population.as_of,
        PlaintiffCivilNo=worker.civil_number, PlaintiffName=worker.name.en, DefendantCRNo=worker.employer_cr,
        DefendantName="Test Employer LLC", ClaimType=["WAGE", "EOSG"], ClaimedAmount="1250.500",
    )
    receipt = service.ReceiveComplaintReferral(**referral)
    assert re.fullmatch(r"LC/\d{4}/\d+", receipt.CaseNo)
    again = service.ReceiveComplaintReferral(**referral)
    assert again.CaseNo == receipt.CaseNo  # a resend is not a second case
    opened = service.GetCaseStatus(receipt.CaseNo)
    assert (opened.StatusCode, opened.PlaintiffCivilNo, opened.ClaimType) == ("OPN", worker.civil_number, ["WAGE", "EOSG"])

    listed = requests.get(f"{urls['courts']}/referrals", timeout=5).json()["referrals"]
    assert [r["referral_ref"] for r in listed] == ["REF-TEST-0001"]
    assert listed[0]["case_no"] == receipt.CaseNo and listed[0]["claimed_amount"] == "1250.500"


def test_same_seed_same_answers(population):
    body = _envelope('<GetMaritalStatus xmlns="urn:om:rop:civilregistry:2019"><CivilNo>10000007</CivilNo></GetMaritalStatus>')
    answers = []
    for _ in range(2):
        app = create("police", {"seed": SEED, "workers": 400})
        answers.append(app.test_client().post("/soap/civil-registry", data=body).data)
    assert answers[0] == answers[1] and b"GetMaritalStatusResponse" in answers[0]


# -- contracts over HTTP -----------------------------------------------------------------


def test_wsdl_address_points_at_the_server_and_xsds_are_served(urls):
    wsdl = requests.get(f"{urls['insurance']}/soap/social-insurance?wsdl", timeout=5)
    assert wsdl.status_code == 200
    assert f'location="{urls["insurance"]}/soap/social-insurance"' in wsdl.text
    xsd = requests.get(f"{urls['insurance']}/soap/income-proof.xsd", timeout=5)
    assert xsd.status_code == 200 and b'targetNamespace="urn:om:spf:income:1"' in xsd.content
    for path in ("/soap/..%2Fpolice%2Fborder.xsd", "/soap/nope.xsd", "/soap/income-proof.wsdl"):
        assert requests.get(urls["insurance"] + path, timeout=5).status_code == 404, path


CONTRACTS = sorted(
    path for agency in ("police", "commerce", "insurance", "courts")
    for path in (AGENCY_SCHEMAS / agency).glob("*.wsdl")
)


@pytest.mark.parametrize("wsdl", CONTRACTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_contract_loads_from_its_file(wsdl):
    """The hub's adapters load the same files from disk: imports must resolve locally."""
    loaded = zeep.Client(str(wsdl), settings=zeep.Settings(strict=True))
    assert loaded.service._operations
    imported = re.findall(r'schemaLocation="([^"]+)"', wsdl.read_text(encoding="utf-8"))
    assert imported
    for name in imported:
        etree.XMLSchema(etree.parse(str(wsdl.parent / name)))


def _envelope(body: str) -> bytes:
    return f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()


@pytest.mark.parametrize("payload, code, says", [
    (b"<soap:Envelope xmlns:soap='x'><unclosed>", "soap:Client.Parse", "not acceptable XML"),
    (b"", "soap:Client.Parse", "empty"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "soap:Client.Parse", "DOCTYPE"),
    (b"<Envelope/>", "soap:Client", "expected a SOAP 1.1 Envelope"),
    (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>', "soap:VersionMismatch", "SOAP 1.2"),
    (_envelope(""), "soap:Client", "exactly one element"),
    (_envelope('<GetIncome xmlns="urn:om:spf:income:1"/>'), "soap:Client", "unknown operation"),
    (_envelope('<GetIncomeProof xmlns="urn:om:spf:income:1"><CivilId>12</CivilId></GetIncomeProof>'), "soap:Client", "pattern"),
    (_envelope('<GetIncomeProof xmlns="urn:om:spf:income:1"><Other>1</Other></GetIncomeProof>'), "soap:Client", "Other"),
])
def test_bad_requests_get_client_faults(urls, payload, code, says):
    reply = requests.post(f"{urls['insurance']}/soap/social-insurance", data=payload, timeout=5,
                          headers={"Content-Type": "text/xml"})
    assert reply.status_code == 500
    fault = etree.fromstring(reply.content).find(f".//{{{SOAP_ENV}}}Fault")
    assert fault.findtext("faultcode") == code
    assert says in fault.findtext("faultstring")


def test_oversized_request_is_a_client_fault_not_a_crash(urls):
    body = _envelope("<GetIncomeProof xmlns='urn:om:spf:income:1'><CivilId>" + "1" * (11 * 1024 * 1024) + "</CivilId></GetIncomeProof>")
    reply = requests.post(f"{urls['insurance']}/soap/social-insurance", data=body, timeout=30)
    assert reply.status_code == 500
    assert "over the limit" in etree.fromstring(reply.content).findtext(f".//{{{SOAP_ENV}}}Fault/faultstring")


# -- fault injection, as the hub's zeep clients will see it ------------------------------


@pytest.fixture
def police(urls):
    """The police simulator with no fault rules before and after the test."""
    url = urls["police"]
    requests.delete(f"{url}/_admin/faults", timeout=5)
    yield url
    requests.delete(f"{url}/_admin/faults", timeout=5)


def inject(url: str, **rule) -> None:
    reply = requests.post(f"{url}/_admin/faults", json=rule, timeout=5)
    assert reply.status_code == 201, reply.text


CITIZEN = "10000001"


def test_injected_latency_delays_but_answers(police):
    inject(police, mode="latency", latency_ms=300, count=1)
    service = client(police, "civil-registry").service
    started = time.monotonic()
    assert service.GetMaritalStatus(CITIZEN).CivilNo == CITIZEN
    assert time.monotonic() - started >= 0.3
    # count=1: the rule delayed only that request and is gone
    assert requests.get(f"{police}/_admin/faults", timeout=5).json() == {"rules": []}


def test_injected_soap_fault_for_the_next_n_requests(police):
    inject(police, mode="soap-fault", count=2, fault_code="Server.Maintenance", fault_text="down for maintenance")
    service = client(police, "civil-registry").service
    for _ in range(2):
        fault = fault_of(service.GetMaritalStatus, CITIZEN)
        assert (fault.code, fault.message) == ("soap:Server.Maintenance", "down for maintenance")
    assert service.GetMaritalStatus(CITIZEN).CivilNo == CITIZEN
    assert requests.get(f"{police}/_admin/faults", timeout=5).json() == {"rules": []}


@pytest.mark.parametrize("rule, status", [
    ({"mode": "http-error", "status": 502}, 502),
    ({"mode": "down"}, 503),
    ({"mode": "malformed"}, 200),
    ({"mode": "hostile", "payload": "billion-laughs"}, 200),
])
def test_injected_transport_failures(police, rule, status):
    inject(police, count=1, **rule)
    with pytest.raises(TransportError) as info:
        client(police, "civil-registry").service.GetMaritalStatus(CITIZEN)
    assert info.value.status_code == status


def test_injected_xxe_is_refused_by_zeep(police):
    inject(police, mode="hostile", payload="xxe", count=1)
    with pytest.raises(EntitiesForbidden):
        client(police, "civil-registry").service.GetMaritalStatus(CITIZEN)


def test_injected_connection_drop(police):
    inject(police, mode="down", how="close", count=1)
    with pytest.raises(requests.ConnectionError):
        client(police, "civil-registry").service.GetMaritalStatus(CITIZEN)


def test_injected_timeout_outlasts_the_client(police):
    inject(police, mode="timeout", seconds=20, count=1)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        client(police, "civil-registry", operation_timeout=0.4).service.GetMaritalStatus(CITIZEN)
    assert time.monotonic() - started < 5


def test_injection_per_operation_and_by_probability(urls):
    url = urls["courts"]
    requests.delete(f"{url}/_admin/faults", timeout=5)
    inject(url, mode="soap-fault", operation="ReceiveComplaintReferral")
    service = client(url, "labour-court").service
    with pytest.raises(Fault):
        service.ReceiveComplaintReferral(
            ReferralRef="REF-X", ComplaintNo="C-1", ReferredOn="2026-01-01", PlaintiffCivilNo="20000001",
            PlaintiffName="A", DefendantCRNo="1000001", DefendantName="B", ClaimType=["WAGE"])
    # the other operation is untouched (its unknown-case fault is the normal answer)
    assert fault_of(service.GetCaseStatus, "LC/2020/999999").code == "soap:Client.UnknownCase"
    requests.delete(f"{url}/_admin/faults", timeout=5)

    def outcomes() -> list[bool]:
        reply = requests.post(f"{url}/_admin/faults", timeout=5,
                              json={"seed": 7, "rules": [{"mode": "soap-fault", "probability": 0.5}]})
        assert reply.status_code == 201
        seen = []
        for _ in range(12):
            try:
                service.GetCaseStatus("LC/1999/1")
            except Fault as fault:
                seen.append(fault.code == "soap:Server")
        requests.delete(f"{url}/_admin/faults", timeout=5)
        return seen

    first_run = outcomes()
    assert first_run == outcomes()  # seeded: the same requests fail again
    assert 0 < sum(first_run) < 12


# -- rabt simulate ---------------------------------------------------------------------


def test_simulate_help():
    from hub.cli import main

    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "--port-base" in result.output and "--seed" in result.output and "--workers" in result.output


def test_simulate_unknown_agency_is_refused():
    from hub.cli import main

    result = CliRunner().invoke(main, ["simulate", "polise"])
    assert result.exit_code == 1
    assert "did you mean 'police'" in result.output


def test_simulate_prints_where_it_listens_and_serves():
    process = lifeline.popen(
        [sys.executable, "-c", "from hub.cli import main; main()", "simulate", "police", "commerce",
         "--port-base", "0", "--workers", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        urls = [line.split()[1] for line in lines]
        assert [line.split()[0] for line in lines] == ["police", "police", "commerce", "commerce"]
        assert urls[1].endswith("/soap/transfer?wsdl")
        assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+/soap/[a-z-]+\?wsdl", url) for url in urls)
        answer = zeep.Client(urls[0]).service.GetMaritalStatus("10000000")
        assert answer.CivilNo == "10000000"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
