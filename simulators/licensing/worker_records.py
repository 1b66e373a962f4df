"""A worker's current record, as licensing knows it, for the agencies that ask (``WorkerRecordQuery``).

Licensing learns about a worker from the police: arrivals, departures and
renewals (``lic_worker_events``, each carrying the worker's names and
nationality) and the visa issued against a licence (``lic_visas``). The record
is read from the latest of those: names, nationality and employer from the
latest border event, profession and licence from the latest renewal or visa,
status from the latest event's kind.

Licensing answers with every field asked for (all if none were named). It
does not decide who may see what: the hub removes what the asking agency is not
granted before it signs the answer for it (``access.toml``).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from lxml import etree

from simulators.licensing import canonical_io
from simulators.licensing.canonical_io import element, leaf
from simulators.licensing.state import LicensingState
from simulators.licensing.tables import visas, worker_events

#: the record's fields, in the canonical schema's order
FIELDS = ("NameAr", "NameEn", "CivilNumber", "Nationality", "Profession", "Employer", "Licence", "Status")


def record_query(body: etree._Element) -> tuple[str, tuple[str, ...]]:
    """A WorkerRecordQuery's civil number and the fields asked for (all when none are named)."""
    asked = tuple(dict.fromkeys((f.text or "").strip() for f in body.findall("{*}Field")))
    return canonical_io.req(body, "CivilNumber"), asked or FIELDS


def worker_record(state: LicensingState, civil_number: str, fields: tuple[str, ...]) -> etree._Element | None:
    """The WorkerRecord of ``civil_number`` holding ``fields``, or None when licensing knows no such worker."""
    with state.engine.connect() as conn:
        latest = conn.execute(sa.select(worker_events).where(worker_events.c.civil_number == civil_number)
                              .order_by(worker_events.c.occurred_at.desc(), worker_events.c.id.desc())
                              .limit(1)).mappings().first()
        if latest is None:
            return None
        event = json.loads(latest["detail"])
        visa = _latest_visa(conn, event["worker"].get("passport_number"))
    values = _values(civil_number, event, visa)
    return element("WorkerRecord", *(leaf(name, values.get(name)) for name in FIELDS if name in fields),
                   leaf("AsOf", event["occurred_at"]))


def _latest_visa(conn, passport_number: str | None) -> dict | None:
    if not passport_number:
        return None
    return conn.execute(sa.select(visas).where(visas.c.worker_passport == passport_number)
                        .order_by(visas.c.issued_at.desc()).limit(1)).mappings().first()


def _values(civil_number: str, event: dict, visa: dict | None) -> dict[str, str | None]:
    worker, names = event["worker"], event["worker"].get("names", {})
    return {
        "NameAr": names.get("ar") or None, "NameEn": names.get("en") or None, "CivilNumber": civil_number,
        "Nationality": worker.get("nationality"), "Employer": event.get("employer_cr"),
        "Profession": event.get("profession_code") or (visa or {}).get("profession_code"),
        "Licence": event.get("licence_number") or (visa or {}).get("licence_number"),
        "Status": _status(event),
    }


def _status(event: dict) -> str:
    if event["kind"] == "WorkerDeparture":
        return "departed" if event.get("departure_kind") == "final" else "on-leave"
    return "in-country"
