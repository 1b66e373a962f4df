"""Labour court simulator: case status lookups and complaint referrals.

``/soap/labour-court`` implements ``courts/labour-court.wsdl``:

* ``GetCaseStatus`` - cases ``LC/<year>/<n>`` for n = 1..:func:`case_count`
  are derived from the population (a worker suing their employer), the same
  on every run; cases opened by referrals are kept in memory. Anything else:
  fault ``Client.UnknownCase`` (MJ-LC-404).
* ``ReceiveComplaintReferral`` - registers a referred complaint as a new case
  (state OPN) and answers its case number; the same ``ReferralRef`` sent again
  gets the same case, not a second one.

``GET /referrals`` lists what was received (JSON), for tests and demos.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from flask import Flask, jsonify
from lxml import etree
from lxml.builder import ElementMaker

from simulators.population import Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault, create_agency_app

NS = "urn:om:mjla:labourcourt:2022"
COURTS = {
    "OM-MA": "muscat-primary", "OM-BS": "sohar-primary", "OM-BJ": "rustaq-primary", "OM-DA": "nizwa-primary",
    "OM-SS": "ibra-primary", "OM-SJ": "sur-primary", "OM-ZA": "ibri-primary", "OM-BU": "buraimi-primary",
    "OM-ZU": "salalah-primary", "OM-MU": "khasab-primary", "OM-WU": "haima-primary",
}
CLAIM_TYPES = ("WAGE", "EOSG", "DISM", "PASS", "LEAV", "INJR")
JUDGMENTS = {
    "W": ("حكمت المحكمة بإلزام صاحب العمل بأداء مستحقات العامل.", "The employer shall pay the worker's dues."),
    "E": ("رفضت المحكمة الدعوى لعدم الثبوت.", "The claim is rejected as unproven."),
    "P": ("حكمت المحكمة بإلزام صاحب العمل بأداء جزء من المستحقات.", "The employer shall pay part of the dues claimed."),
    "S": ("أثبتت المحكمة الصلح بين الطرفين.", "The parties settled; the court records the settlement."),
    "X": ("قضت المحكمة بعدم قبول الدعوى.", "The claim is dismissed as inadmissible."),
}
CASE_NO = re.compile(r"LC/(\d{4})/(\d{1,7})")


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
            text_ar, text_en = JUDGMENTS[self.outcome]
            award = [e.AwardAmount(f"{self.award:.3f}")] if self.award is not None else []
            parts.append(e.Judgment(e.OutcomeCode(self.outcome), e.TextAr(text_ar), e.TextEn(text_en), *award,
                                    e.IsFinal("true" if self.status == "CLS" else "false")))
        return e.GetCaseStatusResponse(*parts)


def case_count(population: Population) -> int:
    """How many population-derived cases exist: one per 40 workers (none without workers)."""
    return 0 if not population.spec.workers else max(20, population.spec.workers // 40)


def case_year(population: Population, n: int) -> int:
    return population.as_of.year - n % 3


def derived_case(population: Population, n: int) -> LabourCase:
    """Case ``n`` of the population, computed from (seed, n) alone."""
    draw = random.Random(f"{population.spec.seed}:labour-case:{n}")
    worker = population.worker(draw.randrange(population.spec.workers))
    employer = population.employer_by_cr(worker.employer_cr)
    year = case_year(population, n)
    filed = min(population.as_of - timedelta(days=1), date(year, 1, 1) + timedelta(days=draw.randrange(365)))
    status = draw.choices(("OPN", "HRG", "JDG", "CLS"), weights=(20, 35, 25, 20))[0]
    status_date = min(population.as_of, filed + timedelta(days=draw.randrange(1, 200)))
    case = LabourCase(
        case_no=f"LC/{year}/{n}", court_code=COURTS.get(employer.governorate, "muscat-primary"),
        plaintiff_civil_no=worker.civil_number, plaintiff_name=worker.name.en,
        defendant_cr_no=employer.cr_number, defendant_name=employer.name.en,
        claim_types=sorted(draw.sample(CLAIM_TYPES, draw.randint(1, 2))),
        filed_on=filed, status=status, status_date=status_date,
        complaint_no=f"CMP-{year}-{draw.randrange(1, 10**6):06d}",
    )
    if status == "HRG":
        day = population.as_of + timedelta(days=draw.randint(7, 60))
        case.next_hearing = datetime(day.year, day.month, day.day, 9, 30, tzinfo=timezone(timedelta(hours=4)))
    if status in ("JDG", "CLS"):
        case.outcome = draw.choice(tuple(JUDGMENTS))
        if case.outcome in ("W", "P", "S"):
            case.award = (worker.monthly_wage * draw.randint(1, 8)).quantize(Decimal("0.001"))
    return case


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
    """``GetCaseStatus``: a derived case, a referred case, or ``Client.UnknownCase``."""

    def handle(request: etree._Element) -> etree._Element:
        case_no = request.findtext(f"{{{NS}}}CaseNo")
        with docket.lock:
            case = docket.cases.get(case_no)
        match = CASE_NO.fullmatch(case_no or "")
        if case is None and match:
            year, n = int(match.group(1)), int(match.group(2))
            if 1 <= n <= case_count(population) and year == case_year(population, n):
                case = derived_case(population, n)
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
    docket = state.setdefault("docket", Docket(first_number=case_count(population) + 1, year=population.as_of.year))
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
