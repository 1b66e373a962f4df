"""Worker data corrections, licensing's side: an employer corrects a worker's personal data.

:meth:`Corrections.correct` takes what the worker's employer (or private
sponsor) files — a new Arabic or English name, civil number, passport number
or nationality — and

1. finds the worker as licensing holds them now: the latest correction, else
   the latest border event the police sent (arrival, renewal, departure);
   only the sponsor named there may correct them;
2. records the correction (number ``COR-<year>-<seq>``) with each field's
   value before and after, before anything is sent, so it is never lost;
3. tells every agency subscribed to ``WorkerDataCorrected`` in the hub's
   routes (``[subscriptions]`` in routes.toml, not a list kept here): one
   message per subscriber, each with its own hub message id and all with the
   correction's correlation id, so the hub's trail of that id shows who was
   told. The subscriber's adapter delivers it in that agency's own contract.
   If the hub cannot take a copy now, the correction stays recorded and
   :meth:`Corrections.notify` sends the copies still missing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request, url_for
from lxml import etree

from hub.errors import InputError, RabtError
from hub.messagelog.db import write_transaction
from simulators.licensing import canonical_io as io
from simulators.licensing.state import LicensingState, to_json, utc_text
from simulators.licensing.tables import worker_corrections, worker_events

MESSAGE_TYPE = "WorkerDataCorrected"
#: publish(body, destination, correlation_id) -> hub message id
Publish = Callable[[etree._Element, str, str], str]
_NAME = re.compile(r"\S.{0,199}", re.DOTALL)
#: request field → (canonical field name, pattern)
FIELDS = {
    "name_ar": ("name-ar", _NAME),
    "name_en": ("name-en", _NAME),
    "civil_number": ("civil-number", re.compile(r"[0-9]{8,9}")),
    "passport_number": ("passport-number", re.compile(r"[A-Z0-9]{6,12}")),
    "nationality": ("nationality", re.compile(r"[A-Z]{3}")),
}
_SPONSORS = {"employer_cr": ("CRNumber", re.compile(r"[0-9]{7,10}")),
             "sponsor_civil_number": ("CivilNumber", re.compile(r"[0-9]{8,9}"))}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class WorkerNotFound(LookupError):
    """Licensing holds no worker with that civil number (or it was corrected to another one)."""


class NotTheSponsor(PermissionError):
    """Who asked is not the worker's sponsor: only the sponsor may correct a worker's data."""


@dataclass(frozen=True)
class CorrectionRequest:
    """What a sponsor files: this worker (by the civil number licensing holds), these new values."""

    civil_number: str
    requested_by: str
    """``CRNumber:<cr>`` or ``CivilNumber:<civil number>``, as in the transfers table."""
    changes: tuple[tuple[str, str], ...]
    """(request field, new value) pairs, in :data:`FIELDS` order."""


def correction_fields(civil_number: str, data) -> CorrectionRequest:
    """The request from the URL's civil number and submitted JSON; InputError naming the bad field."""
    if not FIELDS["civil_number"][1].fullmatch(civil_number):
        raise InputError(f"civil number {civil_number!r} is malformed")
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    sponsors = [(kind, data[key], pattern) for key, (kind, pattern) in _SPONSORS.items() if data.get(key) is not None]
    if len(sponsors) != 1 or not sponsors[0][2].fullmatch(str(sponsors[0][1])):
        raise InputError("name the sponsor: employer_cr (7-10 digits) or sponsor_civil_number (8-9 digits)")
    changes = []
    for name, (_, pattern) in FIELDS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            raise InputError(f"{name} {value!r} is malformed (expected {pattern.pattern})")
        changes.append((name, value.strip()))
    if not changes:
        raise InputError(f"nothing to correct: give one of {', '.join(FIELDS)}")
    return CorrectionRequest(civil_number, f"{sponsors[0][0]}:{sponsors[0][1]}", tuple(changes))


def _value(worker: dict, name: str) -> str | None:
    if name.startswith("name_"):
        return worker["names"].get(name[-2:])
    return worker.get(name)


def corrected(worker: dict, changes) -> tuple[dict, list[dict]]:
    """The worker with ``changes`` applied, and each real change as {field, before, after}."""
    after = json.loads(json.dumps(worker))
    applied = []
    for name, value in changes:
        before = _value(worker, name)
        if before == value:
            continue
        if name.startswith("name_"):
            after["names"][name[-2:]] = value
        else:
            after[name] = value
        applied.append({"field": FIELDS[name][0], "before": before, "after": value})
    return after, applied


def correction_body(row: dict) -> etree._Element:
    """The canonical WorkerDataCorrected of a recorded correction."""
    worker, previous = row["worker"], row["previous"]
    names = [io.element("Name", text=text, **{_XML_LANG: lang}) for lang, text in sorted(worker["names"].items())
             if text]
    kind, number = row["requested_by"].split(":", 1)
    return io.element(
        MESSAGE_TYPE, io.leaf("CorrectionId", row["correction_id"]),
        io.element("Worker", io.leaf("CivilNumber", worker["civil_number"]),
                   io.leaf("PassportNumber", worker.get("passport_number")), *names,
                   io.leaf("Nationality", worker["nationality"])),
        io.element("Previous", io.leaf("CivilNumber", previous["civil_number"]),
                   io.leaf("PassportNumber", previous.get("passport_number"))),
        *[io.element("Correction", io.leaf("Field", c["field"]), io.leaf("Before", c["before"]),
                     io.leaf("After", c["after"])) for c in row["changes"]],
        io.element("RequestedBy", io.leaf(kind, number)), io.leaf("CorrectedAt", row["requested_at"]))


@dataclass
class Corrections:
    """Corrections of workers' data: checked, recorded, and told to every subscribed agency."""

    state: LicensingState
    publish: Publish
    subscribers: tuple[str, ...]
    """The destinations subscribed to WorkerDataCorrected in the hub's routes."""
    now: Callable

    def correct(self, filed: CorrectionRequest) -> dict:
        """Record a correction and tell the subscribers; the correction as :meth:`correction` shows it."""
        with write_transaction(self.state.engine) as conn:
            worker, sponsor = self._current(conn, filed.civil_number)
            if sponsor != filed.requested_by:
                raise NotTheSponsor(f"{filed.requested_by} does not sponsor worker {filed.civil_number}")
            after, changes = corrected(worker, filed.changes)
            if not changes:
                raise InputError("nothing to correct: every value given is the one licensing holds")
            correction_id = self._record(conn, filed, worker, after, changes)
        return self.notify(correction_id, missing_ok=True)

    def _current(self, conn, civil_number: str) -> tuple[dict, str]:
        latest = conn.execute(sa.select(worker_corrections).where(sa.or_(
            worker_corrections.c.corrected_civil_number == civil_number,
            worker_corrections.c.civil_number == civil_number)).order_by(worker_corrections.c.seq.desc())).first()
        if latest is not None:
            if latest.corrected_civil_number != civil_number:
                raise WorkerNotFound(f"worker {civil_number} was corrected to {latest.corrected_civil_number}")
            return json.loads(latest.worker), latest.requested_by
        event = conn.execute(sa.select(worker_events).where(worker_events.c.civil_number == civil_number)
                             .order_by(worker_events.c.id.desc())).first()
        if event is None:
            raise WorkerNotFound(f"licensing holds no worker {civil_number}")
        detail = json.loads(event.detail)
        sponsor = (f"CRNumber:{event.employer_cr}" if event.employer_cr
                   else f"CivilNumber:{detail.get('sponsor_civil_number')}")
        return detail["worker"], sponsor

    def _record(self, conn, filed: CorrectionRequest, before: dict, after: dict, changes: list[dict]) -> str:
        requested_at = utc_text(self.now())
        previous = {"civil_number": before["civil_number"], "passport_number": before.get("passport_number")}
        seq = conn.execute(worker_corrections.insert().values(
            civil_number=filed.civil_number, corrected_civil_number=after["civil_number"],
            requested_by=filed.requested_by, changes=to_json({"changes": changes, "previous": previous}),
            worker=to_json(after), requested_at=requested_at, correlation_id=str(uuid.uuid4()),
            notices="{}")).inserted_primary_key[0]
        correction_id = f"COR-{requested_at[:4]}-{seq:06d}"
        conn.execute(worker_corrections.update().where(worker_corrections.c.seq == seq)
                     .values(correction_id=correction_id))
        return correction_id

    def notify(self, correction_id: str, *, missing_ok: bool = False) -> dict:
        """Send the copies not sent yet (all, the first time); the correction with its notices.

        With ``missing_ok`` a hub that cannot take a copy now is reported in
        ``notice_error`` rather than raised: the correction is recorded either way.
        """
        row = self.correction(correction_id)
        if row is None:
            raise WorkerNotFound(f"no correction {correction_id}")
        body = correction_body(row)
        for subscriber in self.subscribers:
            if subscriber in row["notices"]:
                continue
            try:
                row["notices"][subscriber] = self.publish(body, subscriber, row["correlation_id"])
            except (RabtError, ConnectionError, TimeoutError) as exc:
                if not missing_ok:
                    raise
                row["notice_error"] = exc.reason if isinstance(exc, RabtError) else str(exc) or type(exc).__name__
                break
            self._save_notices(correction_id, row["notices"])
        return row

    def _save_notices(self, correction_id: str, notices: dict) -> None:
        with write_transaction(self.state.engine) as conn:
            conn.execute(worker_corrections.update().where(worker_corrections.c.correction_id == correction_id)
                         .values(notices=to_json(notices)))

    def correction(self, correction_id: str) -> dict | None:
        """A correction: the worker before and after, each change, and the hub message sent to each subscriber."""
        with self.state.engine.connect() as conn:
            row = conn.execute(sa.select(worker_corrections)
                               .where(worker_corrections.c.correction_id == correction_id)).mappings().first()
        if row is None:
            return None
        recorded = json.loads(row["changes"])
        return {"correction_id": row["correction_id"], "civil_number": row["civil_number"],
                "requested_by": row["requested_by"], "requested_at": row["requested_at"],
                "worker": json.loads(row["worker"]), "previous": recorded["previous"],
                "changes": recorded["changes"], "correlation_id": row["correlation_id"],
                "notices": json.loads(row["notices"] or "{}")}


correction_api = Blueprint("corrections", __name__)


def _corrections() -> Corrections:
    return current_app.extensions["licensing_corrections"]


@correction_api.errorhandler(WorkerNotFound)
def _not_found(exc: WorkerNotFound):
    return jsonify(error="not-found", reason=str(exc)), 404


@correction_api.errorhandler(NotTheSponsor)
def _not_the_sponsor(exc: NotTheSponsor):
    return jsonify(error="not-the-sponsor", reason=str(exc)), 403


@correction_api.post("/api/workers/<civil_number>/corrections")
def post_correction(civil_number: str):
    """Correct a worker's data: recorded at once and told to every subscribed agency (201)."""
    correction = _corrections().correct(correction_fields(civil_number, request.get_json(silent=True)))
    location = url_for("corrections.get_correction", correction_id=correction["correction_id"])
    return jsonify(correction), 201, {"Location": location}


@correction_api.get("/api/corrections/<correction_id>")
def get_correction(correction_id: str):
    correction = _corrections().correction(correction_id)
    if correction is None:
        raise WorkerNotFound(f"no correction {correction_id}")
    return jsonify(correction)


@correction_api.post("/api/corrections/<correction_id>/notify")
def notify_correction(correction_id: str):
    """Send the subscribers still untold (after the hub was unreachable) their copy (202)."""
    return jsonify(_corrections().notify(correction_id)), 202
