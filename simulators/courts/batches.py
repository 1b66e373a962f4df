"""Labour-case update batches as the courts drop them (``labour-case-batch.xsd``).

Cases are drawn from the population, deterministically: case serial ``c`` is
filed on ``EPOCH + c // cases_per_day``, and its whole life (claimant,
employer, claims, hearings, judgment) comes from ``(seed, "case", c)``. So
the updates of any day are found by replaying the cases filed in the
:data:`LOOKBACK` days before it — no state, and the same day always gives the
same files. :func:`labour_case_by_number` lets the courts' SOAP simulator
answer a status enquiry about the same cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from pathlib import Path

from lxml import etree

from hub.errors import InputError
from simulators import names as N
from simulators.centralbank.sif import omr, write_atomically
from simulators.population import Draw, Employer, Population, Worker

NS = "urn:om:mjla:labourcourt:batch:2022"
EPOCH = date(2024, 1, 1)
"""First filing day of the simulated court system."""
LOOKBACK = 160
"""Longest life of a case in days (3 hearings of at most 51 days each, plus margin)."""

_CLAIMS = ("WAGE", "EOSG", "DISM", "PASS", "LEAV", "INJR", "OTHR")
_CLAIM_CUM = tuple(accumulate((450, 200, 120, 80, 80, 40, 30)))
_OUTCOMES = ("W", "P", "E", "S", "X")
_OUTCOME_CUM = tuple(accumulate((35, 25, 15, 15, 10)))
_COURT_BY_GOVERNORATE = {court[1]: court for court in N.COURTS}
JUDGMENT_TEXT = {
    "W": ("حكمت المحكمة بإلزام المدعى عليها بأن تؤدي للمدعي كامل مستحقاته العمالية.",
          "The court orders the employer to pay the worker all his labour dues."),
    "P": ("حكمت المحكمة بإلزام المدعى عليها بأن تؤدي للمدعي جزءا من مستحقاته ورفض ما عدا ذلك من طلبات.",
          "The court orders the employer to pay part of the worker's claims and rejects the rest."),
    "E": ("حكمت المحكمة برفض الدعوى.", "The court rejects the worker's claims."),
    "S": ("أثبتت المحكمة الصلح المبرم بين الطرفين.", "The court records the settlement reached by the parties."),
    "X": ("حكمت المحكمة بعدم قبول الدعوى لرفعها بعد الميعاد.", "The court dismisses the case as filed out of time."),
}
_CASE_NUMBER = re.compile(r"LC/(\d{4})/(\d{1,7})")


@dataclass(frozen=True)
class CaseEvent:
    """One update of a case: OPN (filed), HRG (session set), JDG / CLS (judgment)."""

    status: str
    day: date
    session: datetime | None = None  # court local time, for HRG
    hall: int | None = None
    outcome: str | None = None  # for JDG / CLS
    award_baisas: int | None = None


@dataclass(frozen=True)
class LabourCase:
    """A labour case's whole life, drawn from its serial number."""

    serial: int
    number: str
    complaint_number: str | None
    court: tuple[str, str, str, str]  # (code, governorate, english name, arabic name)
    worker: Worker
    employer: Employer
    claims: tuple[str, ...]
    claimed_baisas: int
    events: tuple[CaseEvent, ...]

    @property
    def filed_on(self) -> date:
        return self.events[0].day

    def status_on(self, day: date) -> CaseEvent | None:
        """The latest event on or before ``day`` (None before the case is filed)."""
        past = [event for event in self.events if event.day <= day]
        return past[-1] if past else None


def cases_per_day(population: Population) -> int:
    """New cases a day: 40 for 2 million workers, never fewer than 3."""
    return max(3, population.spec.workers // 50_000)


def labour_case(population: Population, serial: int, per_day: int | None = None) -> LabourCase:
    """Case number ``serial``, filed on ``EPOCH + serial // per_day``."""
    per_day = per_day or cases_per_day(population)
    d = Draw(population.spec.seed, "case", serial)
    filed = EPOCH + timedelta(days=serial // per_day)
    worker = population.worker(d.int(population.spec.workers))
    employer = population.employer_by_cr(worker.employer_cr)
    claims = tuple(sorted({_CLAIMS[d.weighted(_CLAIM_CUM)] for _ in range(1 + d.int(3))}, key=_CLAIMS.index))
    claimed = int(worker.monthly_wage.scaleb(3)) * (1 + d.int(6))
    referred = d.chance(800)
    return LabourCase(
        serial, f"LC/{filed.year}/{serial}", f"CMP-{filed.year}-{serial:06d}" if referred else None,
        _COURT_BY_GOVERNORATE[employer.governorate], worker, employer, claims, claimed,
        _life(d, filed, claimed),
    )


def _life(d: Draw, filed: date, claimed: int) -> tuple[CaseEvent, ...]:
    """Filing, one to three hearings, then the judgment on the last session day."""
    events, day = [CaseEvent("OPN", filed)], filed
    for _ in range(1 + d.int(3)):
        day += timedelta(days=5 + d.int(20))
        session = datetime.combine(day + timedelta(days=7 + d.int(21)), time(8, 30)) \
            + timedelta(minutes=30 * d.int(8))
        events.append(CaseEvent("HRG", day, session, 1 + d.int(6)))
        day = session.date()
    outcome = _OUTCOMES[d.weighted(_OUTCOME_CUM)]
    share = {"W": 100, "P": 30 + d.int(51), "S": 40 + d.int(51)}.get(outcome)
    final = outcome == "S" or d.chance(300)
    award = None if share is None else claimed * share // 100
    events.append(CaseEvent("CLS" if final else "JDG", day, outcome=outcome, award_baisas=award))
    return tuple(events)


def labour_case_by_number(population: Population, number: str, today: date) -> LabourCase | None:
    """The case ``LC/yyyy/n`` if it exists (filed by ``today``), else None."""
    match = _CASE_NUMBER.fullmatch(number) if isinstance(number, str) else None
    if not match or population.spec.workers == 0:
        return None
    case = labour_case(population, int(match[2]))
    return case if case.filed_on.year == int(match[1]) and case.filed_on <= today else None


def case_events_on(population: Population, day: date,
                   per_day: int | None = None) -> Iterator[tuple[LabourCase, CaseEvent]]:
    """Every (case, event) dated ``day``, in case-serial order."""
    per_day = per_day or cases_per_day(population)
    if population.spec.workers == 0:
        return
    offset = (day - EPOCH).days
    for serial in range(per_day * max(0, offset - LOOKBACK), per_day * max(0, offset + 1)):
        case = labour_case(population, serial, per_day)
        for event in case.events:
            if event.day == day:
                yield case, event


@dataclass
class BatchSummary:
    """What :func:`write_batches` wrote for one day."""

    day: date
    files: int = 0
    updates: int = 0
    by_status: dict[str, int] | None = None
    names: list[str] | None = None


def batch_file_name(court_code: str, day: date, sequence: int) -> str:
    return f"LCB_{court_code}_{day:%Y%m%d}_{sequence:03d}.xml"


def render_batch(updates: list[tuple[LabourCase, CaseEvent]], court: tuple[str, str, str, str],
                 day: date, sequence: int) -> bytes:
    """One batch file: a court's updates of ``day`` (at most 1000)."""
    code, _, name_en, name_ar = court
    root = etree.Element(f"{{{NS}}}CaseUpdateBatch", nsmap={"lcb": NS}, attrib={
        "BatchNo": f"{code.split('-')[0].upper()}-{day:%Y%m%d}-{sequence:03d}",
        "CourtCode": code, "BatchDate": day.isoformat(),
        "GeneratedAt": f"{day.isoformat()}T23:30:00+04:00", "RecordCount": str(len(updates)),
    })
    _text(root, "CourtNameAr", name_ar)
    _text(root, "CourtNameEn", name_en)
    for seq, (case, event) in enumerate(updates, 1):
        _case_update(etree.SubElement(root, f"{{{NS}}}CaseUpdate", Seq=str(seq)), case, event)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _text(parent, tag: str, value: str):
    element = etree.SubElement(parent, f"{{{NS}}}{tag}")
    element.text = value
    return element


def _case_update(element, case: LabourCase, event: CaseEvent) -> None:
    _text(element, "CaseNo", case.number)
    if case.complaint_number:
        _text(element, "ComplaintNo", case.complaint_number)
    _text(element, "StatusCode", event.status)
    _text(element, "StatusDate", event.day.isoformat())
    _text(element, "FiledOn", case.filed_on.isoformat())
    worker, employer = case.worker, case.employer
    plaintiff = etree.SubElement(element, f"{{{NS}}}Plaintiff")
    for tag, value in (("CivilNo", worker.civil_number), ("PassportNo", worker.passport_number),
                       ("NameAr", worker.name.ar), ("NameEn", worker.name.en),
                       ("Nationality", worker.nationality)):
        _text(plaintiff, tag, value)
    defendant = etree.SubElement(element, f"{{{NS}}}Defendant")
    for tag, value in (("CRNo", employer.cr_number), ("NameAr", employer.name.ar), ("NameEn", employer.name.en)):
        _text(defendant, tag, value)
    claims = etree.SubElement(element, f"{{{NS}}}Claims")
    for claim in case.claims:
        _text(claims, "ClaimType", claim)
    _text(claims, "ClaimedAmount", omr(case.claimed_baisas))
    if event.status == "HRG":
        hearing = etree.SubElement(element, f"{{{NS}}}Hearing")
        _text(hearing, "SessionDate", event.session.date().isoformat())
        _text(hearing, "SessionTime", f"{event.session:%H:%M}")
        _text(hearing, "Hall", str(event.hall))
    elif event.status in ("JDG", "CLS"):
        judgment = etree.SubElement(element, f"{{{NS}}}Judgment")
        text_ar, text_en = JUDGMENT_TEXT[event.outcome]
        _text(judgment, "OutcomeCode", event.outcome)
        _text(judgment, "TextAr", text_ar)
        _text(judgment, "TextEn", text_en)
        if event.award_baisas is not None:
            _text(judgment, "AwardAmount", omr(event.award_baisas))
        _text(judgment, "IsFinal", "true" if event.status == "CLS" else "false")


def write_batches(population: Population, day: date, inbox: Path, *, per_file: int = 20,
                  per_day: int | None = None) -> BatchSummary:
    """Write the day's updates into ``inbox``: per court, ``per_file`` updates a file, atomically."""
    if not isinstance(per_file, int) or not 1 <= per_file <= 1000:
        raise InputError(f"per_file must be from 1 to 1000, got {per_file!r}")
    by_court: dict[str, list[tuple[LabourCase, CaseEvent]]] = {}
    for case, event in case_events_on(population, day, per_day):
        by_court.setdefault(case.court[0], []).append((case, event))
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(day, by_status={"OPN": 0, "HRG": 0, "JDG": 0, "CLS": 0}, names=[])
    for court in N.COURTS:
        updates = by_court.get(court[0], [])
        for sequence, start in enumerate(range(0, len(updates), per_file), 1):
            chunk = updates[start:start + per_file]
            name = batch_file_name(court[0], day, sequence)
            write_atomically(inbox, name, render_batch(chunk, court, day, sequence))
            summary.files += 1
            summary.updates += len(chunk)
            summary.names.append(name)
            for _, event in chunk:
                summary.by_status[event.status] += 1
    return summary
