"""The licensing system's own database (SQLAlchemy Core; SQLite by default).

Tables (see :mod:`tables`): applications and the vacancies they ask for, decisions, licences and
their vacancies per profession, visas issued, worker events, salary batches,
labour cases, and ``events`` — one row per canonical message applied.

Every canonical message is applied through :meth:`LicensingState.apply_once`
(:class:`batches.WindowApplier`): the change and the "seen" mark commit
together, so a redelivered message changes nothing, and messages applied at
the same moment by several consumer threads share one commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import InputError, MessageLogUnavailableError
from hub.idempotency import IdempotentConsumer
from hub.messagelog.db import make_engine, write_transaction
from simulators.licensing import rules
from simulators.licensing.batches import WindowApplier
from simulators.licensing.held_reader import HeldReader
from simulators.licensing.migrations import open_licensing_database
from simulators.licensing.tables import (
    applications, decisions, events, labour_cases, licences, requested_vacancies, vacancies,
)

# Built once: every visa check reads a licence, and building and compiling new statements for each
# one was CPU on the path of the police officer's answer.
_LICENCE = licences.select().where(licences.c.number == sa.bindparam("number"))
_VACANCIES = vacancies.select().where(vacancies.c.licence_number == sa.bindparam("number")).order_by(vacancies.c.id)
# A visa answer reads only the vacancies of the asked profession (the rules look at no other): the
# licence and those vacancies in one statement over the licence number's indexes, run on the driver's
# cursor (hub.messagelog.prepared) — through SQLAlchemy's statement machinery it cost twenty times the
# query itself, on the path of every police officer's answer.
_LICENCE_FOR_PROFESSION = (
    "SELECT l.licence_type, l.status, l.valid_until, v.id, v.profession_code, v.granted, v.used, v.nationality"
    f" FROM {licences.name} l LEFT JOIN {vacancies.name} v"
    " ON v.licence_number = l.number AND v.profession_code = ?"
    " WHERE l.number = ? ORDER BY v.id")


@dataclass(frozen=True)
class ApplicationRequest:
    """What an applicant submits; vacancies are ``(profession, nationality|None, count)``."""

    licence_type: str
    vacancies: tuple[tuple[str, str | None, int], ...]
    applicant_civil_number: str | None = None
    employer_cr: str | None = None
    applicant_name: str | None = None


#: json.dumps with any option but the defaults builds a new encoder on every call; every applied message's
#: event row is encoded with these options
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def to_json(value) -> str:
    """``value`` as JSON text, non-ASCII kept as it is, anything JSON lacks (dates, decimals) as its str()."""
    return _ENCODER.encode(value)


def utc_text(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LicensingState:
    """The licensing database: applications, licences, decisions and applied events."""

    def __init__(self, engine_or_url: Engine | str, *, consumer_name: str = "licensing") -> None:
        self.engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        open_licensing_database(self.engine)
        self._once = IdempotentConsumer(self.engine, consumer_name)  # marks' table: revision 0004
        self.windows = WindowApplier(self.engine, consumer_name)
        self._visa_reads = HeldReader(self.engine)  # every visa check's read: no pool checkout each (held_reader)

    def apply_once(self, message_id: str, fn) -> bool:
        """Run ``fn(connection)`` once per message id (in a commit shared with concurrent callers).

        False when already applied; raises what ``fn`` raised, having applied nothing of it.
        """
        return self.windows.apply_once(message_id, fn)

    def is_applied(self, message_id: str) -> bool:
        """Whether the message ``message_id`` was applied."""
        return self._once.is_applied(message_id)

    # ------------------------------------------------------- applications

    def create_application(self, request: ApplicationRequest, now: datetime) -> str:
        """Store a pending application; returns its number (``APP-<year>-<seq>``)."""
        _check_request(request)
        with write_transaction(self.engine) as conn:
            seq = conn.execute(applications.insert().values(
                licence_type=request.licence_type, applicant_civil_number=request.applicant_civil_number,
                employer_cr=request.employer_cr, applicant_name=request.applicant_name, status="pending",
                submitted_at=utc_text(now))).inserted_primary_key[0]
            number = f"APP-{now.year}-{seq:06d}"
            conn.execute(applications.update().where(applications.c.seq == seq).values(number=number))
            conn.execute(requested_vacancies.insert(), [
                {"application_number": number, "profession_code": p, "nationality": n, "count": c}
                for p, n, c in request.vacancies])
        return number

    def application(self, number: str) -> dict | None:
        """The application with its requested vacancies and latest decision."""
        with self.engine.connect() as conn:
            row = conn.execute(applications.select().where(applications.c.number == number)).mappings().first()
            if row is None:
                return None
            wanted = conn.execute(requested_vacancies.select().where(
                requested_vacancies.c.application_number == number)).mappings().all()
            latest = conn.execute(decisions.select().where(decisions.c.application_number == number)
                                  .order_by(decisions.c.id.desc()).limit(1)).mappings().first()
        result = {k: row[k] for k in ("number", "licence_type", "applicant_civil_number", "employer_cr",
                                      "applicant_name", "status", "submitted_at")}
        result["vacancies"] = [{"profession_code": v["profession_code"], "nationality": v["nationality"],
                                "count": v["count"]} for v in wanted]
        result["decision"] = None if latest is None else _decision_dict(latest)
        return result

    def record_decision(self, number: str, outcome: rules.Outcome, now: datetime,
                        policy: rules.Policy = rules.Policy(), decided_by: str = "automatic") -> dict:
        """Store a decision; an approval also issues the licence with its vacancies."""
        application = self.application(number)
        if application is None:
            raise InputError(f"no application {number!r}")
        if application["status"] == rules.APPROVED:
            raise InputError(f"application {number} is already approved; its licence stands")
        licence_number = None
        with write_transaction(self.engine) as conn:
            if outcome.decision == rules.APPROVED:
                licence_number = _issue_licence(conn, application, rules.local_today(now), policy)
            conn.execute(decisions.insert().values(
                application_number=number, decision=outcome.decision, decided_at=utc_text(now),
                decided_by=decided_by, licence_number=licence_number,
                reasons=to_json([{"code": r.code, "text": r.text} for r in outcome.reasons])))
            conn.execute(applications.update().where(applications.c.number == number)
                         .values(status=outcome.decision))
        return self.decision_for(number)

    def decision_for(self, number: str) -> dict:
        """The latest decision on ``number`` in LicenceDecision shape (see canonical_io)."""
        application = self.application(number)
        if application is None or application["decision"] is None:
            raise InputError(f"application {number!r} has no decision yet")
        decision = dict(application["decision"])
        licence = self.licence(decision["licence_number"]) if decision["licence_number"] else None
        decision |= {"application_id": number, "licence_type": application["licence_type"],
                     "applicant_civil_number": application["applicant_civil_number"],
                     "employer_cr": application["employer_cr"],
                     "valid_until": licence and licence["valid_until"],
                     "vacancies": licence["vacancies"] if licence else []}
        return decision

    def decisions(self, limit: int = 100) -> list[dict]:
        """Latest decisions first."""
        query = (sa.select(decisions, applications.c.licence_type, applications.c.applicant_name,
                           applications.c.applicant_civil_number, applications.c.employer_cr)
                 .join(applications, applications.c.number == decisions.c.application_number)
                 .order_by(decisions.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_decision_dict(r) | {k: r[k] for k in ("licence_type", "applicant_name",
                                                          "applicant_civil_number", "employer_cr")} for r in rows]

    # ------------------------------------------------------------ licences

    def licence(self, number: str, conn: Connection | None = None) -> dict | None:
        """A licence with its vacancies (granted, used, free)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.licence(number, own)
        row = conn.execute(_LICENCE, {"number": number}).mappings().first()
        if row is None:
            return None
        rows = conn.execute(_VACANCIES, {"number": number}).mappings().all()
        return dict(row) | {"vacancies": [
            {"id": v["id"], "profession_code": v["profession_code"], "nationality": v["nationality"],
             "granted": v["granted"], "used": v["used"], "free": max(v["granted"] - v["used"], 0)} for v in rows]}

    def licence_view(self, number: str, conn: Connection | None = None) -> rules.LicenceView | None:
        """The licence as :func:`rules.check_visa` reads it."""
        licence = self.licence(number, conn)
        if licence is None:
            return None
        return rules.LicenceView(
            number=number, licence_type=licence["licence_type"], status=licence["status"],
            valid_until=date.fromisoformat(licence["valid_until"]),
            vacancies=tuple(rules.Vacancy(v["profession_code"], v["granted"], v["used"], v["nationality"], v["id"])
                            for v in licence["vacancies"]))

    def visa_view(self, number: str, profession_code: str) -> rules.LicenceView | None:
        """The licence as :func:`rules.check_visa` reads it for ``profession_code``: its vacancies of that
        profession only, the same answer as :meth:`licence_view` gives, for one indexed query instead of two."""
        try:
            rows = self._visa_reads.fetch(_LICENCE_FOR_PROFESSION, (profession_code, number))
        except sa.exc.SQLAlchemyError as exc:
            # the database, not the question, failed: asked again (redelivered), it may be answered
            raise MessageLogUnavailableError(f"licensing could not read licence {number}: {exc}") from exc
        if not rows:
            return None
        licence_type, status, valid_until = rows[0][:3]
        return rules.LicenceView(
            number=number, licence_type=licence_type, status=status, valid_until=date.fromisoformat(valid_until),
            vacancies=tuple(rules.Vacancy(profession, granted, used, nationality, vacancy_id)
                            for *_, vacancy_id, profession, granted, used, nationality in rows
                            if vacancy_id is not None))

    def open_cases(self, employer_cr: str) -> int:
        """Labour cases against ``employer_cr`` without a final judgment."""
        query = sa.select(sa.func.count()).select_from(labour_cases).where(
            labour_cases.c.employer_cr == employer_cr, labour_cases.c.closed.is_(False))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def events(self, limit: int = 100, message_type: str | None = None) -> list[dict]:
        """Applied canonical messages, latest first."""
        query = events.select().order_by(events.c.id.desc()).limit(limit)
        if message_type:
            query = query.where(events.c.message_type == message_type)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [dict(r) | {"summary": json.loads(r["summary"])} for r in rows]

    def rows(self, table: sa.Table) -> list[dict]:
        """Every row of one of this module's tables (operator views and tests)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(table.select()).mappings().all()]


def _check_request(request: ApplicationRequest) -> None:
    if request.licence_type == rules.PRIVATE and not request.applicant_civil_number:
        raise InputError("a private licence application needs the applicant's civil number")
    if request.licence_type == rules.COMMERCIAL and not request.employer_cr:
        raise InputError("a commercial licence application needs the employer's CR number")
    if request.licence_type not in (rules.PRIVATE, rules.COMMERCIAL):
        raise InputError(f"licence type must be private or commercial, not {request.licence_type!r}")
    if not request.vacancies or any(count < 1 for _, _, count in request.vacancies):
        raise InputError("an application asks for at least one vacancy, each with a count of 1 or more")


def _decision_dict(row) -> dict:
    return {"application_number": row["application_number"], "decision": row["decision"],
            "reasons": json.loads(row["reasons"]), "decided_at": row["decided_at"],
            "decided_by": row["decided_by"], "licence_number": row["licence_number"]}


def _issue_licence(conn: Connection, application: dict, today: date, policy: rules.Policy) -> str:
    prefix = "PL" if application["licence_type"] == rules.PRIVATE else "CL"
    number = f"{prefix}-{application['number'].split('-', 1)[1]}"
    conn.execute(licences.insert().values(
        number=number, application_number=application["number"], licence_type=application["licence_type"],
        holder_civil_number=application["applicant_civil_number"], employer_cr=application["employer_cr"],
        status=rules.APPROVED, issued_on=today.isoformat(),
        valid_until=rules.licence_valid_until(today, policy).isoformat()))
    conn.execute(vacancies.insert(), [
        {"licence_number": number, "profession_code": v["profession_code"], "nationality": v["nationality"],
         "granted": v["count"], "used": 0} for v in application["vacancies"]])
    return number
