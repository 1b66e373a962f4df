"""Transfer of services, licensing's side: a worker moves to another employer's licence.

:meth:`Transfers.request` takes the request an employer files and

1. stores it (``pending``, number ``TRF-<year>-<seq>``) before anything else,
   so a request is never lost to a failing step;
2. asks the police through the hub (``TransferEligibilityQuery`` →
   ``TransferEligibilityRecord``, :meth:`decider.Decider.answer`): a police
   outage refers the request to an officer rather than failing it;
3. decides (:mod:`transfer_rules`) and records in one transaction
   (:func:`effects.record_transfer`): an approved transfer fills a vacancy of
   the new licence and gives back the one the worker filled before;
4. tells the police (``TransferCompleted``, published through the hub; the
   police adapter delivers it and the transport's retries carry it through a
   police outage). If the hub cannot take it now, the transfer stays recorded
   with no notice, and :meth:`Transfers.notify_police` sends it again.

The canonical bodies of the three messages are built and read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request, url_for
from lxml import etree

from hub.errors import InputError, RabtError
from hub.messagelog.db import write_transaction
from simulators.licensing import canonical_io as io
from simulators.licensing import effects, rules, transfer_rules
from simulators.licensing.decider import Decider
from simulators.licensing.state import LicensingState, to_json, utc_text
from simulators.licensing.tables import transfers
from simulators.licensing.transfer_rules import Residence, Sponsor

QUERY, RECORD, NOTICE = "TransferEligibilityQuery", "TransferEligibilityRecord", "TransferCompleted"
#: notify(body, destination) -> hub message id
Notify = Callable[[etree._Element, str], str]
_FIELDS = {
    "worker_civil_number": re.compile(r"[0-9]{8,9}"),
    "licence_number": re.compile(r"(PL|CL)-[0-9A-Z-]{1,37}"),
    "profession_code": re.compile(r"[0-9]{4,8}"),
}
_R = f"{{{io.NAMESPACE}}}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class TransferRequest:
    """What an employer files: this worker, to this licence, in this profession."""

    worker_civil_number: str
    licence_number: str
    profession_code: str


def transfer_fields(data) -> TransferRequest:
    """The request from submitted JSON; InputError naming the bad field."""
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    values = []
    for name, pattern in _FIELDS.items():
        value = data.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InputError(f"{name} {value!r} is missing or malformed (expected {pattern.pattern})")
        values.append(value)
    return TransferRequest(*values)


# ------------------------------------------------------------------ messages


def _sponsor_element(tag: str, sponsor: Sponsor) -> etree._Element:
    return io.element(tag, io.leaf(sponsor.kind, sponsor.number))


def eligibility_query(transfer_id: str, civil_number: str, new_sponsor: Sponsor | None) -> etree._Element:
    """The TransferEligibilityQuery for one request."""
    return io.element(QUERY, io.leaf("CivilNumber", civil_number), io.leaf("TransferId", transfer_id),
                      None if new_sponsor is None else _sponsor_element("NewSponsor", new_sponsor))


def _sponsor(body: etree._Element, path: str) -> Sponsor:
    node = body.find(_R + path)
    child = None if node is None else next((c for c in node if isinstance(c.tag, str)), None)
    if child is None:
        raise io.SchemaError(f"{RECORD}: {path} is missing")
    return Sponsor(etree.QName(child).localname, (child.text or "").strip())


def read_residence(reply: etree._Element, expected: str, agency: str):
    """The police's answer as a :class:`Residence`, ``NotFound`` or ``NoAnswer``."""
    if io.message_type(reply) != expected:
        return io.answer(reply, expected, agency)  # a Fault or another record: read as for any agency
    report = reply.find(_R + "AbscondingReport")
    last = io.opt(reply, "LastMovementOn")
    return Residence(
        civil_number=io.req(reply, "Worker/CivilNumber"), nationality=io.req(reply, "Worker/Nationality"),
        sponsor=_sponsor(reply, "CurrentSponsor"), residence_expiry=io.req_date(reply, "ResidenceExpiry"),
        presence=io.req(reply, "Presence"),
        last_movement=None if last is None else io.req_date(reply, "LastMovementOn"),
        absconding_report=None if report is None else
        f"{io.req(report, 'ReportNumber')} filed on {io.req(report, 'ReportedOn')}")


def _worker_facts(reply) -> dict:
    if not isinstance(reply, etree._Element) or io.message_type(reply) != RECORD:
        return {}
    return io.person(reply, "Worker")


def _parse_sponsor(text: str | None) -> Sponsor | None:
    return None if not text else Sponsor(*text.split(":", 1))


def transfer_completed(transfer: dict, effective_on: str, recorded_at: str) -> etree._Element:
    """The TransferCompleted telling the police about a completed transfer."""
    worker = transfer["worker"]
    names = [io.element("Name", text=text, **{_XML_LANG: lang}) for lang, text in worker["names"].items() if text]
    person = io.element("Worker", io.leaf("CivilNumber", transfer["worker_civil_number"]),
                        io.leaf("PassportNumber", worker.get("passport_number")), *names,
                        io.leaf("Nationality", worker["nationality"]))
    return io.element(
        NOTICE, io.leaf("TransferId", transfer["transfer_id"]), person,
        _sponsor_element("PreviousSponsor", _parse_sponsor(transfer["previous_sponsor"])),
        _sponsor_element("NewSponsor", _parse_sponsor(transfer["new_sponsor"])),
        io.leaf("LicenceNumber", transfer["licence_number"]), io.leaf("LicenceType", transfer["licence_type"]),
        io.element("Profession", io.leaf("Code", transfer["profession_code"])),
        io.leaf("EffectiveOn", effective_on), io.leaf("RecordedAt", recorded_at))


# ------------------------------------------------------------------- service


def _sponsor_of(licence: dict | None) -> Sponsor | None:
    if licence is None:
        return None
    if licence["licence_type"] == rules.PRIVATE:
        return Sponsor("CivilNumber", licence["holder_civil_number"])
    return Sponsor("CRNumber", licence["employer_cr"])


def _text_of(sponsor: Sponsor | None) -> str | None:
    return None if sponsor is None else f"{sponsor.kind}:{sponsor.number}"


@dataclass
class Transfers:
    """Transfer requests: stored, asked of the police, decided, recorded, told to the police."""

    state: LicensingState
    decider: Decider
    """Asks the police through the hub (its ``ask``) and tells the time (its ``now``)."""
    notify: Notify

    def request(self, filed: TransferRequest) -> dict:
        """File, decide and record a transfer; the transfer as :meth:`transfer` shows it."""
        now = self.decider.now()
        sponsor = _sponsor_of(self.state.licence(filed.licence_number))
        seq, transfer_id = self._file(filed, sponsor, utc_text(now))
        reply = self.decider.answer(QUERY, eligibility_query(transfer_id, filed.worker_civil_number, sponsor),
                                    _keeping_reply(read_residence))
        residence, worker = reply if isinstance(reply, tuple) else (reply, {})  # NoAnswer alone
        self._decide(seq, filed, sponsor, residence, worker, now)
        transfer = self.transfer(transfer_id)
        return self._try_notify(transfer) if transfer["status"] == "completed" else transfer

    def _file(self, filed: TransferRequest, sponsor: Sponsor | None, requested_at: str) -> tuple[int, str]:
        with write_transaction(self.state.engine) as conn:
            seq = conn.execute(transfers.insert().values(
                worker_civil_number=filed.worker_civil_number, licence_number=filed.licence_number,
                profession_code=filed.profession_code, new_sponsor=_text_of(sponsor), status="pending",
                reasons="[]", requested_at=requested_at)).inserted_primary_key[0]
            transfer_id = f"TRF-{requested_at[:4]}-{seq:06d}"
            conn.execute(transfers.update().where(transfers.c.seq == seq).values(transfer_id=transfer_id))
        return seq, transfer_id

    def _decide(self, seq: int, filed: TransferRequest, sponsor: Sponsor | None, residence, worker: dict,
                now: datetime) -> None:
        # The licence is read again inside the transaction that takes its vacancy.
        with write_transaction(self.state.engine) as conn:
            answer = transfer_rules.decide_transfer(
                filed.worker_civil_number, filed.profession_code, residence,
                self.state.licence_view(filed.licence_number, conn), sponsor, rules.local_today(now),
                already_recorded=effects.transfer_recorded(conn, filed.worker_civil_number, filed.licence_number))
            previous = residence.sponsor if isinstance(residence, Residence) else None
            conn.execute(transfers.update().where(transfers.c.seq == seq).values(
                worker=to_json(worker) if worker else None, previous_sponsor=_text_of(previous)))
            effects.record_transfer(conn, seq, answer, worker.get("passport_number"), utc_text(now))

    def _try_notify(self, transfer: dict) -> dict:
        try:
            return self.notify_police(transfer["transfer_id"])
        except (RabtError, ConnectionError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, RabtError) else str(exc) or type(exc).__name__
            return transfer | {"notice_error": reason}

    def notify_police(self, transfer_id: str) -> dict:
        """Publish the TransferCompleted of a completed transfer (again); the transfer with its notice id."""
        transfer = self.transfer(transfer_id)
        if transfer is None or transfer["status"] not in ("completed", "released", "moved-on"):
            raise InputError(f"transfer {transfer_id} is not a completed transfer")
        decided_at = datetime.fromisoformat(transfer["decided_at"].replace("Z", "+00:00"))
        effective_on = rules.local_today(decided_at).isoformat()
        body = transfer_completed(transfer, effective_on, utc_text(self.decider.now()))
        message_id = self.notify(body, self.decider.destinations.transfer)
        with write_transaction(self.state.engine) as conn:
            conn.execute(transfers.update().where(transfers.c.transfer_id == transfer_id)
                         .values(notice_message_id=message_id))
        return self.transfer(transfer_id)

    def transfer(self, transfer_id: str) -> dict | None:
        """A transfer: the request, the decision with its reasons, the vacancy filled, the notice sent."""
        query = sa.select(transfers).where(transfers.c.transfer_id == transfer_id)
        with self.state.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        licence = self.state.licence(row["licence_number"])
        return {k: row[k] for k in row.keys() if k not in ("seq", "reasons", "worker")} | {
            "reasons": json.loads(row["reasons"]), "worker": json.loads(row["worker"]) if row["worker"] else None,
            "licence_type": licence and licence["licence_type"],
            "police_notified": row["notice_message_id"] is not None}


def _keeping_reply(read):
    """``read`` that also returns the worker as the police record names them (for the notice)."""
    def both(reply: etree._Element, expected: str, agency: str):
        return read(reply, expected, agency), _worker_facts(reply)
    return both


transfer_api = Blueprint("transfers", __name__)


def _transfers() -> Transfers:
    return current_app.extensions["licensing_transfers"]


@transfer_api.post("/api/transfers")
def post_transfer():
    """File a transfer: decided at once (completed, refused or referred) and, when completed, told to the police."""
    transfer = _transfers().request(transfer_fields(request.get_json(silent=True)))
    location = url_for("transfers.get_transfer", transfer_id=transfer["transfer_id"])
    return jsonify(transfer), 201, {"Location": location}


@transfer_api.get("/api/transfers/<transfer_id>")
def get_transfer(transfer_id: str):
    transfer = _transfers().transfer(transfer_id)
    if transfer is None:
        return jsonify(error="not-found", reason=f"no transfer {transfer_id}"), 404
    return jsonify(transfer)


@transfer_api.post("/api/transfers/<transfer_id>/notify")
def notify_transfer(transfer_id: str):
    """Send the police the notice of a completed transfer again (after the hub was unreachable)."""
    return jsonify(_transfers().notify_police(transfer_id)), 202
