"""The demo's scenarios: the licensing story told through every agency and channel.

Each scenario drives the running system from outside, as its users would —
an applicant on licensing's API, the police posting SOAP to the gateway, the
central bank and the courts dropping files, an operator replaying a dead
letter — and checks the outcome where that user would see it. A scenario
returns a one-line result or raises :class:`ScenarioFailed` saying what went wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import requests
from lxml import etree

from simulators.demo.context import DemoContext


class ScenarioFailed(Exception):
    """The system did not do what the scenario expects; the message says what it did instead."""


@dataclass(frozen=True)
class Scenario:
    number: int
    title: str
    run: Callable[[DemoContext], str]


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def wait_for(what: str, probe: Callable[[], object], timeout: float = 30.0, interval: float = 0.25):
    """Poll ``probe`` until it returns something truthy; ScenarioFailed naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _apply(ctx: DemoContext, **application) -> dict:
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/applications", json=application, timeout=60)
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    return reply.json()


def _decision(application: dict) -> str:
    return (application.get("decision") or {}).get("decision", "none")


def _reasons(application: dict) -> str:
    return ", ".join(r.get("code", "?") for r in (application.get("decision") or {}).get("reasons", []))


def private_approved(ctx: DemoContext) -> str:
    citizen = ctx.population.find_citizen(insurer="social-insurance", married=True, wage_at_least="700",
                                          employment_active=True)
    application = _apply(ctx, licence_type="private", applicant_civil_number=citizen.civil_number,
                         applicant_name=citizen.name.ar, vacancies=[{"profession_code": "9111", "count": 1}])
    expect(_decision(application) == "approved",
           f"{citizen.civil_number}: {_decision(application)} ({_reasons(application)})")
    ctx.remember("private_licence", application["decision"]["licence_number"])
    return f"{citizen.name.en}: approved, licence {application['decision']['licence_number']}"


def private_refused(ctx: DemoContext) -> str:
    low = ctx.population.find_citizen(insured=True, wage_below="500", employment_active=True)
    uninsured = ctx.population.find_citizen(insured=False)
    outcomes = []
    for citizen in (low, uninsured):
        application = _apply(ctx, licence_type="private", applicant_civil_number=citizen.civil_number,
                             vacancies=[{"profession_code": "9111", "count": 1}])
        expect(_decision(application) == "refused",
               f"{citizen.civil_number}: {_decision(application)} ({_reasons(application)})")
        outcomes.append(_reasons(application))
    return f"below threshold: {outcomes[0]}; not insured: {outcomes[1]}"


def _visa_worker(ctx: DemoContext):
    """The worker the visa scenario brings in; the commercial licence asks for their profession."""
    return ctx.population.find_worker(nationality="IND")


def commercial(ctx: DemoContext) -> str:
    good = _new_employer(ctx)  # a demo run again in the same folder: licensing still holds the docket's cases
    expired = ctx.population.find_employer(cr_status="expired")
    approved = _apply(ctx, licence_type="commercial", employer_cr=good,
                      vacancies=[{"profession_code": _visa_worker(ctx).profession_code, "count": 2}])
    expect(_decision(approved) == "approved", f"{good}: {_decision(approved)} ({_reasons(approved)})")
    refused = _apply(ctx, licence_type="commercial", employer_cr=expired.cr_number,
                     vacancies=[{"profession_code": "7112", "count": 1}])
    expect(_decision(refused) == "refused", f"{expired.cr_number}: {_decision(refused)} ({_reasons(refused)})")
    ctx.remember("commercial_licence", approved["decision"]["licence_number"])
    return f"CR {good} approved ({approved['decision']['licence_number']}); expired CR refused"


def visa_checks(ctx: DemoContext) -> str:
    licence = ctx.recall("commercial_licence")
    worker = _visa_worker(ctx)
    profession, other = worker.profession_code, "2211" if worker.profession_code != "2211" else "2212"
    yes = ctx.police.check_visa_eligibility(licence, worker.nationality, profession)
    expect(_text(yes, "EligibleFlag") == "Y", f"visa check for {licence} said {_text(yes, 'ReasonCode')}")
    no = ctx.police.check_visa_eligibility(licence, worker.nationality, other)
    expect(_text(no, "EligibleFlag") == "N", "a profession the licence lacks was accepted")
    free_before = _free(ctx, licence)
    ctx.police.report_visa_issued(worker, licence_no=licence, visa_no=f"EV{worker.civil_number}")
    wait_for("the issued visa to use a vacancy", lambda: _free(ctx, licence) == free_before - 1)
    return (f"yes for {profession}, no for {other} ({_text(no, 'ReasonCode')}); "
            f"vacancies {free_before} → {free_before - 1}")


def _text(element, tag: str) -> str:
    return (element.findtext(f"{{*}}{tag}") or "").strip()


def _free(ctx: DemoContext, licence: str) -> int:
    reply = ctx.http.get(f"{ctx.urls['licensing']}/api/licences/{licence}", timeout=10).json()
    return sum(v["free"] for v in reply.get("vacancies", []))


def _events(ctx: DemoContext, message_type: str) -> list[dict]:
    reply = ctx.http.get(f"{ctx.urls['licensing']}/api/events", params={"type": message_type, "limit": 500},
                         timeout=10)
    return reply.json()["events"]


def border_events(ctx: DemoContext) -> str:
    worker = ctx.population.worker(7)
    arrival = ctx.police.messages.arrival(worker, visa_no=f"EV-{worker.civil_number}")
    receipts = [ctx.police.send(arrival), ctx.police.notify_departure(worker),
                ctx.police.notify_residence_renewal(worker)]
    ids = {_text(r, "HubMessageId") for r in receipts}
    expect(len(ids) == 3 and all(ids), f"receipts {ids}")
    for kind in ("WorkerArrival", "WorkerDeparture", "ResidenceRenewal"):
        wait_for(f"licensing to apply {kind}", lambda kind=kind: any(e["message_id"] in ids for e in _events(ctx, kind)))
    wait_for("licensing's delivery receipts on the hub's trail", lambda: all(
        "applied" in [event.status for event in ctx.log.events(message_id)] for message_id in ids))
    again = ctx.police.send(arrival)
    expect(_text(again, "Duplicate") == "true", "a resent notification was not recognised as a duplicate")
    return "arrival, departure, renewal applied by licensing (receipts on the trail); a resend answered as duplicate"


def wage_files(ctx: DemoContext) -> str:
    from simulators.centralbank.sif import write_month

    inbox = ctx.home / "drop" / "centralbank" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    month = date.today().replace(day=1) - timedelta(days=1)
    summary = write_month(ctx.population, month.year, month.month, inbox, late_ratio=0.1,
                          employers=range(min(ctx.wage_employers, ctx.population.spec.employers)))
    done = ctx.home / "drop" / "centralbank" / "done"
    wait_for(f"{summary.files} wage files to be processed",
             lambda: len(list(done.glob("SIF_*.csv"))) >= summary.files, timeout=120)
    batches = wait_for("licensing to apply every SalaryBatch",
                       lambda: (lambda e: e if len(e) >= summary.files else None)(_events(ctx, "SalaryBatch")),
                       timeout=120)
    late = sum(1 for e in batches if e["summary"].get("late_lines"))
    expect(late > 0, "no late payer was flagged")
    return f"{summary.files} files, {summary.lines} salary lines; {late} late payers flagged"


def court_cases(ctx: DemoContext) -> str:
    from simulators.courts.batches import case_events_on, write_batches

    inbox = ctx.home / "drop" / "courts" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    day = date.today() - timedelta(days=1)
    summary = write_batches(ctx.population, day, inbox)
    wait_for("licensing to apply the court updates",
             lambda: len(_events(ctx, "LabourCaseUpdate")) >= summary.updates, timeout=60)
    complaint = _refer_complaint(ctx, "CMP-DEMO-0007")
    wait_for("the court to receive the referral", lambda: complaint in _referral_ids(ctx))
    case_number = next(case.number for case, _ in case_events_on(ctx.population, day))
    looked_up = ctx.http.get(f"{ctx.urls['licensing']}/api/cases/{case_number}", timeout=30)
    expect(looked_up.status_code == 200, f"licensing could not look up case {case_number}: {looked_up.text[:200]}")
    status = looked_up.json()
    expect(status["case_number"] == case_number, f"asked about {case_number}, got {status['case_number']}")
    return (f"{summary.updates} case updates in {summary.files} batches applied; complaint {complaint} referred; "
            f"case {case_number} looked up: {status['status']} since {status['status_date']}")


def _refer_complaint(ctx: DemoContext, complaint_id: str) -> str:
    worker = ctx.population.worker(11)
    employer = ctx.population.employer_by_cr(worker.employer_cr)
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/referrals", timeout=30, json={
        "complaint_id": complaint_id, "employer_cr": employer.cr_number, "employer_name_en": employer.name.en,
        "worker_civil_number": worker.civil_number, "worker_name_en": worker.name.en,
        "worker_name_ar": worker.name.ar, "worker_nationality": worker.nationality, "amount_claimed": "845.500"})
    expect(reply.status_code == 202, f"licensing refused the referral: {reply.text[:200]}")
    return complaint_id


def _referral_ids(ctx: DemoContext) -> list[str]:
    received = ctx.http.get(f"{ctx.urls['courts']}/referrals", timeout=10).json()["referrals"]
    return [r.get("complaint_no") for r in received]


def agency_down(ctx: DemoContext) -> str:
    courts = ctx.urls["courts"]
    ctx.http.post(f"{courts}/_admin/faults", json={"mode": "down", "how": "503"}, timeout=5).raise_for_status()
    complaint = _refer_complaint(ctx, "CMP-DEMO-0008")
    letter = wait_for("the referral to be dead-lettered after its retries",
                      lambda: next((d for d in ctx.dead_letters("courts")), None), timeout=60)
    ctx.http.delete(f"{courts}/_admin/faults", timeout=5).raise_for_status()
    ctx.replay(letter.id)
    wait_for("the replayed referral to reach the court", lambda: complaint in _referral_ids(ctx))
    expect(_referral_ids(ctx).count(complaint) == 1, "the court received the referral more than once")
    reason = letter.reason.partition(";")[0]  # its first clause says why; the rest is when to try again
    return f"courts down → {letter.attempts} attempts → dead letter ({reason}) → replayed → received once"


def _transfer(ctx: DemoContext, worker, licence: str) -> dict:
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/transfers", timeout=60, json={
        "worker_civil_number": worker.civil_number, "licence_number": licence,
        "profession_code": worker.profession_code})
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    return reply.json()


def _refused_for(ctx: DemoContext, worker, licence: str, code: str) -> str:
    transfer = _transfer(ctx, worker, licence)
    codes = [r["code"] for r in transfer["reasons"]]
    expect(transfer["status"] == "refused" and code in codes,
           f"{worker.civil_number} → {licence}: {transfer['status']} ({', '.join(codes)}), expected {code}")
    return code


def _new_employer(ctx: DemoContext, *workers) -> str:
    """An establishment in good standing that employs none of ``workers`` and is in none of the court
    docket's cases the demo hands licensing (:func:`court_cases`): an open case refers its applications."""
    from simulators.courts.batches import case_events_on

    taken = {w.employer_cr for w in workers}
    for day in (date.today() - timedelta(days=1), date.today()):  # the docket's day, whichever side of midnight
        taken.update(case.employer.cr_number for case, _ in case_events_on(ctx.population, day))
    return next(e.cr_number for e in ctx.population.employers()
                if e.cr_status == "active" and e.chamber_status == "valid" and e.cr_number not in taken)


def transfers(ctx: DemoContext) -> str:
    from simulators.police.residence import find_worker

    people = ctx.population
    mover = find_worker(people)
    rival = find_worker(people, profession_code=mover.profession_code, start=mover.index + 1)
    employer = _new_employer(ctx, mover, rival)
    licensed = _apply(ctx, licence_type="commercial", employer_cr=employer,
                      vacancies=[{"profession_code": mover.profession_code, "count": 1}])
    expect(_decision(licensed) == "approved", f"{employer}: {_decision(licensed)} ({_reasons(licensed)})")
    licence = licensed["decision"]["licence_number"]
    moved = _transfer(ctx, mover, licence)
    expect(moved["status"] == "completed", f"{mover.civil_number}: {moved['status']} ({moved['reasons']})")
    wait_for("the police to register the transfer", lambda: moved["transfer_id"] in _police_transfers(ctx))
    refusals = [_refused_for(ctx, rival, licence, "no-vacancy"),
                _refused_for(ctx, find_worker(people, presence="T"), licence, "worker-outside-country"),
                _refused_for(ctx, find_worker(people, residence_valid=False), licence, "residence-expired"),
                _refused_for(ctx, find_worker(people, absconding=True), licence, "absconding-reported"),
                _refused_for(ctx, rival, "CL-0000-000000", "licence-not-found")]
    return (f"{mover.name.en} → CR {employer} ({licence}), police told ({moved['transfer_id']}); "
            f"refused: {', '.join(refusals)}")


def _police_transfers(ctx: DemoContext) -> list[str]:
    received = ctx.http.get(f"{ctx.urls['police']}/transfers", timeout=10).json()["transfers"]
    return [t["transfer_ref"] for t in received]


def tampered(ctx: DemoContext) -> str:
    worker = ctx.population.worker(19)
    before = ctx.log.stats()
    request = ctx.police.prepare(ctx.police.messages.arrival(worker, visa_no="EV-TAMPERED"))
    forged = request.replace(worker.passport_number.encode(), b"X" + worker.passport_number.encode()[1:], 1)
    reply = requests.post(f"{ctx.urls['gateway']}/soap/police", data=forged, timeout=10,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    expect(reply.status_code == 500 and b"Client.Signature" in reply.content,
           f"the gateway answered {reply.status_code}: {reply.text[:200]}")
    after = ctx.log.stats()
    expect(after.refused == before.refused + 1, "the refusal was not kept in the message log")
    expect(sum(after.by_status.values()) == sum(before.by_status.values()), "a tampered message was accepted")
    return "refused with Client.Signature (digest mismatch); kept as a refusal, nothing published"


def _arrived(ctx: DemoContext, number: int):
    """Population worker ``number``, announced by the police at the border and applied by licensing."""
    worker = ctx.population.worker(number)
    receipt = ctx.police.send(ctx.police.messages.arrival(worker, visa_no=f"EV-{worker.civil_number}"))
    arrival_id = _text(receipt, "HubMessageId")
    wait_for("licensing to apply the arrival",
             lambda: any(e["message_id"] == arrival_id for e in _events(ctx, "WorkerArrival")))
    return worker


def _municipality(ctx: DemoContext):
    """The municipality's SOAP client at the gateway, signing with its key."""
    from simulators.municipality.client import MunicipalityClient, municipality_signer

    return MunicipalityClient(f"{ctx.urls['gateway']}/soap/municipality",
                              municipality_signer(ctx.settings.pki_dir), timeout=30)


def worker_record_for_municipality(ctx: DemoContext) -> str:
    """The ministry as a provider: the municipality asks for a worker's record, and gets only its fields."""
    worker = _arrived(ctx, 23)
    municipality = _municipality(ctx)
    try:
        record = municipality.worker_record(worker, fields=("NameEn", "NameAr", "ProfessionCode", "EmployerCRNo"))
    finally:
        municipality.close()
    received = [etree.QName(child).localname for child in record  # the fields, not the envelope's own parts
                if etree.QName(child).localname not in ("MessageId", "HubMessageId", "Signature")]
    expect(_text(record, "NameEn") == worker.name.en, f"the record names {_text(record, 'NameEn')!r}")
    expect(_text(record, "ResidentCardNo") == "", "a field the municipality did not ask for was sent")
    expect(record.find("{*}EmployerCRNo") is None,
           f"the municipality asked for the employer and received it: {_text(record, 'EmployerCRNo')}")
    projection = _projection_logged(ctx)
    return f"{worker.name.en}: received {', '.join(received)}; employer asked for, withheld ({projection})"


def _projection_logged(ctx: DemoContext) -> str:
    """The log's note on the hub's latest answer to the municipality: which projection went out."""
    answers = ctx.log.find(message_type="WorkerRecordResponse", limit=1)
    expect(bool(answers), "the hub's answer to the municipality is not in the message log")
    notes = [e.detail for e in ctx.log.events(answers[0].message_id) if e.status == "projected"]
    expect(bool(notes), "the log does not say which projection was sent")
    return notes[0].partition(": ")[2].partition(";")[2].strip()


SCENARIOS = (
    Scenario(1, "private licence approved automatically", private_approved),
    Scenario(2, "private licence refused (low income, not insured)", private_refused),
    Scenario(3, "commercial licence: valid CR approved, expired CR refused", commercial),
    Scenario(4, "police visa checks and an issued visa", visa_checks),
    Scenario(5, "border arrival, departure, renewal", border_events),
    Scenario(6, "a month of wage files, late payers flagged", wage_files),
    Scenario(7, "court case updates in, a case looked up, complaint referred out", court_cases),
    Scenario(8, "agency down → retries → dead letter → replay", agency_down),
    Scenario(9, "tampered message refused", tampered),
    Scenario(10, "transfer of services: allowed, police told; refusals", transfers),
    Scenario(11, "a worker's record for the municipality, only the fields it may have", worker_record_for_municipality),
)

from simulators.demo.corrections import worker_corrections  # noqa: E402 - these use the helpers above
from simulators.demo.evidence_archive import evidence_archive  # noqa: E402
from simulators.demo.evidence_ledger import disclosure_report  # noqa: E402
from simulators.demo.evidence_projection import projection_on_a_route  # noqa: E402
from simulators.demo.evidence_stamps import anchors_timestamped  # noqa: E402
from simulators.demo.statistics import open_statistics  # noqa: E402

SCENARIOS = (
    *SCENARIOS,
    Scenario(12, "worker data corrected, every subscriber told", worker_corrections),
    Scenario(13, "open-data statistics, signed, small counts withheld", open_statistics),
    Scenario(14, "log anchors timestamped and verified", anchors_timestamped),
    Scenario(15, "an archive verified offline after its payloads were purged", evidence_archive),
    Scenario(16, "a worker's disclosure report", disclosure_report),
    Scenario(17, "a projection applied on a route", projection_on_a_route),
)
