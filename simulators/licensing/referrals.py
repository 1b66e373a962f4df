"""Complaints that conciliation did not settle, referred to the labour court through the hub.

Licensing publishes a signed canonical ``LabourCaseReferral`` addressed to
``courts``; the hub's courts adapter delivers it to the court's SOAP service.
It is a notification: nothing waits for an answer, and the transport's
retries and dead-letter queue carry it through a court outage.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from hub.envelope import new_header
from hub.errors import InputError
from simulators.licensing.canonical_io import element, leaf
from simulators.licensing.hub_link import SYSTEM, Seal, outgoing

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FIELDS = {
    "complaint_id": re.compile(r"[A-Z0-9][A-Z0-9/\-]{3,39}"),
    "employer_cr": re.compile(r"[0-9]{7,10}"),
    "worker_civil_number": re.compile(r"[0-9]{8,9}"),
    "worker_nationality": re.compile(r"[A-Z]{3}"),
}


def _field(data: dict, name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not _FIELDS[name].fullmatch(value):
        raise InputError(f"{name} {value!r} is missing or malformed (expected {_FIELDS[name].pattern})")
    return value


def _name(tag: str, text, lang: str) -> etree._Element | None:
    if not text:
        return None
    if not isinstance(text, str) or len(text) > 200:
        raise InputError(f"{tag} names are text of at most 200 characters")
    return element("Name", text=text, **{_XML_LANG: lang})


def referral_body(data, today: date) -> etree._Element:
    """A LabourCaseReferral from submitted JSON; InputError naming the bad field."""
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    subjects = data.get("subjects") or ["unpaid-wages"]
    try:
        amount = None if data.get("amount_claimed") is None else Decimal(str(data["amount_claimed"])).quantize(Decimal("0.001"))
    except InvalidOperation:
        raise InputError(f"amount_claimed {data.get('amount_claimed')!r} is not a number") from None
    employer_name = _name("employer", data.get("employer_name_en"), "en")
    if employer_name is None:
        raise InputError("employer_name_en is required")
    employer = element("Employer", leaf("CRNumber", _field(data, "employer_cr")), employer_name)
    worker = element("Worker", leaf("CivilNumber", _field(data, "worker_civil_number")),
                     _name("worker", data.get("worker_name_en"), "en"), _name("worker", data.get("worker_name_ar"), "ar"),
                     leaf("Nationality", _field(data, "worker_nationality")))
    return element("LabourCaseReferral", leaf("ComplaintId", _field(data, "complaint_id")),
                   leaf("ReferredOn", today.isoformat()), element("Parties", employer, worker),
                   *(leaf("Subject", s) for s in subjects),
                   None if amount is None else element("AmountClaimed", text=f"{amount:.3f}", currency="OMR"))


class HubReferrals:
    """Publishes referrals through the hub transport, signed with licensing's key."""

    def __init__(self, transport, seal: Seal) -> None:
        self.transport = transport
        self.seal = seal

    def __call__(self, body: etree._Element) -> str:
        header = new_header(message_type="LabourCaseReferral", source_agency=SYSTEM, source_system=SYSTEM,
                            destination="courts", raw_payload=etree.tostring(body))
        self.transport.publish([outgoing(header, body, self.seal)])
        return header.message_id

