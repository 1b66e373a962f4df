"""What each canonical event does to the licensing database.

Every function here runs inside the transaction that
:meth:`state.LicensingState.apply_once` opened, takes the connection and the
fields :mod:`canonical_io` read, and returns a short outcome word for the
events table. Besides the message-id guard of ``apply_once``, each one also
guards on the business key (visa number, SIF file), because an agency that
sends the same fact twice gives it two hub message ids.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.errors import InputError
from hub.messagelog import prepared
from hub.messagelog.prepared import insert_sql
from simulators.licensing import rules
from simulators.licensing.state import LicensingState, to_json
from simulators.licensing.transfer_rules import TransferAnswer
from simulators.licensing.tables import (
    events, labour_cases, salary_batches, transfers, vacancies, visas, worker_events,
)
from simulators.licensing.window_writes import GuardedUpdate, Later, WindowWrites


# Every message's audit row, as SQL text run on the driver's cursor (hub.messagelog.prepared): through
# Core it cost more than SQLite spends running it.
_EVENT = insert_sql(events, ("message_id", "correlation_id", "message_type", "source_agency", "applied_at",
                             "outcome", "summary"))
# The statements every border event runs, as SQL text for the driver's cursor too: through Core, even
# built once, each cost more than the driver's own execute (compiled-cache look-up, parameter processing,
# a result object), about as much as the rest of a pushed arrival's window.
_WORKER_EVENT = insert_sql(worker_events, ("message_id", "kind", "civil_number", "passport_number", "employer_cr",
                                           "occurred_at", "detail"))
#: an arrival's visa moved from issued to arrived: for one message, or every arrival of a window at once
_VISA_ENTRY = GuardedUpdate(visas.name, "visa_number", "status = 'arrived'", "status = 'issued'")
#: an arrival's outcome: its visa moved, or no issued visa of that number
_VISA_USED, _VISA_UNKNOWN = "visa-used", "recorded-visa-unknown"
#: where an event row holds its outcome
_OUTCOME = 5


def record_event(conn: Connection, header, outcome: str, summary: dict | str, applied_at: str) -> None:
    """The audit row GET /api/events lists: one per applied message (``summary`` as a dict, or its JSON)."""
    summary_json = summary if isinstance(summary, str) else to_json(summary)
    prepared.execute(conn, _EVENT, (header.message_id, header.correlation_id, header.message_type,
                                    header.source_agency, applied_at, outcome, summary_json))


def gather_event(writes: WindowWrites, header, outcome: str | Later, summary: dict | str, applied_at: str) -> None:
    """:func:`record_event`'s row, written with its window's (:mod:`window_writes`)."""
    row = [header.message_id, header.correlation_id, header.message_type, header.source_agency, applied_at,
           outcome, summary if isinstance(summary, str) else to_json(summary)]
    if isinstance(outcome, Later):
        writes.insert_filled(_EVENT, row, _OUTCOME)
    else:
        writes.insert(_EVENT, row)


def gathers(event: dict) -> bool:
    """Whether :func:`gather_worker_event` can take ``event``: all but a final exit, which reads what it frees."""
    return event["kind"] != "WorkerDeparture" or event["departure_kind"] != "final"


def gather_worker_event(writes: WindowWrites, message_id: str, event: dict, detail: str) -> str | Later:
    """:func:`worker_event`'s writes, with its window's, for an event that :func:`gathers`; its outcome."""
    writes.insert(_WORKER_EVENT, _worker_event_row(message_id, event, detail))
    if event["kind"] == "WorkerArrival":
        return writes.update(_VISA_ENTRY, event["visa_number"], _VISA_USED, _VISA_UNKNOWN)
    return "recorded"


def worker_event(conn: Connection, message_id: str, event: dict, detail: str | None = None) -> str:
    """Store an arrival, departure or renewal (``detail``: the event's JSON, when it is at hand); move the visa
    along with it."""
    prepared.execute(conn, _WORKER_EVENT, _worker_event_row(message_id, event, detail))
    if event["kind"] == "WorkerArrival":
        return _visa_used_for_entry(conn, event["visa_number"])
    if event["kind"] == "WorkerDeparture" and event["departure_kind"] == "final":
        worker = event["worker"]
        return release_vacancy(conn, worker["civil_number"], worker["passport_number"], "released")
    return "recorded"


def _worker_event_row(message_id: str, event: dict, detail: str | None) -> tuple:
    worker = event["worker"]
    return (message_id, event["kind"], worker["civil_number"], worker["passport_number"], event["employer_cr"],
            event["occurred_at"], to_json(event) if detail is None else detail)


def _visa_used_for_entry(conn: Connection, visa_number: str) -> str:
    return _VISA_USED if _VISA_ENTRY.run(conn, [visa_number]) > 0 else _VISA_UNKNOWN


def release_vacancy(conn: Connection, civil_number: str | None, passport_number: str | None, status: str) -> str:
    """Give back the vacancy the worker fills now, marking what filled it with ``status``.

    That is the vacancy of the worker's latest completed transfer, else the
    one their visa took. A final exit frees it, so the employer may recruit
    again; so does a transfer to another employer (:func:`record_transfer`).
    """
    held = _held_by_transfer(conn, civil_number, passport_number)
    if held is not None:
        _give_back(conn, held.vacancy_id)
        conn.execute(transfers.update().where(transfers.c.seq == held.seq).values(status=status))
        return "vacancy-released"
    if not passport_number:
        return "recorded-no-passport"
    visa = conn.execute(visas.select().where(
        visas.c.worker_passport == passport_number, visas.c.status.in_(("issued", "arrived")),
        visas.c.vacancy_id.is_not(None)).order_by(visas.c.issued_at.desc()).limit(1)).mappings().first()
    if visa is None:
        return "recorded-no-visa"
    _give_back(conn, visa["vacancy_id"])
    conn.execute(visas.update().where(visas.c.visa_number == visa["visa_number"]).values(status=status))
    return "vacancy-released"


def _held_by_transfer(conn: Connection, civil_number: str | None, passport_number: str | None):
    keys = [column == value for column, value in ((transfers.c.worker_civil_number, civil_number),
                                                  (transfers.c.worker_passport, passport_number)) if value]
    if not keys:
        return None
    return conn.execute(sa.select(transfers.c.seq, transfers.c.vacancy_id).where(
        transfers.c.status == "completed", sa.or_(*keys)).order_by(transfers.c.seq.desc()).limit(1)).first()


def _give_back(conn: Connection, vacancy_id: int) -> None:
    conn.execute(vacancies.update().where(vacancies.c.id == vacancy_id, vacancies.c.used > 0)
                 .values(used=vacancies.c.used - 1))


def transfer_recorded(conn: Connection, civil_number: str, licence_number: str) -> bool:
    """Whether the worker's transfer to ``licence_number`` is already completed."""
    return conn.execute(sa.select(transfers.c.seq).where(
        transfers.c.worker_civil_number == civil_number, transfers.c.licence_number == licence_number,
        transfers.c.status == "completed")).first() is not None


def record_transfer(conn: Connection, seq: int, answer: TransferAnswer, passport_number: str | None,
                    decided_at: str) -> rules.Outcome:
    """Store the decision on transfer ``seq``; an approved one moves the worker's vacancy.

    The new licence's vacancy is taken only if it is still free (another
    transfer or a visa may have taken the last one since the rules looked):
    otherwise the transfer is refused for want of a vacancy. The vacancy the
    worker filled at the old employer is given back: the worker has left that
    employer's service as surely as by a final exit, and the old employer may
    recruit a replacement.
    """
    outcome, vacancy_id = answer.outcome, None
    if outcome.decision == rules.APPROVED:
        taken = conn.execute(vacancies.update().where(
            vacancies.c.id == answer.vacancy.id, vacancies.c.used < vacancies.c.granted)
            .values(used=vacancies.c.used + 1)).rowcount
        if taken:
            row = conn.execute(sa.select(transfers.c.worker_civil_number).where(transfers.c.seq == seq)).first()
            release_vacancy(conn, row.worker_civil_number, passport_number, "moved-on")
            vacancy_id = answer.vacancy.id
        else:
            outcome = rules.Outcome(rules.REFUSED, (rules.Reason(
                "no-vacancy", "the last vacancy was taken by another transfer or visa meanwhile"),))
    status = "completed" if vacancy_id is not None else outcome.decision
    conn.execute(transfers.update().where(transfers.c.seq == seq).values(
        status=status, vacancy_id=vacancy_id, decided_at=decided_at, worker_passport=passport_number,
        reasons=to_json([{"code": r.code, "text": r.text} for r in outcome.reasons])))
    return outcome


def visa_issued(conn: Connection, state: LicensingState, visa: dict) -> str:
    """Consume one vacancy of the licence; a visa issued without one is kept and flagged."""
    if conn.execute(sa.select(visas.c.visa_number).where(visas.c.visa_number == visa["visa_number"])).first():
        return "duplicate-visa"
    issued_on = rules.local_today(_moment(visa["issued_at"]))
    licence = state.licence_view(visa["licence_number"], conn)
    verdict = rules.check_visa(licence, visa["licence_type"], visa["profession_code"],
                               visa["worker"]["nationality"], issued_on)
    vacancy_id = None
    if verdict.eligible:
        taken = conn.execute(vacancies.update().where(
            vacancies.c.id == verdict.vacancy.id, vacancies.c.used < vacancies.c.granted)
            .values(used=vacancies.c.used + 1)).rowcount
        vacancy_id = verdict.vacancy.id if taken else None
    conn.execute(visas.insert().values(
        visa_number=visa["visa_number"], licence_number=visa["licence_number"], vacancy_id=vacancy_id,
        profession_code=visa["profession_code"], worker_passport=visa["worker"]["passport_number"],
        worker_nationality=visa["worker"]["nationality"], issued_at=visa["issued_at"],
        status="issued" if vacancy_id else "over-quota"))
    return "vacancy-consumed" if vacancy_id else f"over-quota-{verdict.reason.code}"


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        # the schema's pattern lets through what no calendar has (hour 24, 30 February)
        raise InputError(f"time {text!r} is not a moment licensing can place: {exc}") from exc


def salary_batch(conn: Connection, message_id: str, batch: dict) -> str:
    """Keep a batch's summary; flag truncated or inconsistent batches and late payers."""
    key = (salary_batches.c.employer_cr == batch["employer_cr"], salary_batches.c.pay_month == batch["pay_month"],
           salary_batches.c.file_reference == batch["file_reference"])
    if conn.execute(sa.select(salary_batches.c.id).where(*key)).first():
        return "duplicate-file"
    problems = batch_problems(batch)
    late_payer = batch["late_lines"] + batch["missing_lines"] > 0
    conn.execute(salary_batches.insert().values(
        message_id=message_id, employer_cr=batch["employer_cr"], pay_month=batch["pay_month"],
        file_reference=batch["file_reference"], record_count=batch["record_count"],
        line_count=batch["line_count"], late_lines=batch["late_lines"], missing_lines=batch["missing_lines"],
        late_payer=late_payer, problems=to_json(problems)))
    if problems:
        return "flagged-" + problems[0]
    return "late-payer" if late_payer else "recorded"


def batch_problems(batch: dict) -> list[str]:
    """Reason codes for a batch that does not add up."""
    problems = []
    if batch["line_count"] != batch["record_count"]:
        problems.append("record-count-mismatch")
    if Decimal(batch["lines_total"]) != Decimal(batch["declared_total"]):
        problems.append("total-mismatch")
    if batch["bad_arithmetic"]:
        problems.append("net-salary-arithmetic")
    return problems


def labour_case(conn: Connection, case: dict) -> str:
    """Upsert the case; only a final judgment closes it (and releases the employer)."""
    closed = case["event"] == "judgment" and case["final"]
    values = {"employer_cr": case["employer_cr"], "last_event": case["event"], "event_date": case["event_date"],
              "outcome": case["outcome"], "closed": closed}
    current = conn.execute(sa.select(labour_cases.c.event_date).where(
        labour_cases.c.case_number == case["case_number"])).first()
    if current is None:
        conn.execute(labour_cases.insert().values(case_number=case["case_number"], **values))
    elif current.event_date <= case["event_date"]:
        # Updates can arrive out of order (file batches); an older one must not reopen a closed case.
        conn.execute(labour_cases.update().where(labour_cases.c.case_number == case["case_number"]).values(**values))
    else:
        return "stale-update"
    return "case-closed" if closed else "case-open"
