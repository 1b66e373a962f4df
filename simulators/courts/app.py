"""Labour court simulator: case status lookups and complaint referrals.

``/soap/labour-court`` implements ``courts/labour-court.wsdl``:

* ``GetCaseStatus`` - the court's register as of the population's ``as_of``
  day: every case the batch files tell of (:mod:`simulators.courts.batches`,
  ``LC/<year filed>/<serial>``, derived from the population, the same on
  every run) with its latest step on or before that day, and the cases opened
  by referrals (kept in memory). Anything else, or a case filed later: fault
  ``Client.UnknownCase`` (MJ-LC-404).
* ``ReceiveComplaintReferral`` - registers a referred complaint as a new case
  (state OPN) and answers its case number; the same ``ReferralRef`` sent again
  gets the same case, not a second one.

``GET /referrals`` lists what was received (JSON), for tests and demos.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from flask import Flask, jsonify
from lxml import etree
from lxml.builder import ElementMaker

from simulators.courts import batches
from simulators.population import Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault, create_agency_app

NS = "urn:om:mjla:labourcourt:2022"
COURT_TIME = timezone(timedelta(hours=4))
"""Sessions are set in court local time (Oman, UTC+04:00); the contract's times carry it."""


@dataclass
class LabourCase:
    """One case as the court's registry holds it."""

    case_no: str
    court_code: str
    plaintiff_civil_no: str
    plaintiff_name: str
    defendant_cr_no: str
    defendant_name: str
    claim_types: list[str]
    filed_on: date
    status: str
    status_date: date
    complaint_no: str | None = None
    next_hearing: datetime | None = None
    outcome: str | None = None
    award: Decimal | None = None

    def to_element(self) -> etree._Element:
        e = ElementMaker(namespace=NS, nsmap={"lc": NS})
        parts = [e.CaseNo(self.case_no), e.CourtCode(self.court_code)]
        parts += [e.ComplaintNo(self.complaint_no)] if self.complaint_no else []
        parts += [e.PlaintiffCivilNo(self.plaintiff_civil_no), e.PlaintiffName(self.plaintiff_name),
                  e.DefendantCRNo(self.defendant_cr_no), e.DefendantName(self.defendant_name)]
        parts += [e.ClaimType(code) for code in self.claim_types]
        parts += [e.FiledOn(self.filed_on.isoformat()), e.StatusCode(self.status), e.StatusDate(self.status_date.isoformat())]
        parts += [e.NextHearing(self.next_hearing.isoformat())] if self.next_hearing else []
        if self.outcome:
            text_ar, text_en = batches.JUDGMENT_TEXT[self.outcome]
            award = [e.AwardAmount(f"{self.award:.3f}")] if self.award is not None else []
            parts.append(e.Judgment(e.OutcomeCode(self.outcome), e.TextAr(text_ar), e.TextEn(text_en), *award,
                                    e.IsFinal("true" if self.status == "CLS" else "false")))
        return e.GetCaseStatusResponse(*parts)


def registered_case(case: batches.LabourCase, today: date) -> LabourCase | None:
    """A batch case as the register shows it on ``today``: its latest step (None before it is filed)."""
    event = case.status_on(today)
    if event is None:
        return None
    view = LabourCase(
        case_no=case.number, court_code=case.court[0], plaintiff_civil_no=case.worker.civil_number,
        plaintiff_name=case.worker.name.en, defendant_cr_no=case.employer.cr_number,
        defendant_name=case.employer.name.en, claim_types=list(case.claims), filed_on=case.filed_on,
        status=event.status, status_date=event.day, complaint_no=case.complaint_number,
    )
    if event.status == "HRG":
        view.next_hearing = event.session.replace(tzinfo=COURT_TIME)
    if event.status in ("JDG", "CLS"):
        view.outcome = event.outcome
        view.award = None if event.award_baisas is None else Decimal(event.award_baisas).scaleb(-3)
    return view


def first_referral_number(population: Population) -> int:
    """Referred cases are numbered after the last one the batches file by ``as_of``: no number is two cases."""
    filed_days = max(0, (population.as_of - batches.EPOCH).days + 1)
    return batches.cases_per_day(population) * filed_days


@dataclass
class Docket:
    """Cases opened by referral, kept in memory for the app's lifetime."""

    first_number: int
    year: int
    cases: dict[str, LabourCase] = field(default_factory=dict)
    by_ref: dict[str, str] = field(default_factory=dict)
    received: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, request: etree._Element) -> tuple[LabourCase, str]:
        """Open a case for a referral (or find the one already opened for its ref)."""
        text = lambda name: request.findtext(f"{{{NS}}}{name}")  # noqa: E731 - local shorthand
        ref = text("ReferralRef")
        with self.lock:
            if ref in self.by_ref:
                case = self.cases[self.by_ref[ref]]
                return case, next(r["registered_at"] for r in self.received if r["referral_ref"] == ref)
            number = f"LC/{self.year}/{self.first_number + len(self.cases)}"
            referred_on = date.fromisoformat(text("ReferredOn"))
            case = LabourCase(
                case_no=number, court_code=text("CourtCode") or "muscat-primary",
                plaintiff_civil_no=text("PlaintiffCivilNo"), plaintiff_name=text("PlaintiffName"),
                defendant_cr_no=text("DefendantCRNo"), defendant_name=text("DefendantName"),
                claim_types=[c.text for c in request.iterfind(f"{{{NS}}}ClaimType")],
                filed_on=referred_on, status="OPN", status_date=referred_on, complaint_no=text("ComplaintNo"),
            )
            registered_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            self.cases[number] = case
            self.by_ref[ref] = number
            record = {"referral_ref": ref, "registered_at": registered_at, "summary": text("Summary"),
                      "claimed_amount": text("ClaimedAmount"), **asdict(case)}
            self.received.append(_jsonable(record))
            return case, registered_at


def _jsonable(record: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in record.items()}


def case_status_handler(population: Population, docket: Docket):
    """``GetCaseStatus``: a referred case, a case of the batches as of ``as_of``, or ``Client.UnknownCase``."""

    def handle(request: etree._Element) -> etree._Element:
        case_no = request.findtext(f"{{{NS}}}CaseNo")
        with docket.lock:
            case = docket.cases.get(case_no)
        if case is None:
            found = batches.labour_case_by_number(population, case_no, population.as_of)
            case = None if found is None else registered_case(found, population.as_of)
        if case is None:
            raise business_fault(NS, "Client.UnknownCase", "MJ-LC-404", f"no labour case numbered {case_no}")
        return case.to_element()

    return handle


def referral_handler(docket: Docket):
    """``ReceiveComplaintReferral``: register the complaint as a case."""
    e = ElementMaker(namespace=NS, nsmap={"lc": NS})

    def handle(request: etree._Element) -> etree._Element:
        case, registered_at = docket.register(request)
        return e.ReceiveComplaintReferralResponse(
            e.ReferralRef(request.findtext(f"{{{NS}}}ReferralRef")), e.CaseNo(case.case_no),
            e.CourtCode(case.court_code), e.RegisteredAt(registered_at),
        )

    return handle


def services(population: Population, state: dict) -> list[SoapService]:
    docket = state.setdefault("docket", Docket(first_number=first_referral_number(population),
                                                year=population.as_of.year))
    folder = AGENCY_SCHEMAS / "courts"
    return [
        SoapService("labour-court", folder / "labour-court.wsdl", folder / "labour-court.xsd", NS, {
            "GetCaseStatus": case_status_handler(population, docket),
            "ReceiveComplaintReferral": referral_handler(docket),
        })
    ]


def create_app(config: dict | None = None) -> Flask:
    """The courts simulator app, plus ``GET /referrals`` (JSON list of received referrals)."""
    app = create_agency_app("courts", config, services)
    docket: Docket = app.extensions["rabt_simulator"]["state"]["docket"]

    @app.get("/referrals")
    def referrals():
        with docket.lock:
            return jsonify(referrals=list(docket.received))

    return app
