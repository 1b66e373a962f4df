"""Where a labour case stands: licensing asks the labour court through the hub (read-only).

``GET /api/cases/<case number>`` builds a canonical ``LabourCaseStatusQuery``,
asks ``courts`` with the app's ``ask`` (the hub's request/reply in
production, :class:`hub_link.TransportAsk`) and answers with what the
``LabourCaseStatusRecord`` says. Nothing is recorded: the court's register is
the truth, and the case's life reaches licensing through the batches anyway.

What the caller gets (:func:`look_up` returns the JSON and the HTTP status):

* 200 - the case: status, dates, parties, claims, next hearing or judgment;
* 404 - the court has no such case (its Fault ``not-found``, with its reason);
* 503 - nobody can answer now: the court is down (the hub's recoverable Fault
  after its retries), no reply in time, the broker unreachable, no hub;
* 502 - an answer licensing cannot use: another Fault (the court's answer was
  refused as garbage, the query did not fit the court's contract), a reply
  that does not verify, or a record about something else.
"""

from __future__ import annotations

import re

from lxml import etree

from hub.errors import InputError, RabtError
from simulators.licensing import canonical_io as io
from simulators.licensing.decider import Ask

QUERY = "LabourCaseStatusQuery"
RECORD = "LabourCaseStatusRecord"
DESTINATION = "courts"
#: the canonical DocumentNumber; the court's own format (LC/yyyy/n) is the hub's business
CASE_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9/\-]{2,39}")
_R = f"{{{io.NAMESPACE}}}"


def status_query(case_number: str) -> etree._Element:
    """The LabourCaseStatusQuery for ``case_number``; InputError when it is no case number."""
    if not CASE_NUMBER.fullmatch(case_number or ""):
        raise InputError(f"case number {case_number!r} is malformed (expected {CASE_NUMBER.pattern})")
    return io.element(QUERY, io.leaf("CaseNumber", case_number))


def look_up(ask: Ask, case_number: str) -> tuple[dict, int]:
    """Ask the court about ``case_number``: (JSON body, HTTP status)."""
    query = status_query(case_number)
    try:
        reply = ask(QUERY, query, DESTINATION)
    except InputError as exc:  # the reply did not verify, or answers another query
        return _error(exc.code, exc.reason), 502
    except RabtError as exc:  # no reply in time, broker or hub unreachable
        return _error(exc.code, exc.reason), 503
    except (TimeoutError, ConnectionError) as exc:
        return _error("agency-unavailable", str(exc) or type(exc).__name__), 503
    try:
        return answer(reply, case_number)
    except InputError as exc:  # a record missing what the schema promises
        return _error(exc.code, exc.reason), 502


def answer(reply: etree._Element, case_number: str) -> tuple[dict, int]:
    """The court's reply as (JSON body, HTTP status), see the module docstring."""
    kind = io.message_type(reply)
    if kind == "Fault":
        fault = io.fault(reply)
        recoverable = io.opt(reply, "Recoverable") in ("true", "1")
        status = 404 if fault["code"] == "not-found" else 503 if recoverable else 502
        return _error(fault["code"], fault["reason"], agency=fault["agency"]), status
    if kind != RECORD:
        return _error("unexpected-reply", f"expected {RECORD}, got {kind}"), 502
    record = case_status(reply)
    if record["case_number"] != case_number:
        return _error("unexpected-reply", f"asked about {case_number}, the court answered about "
                                          f"{record['case_number']}"), 502
    return record, 200


def case_status(body: etree._Element) -> dict:
    """A LabourCaseStatusRecord's fields (SchemaError naming a missing one)."""
    judgment = body.find(_R + "Judgment")
    return {
        "case_number": io.req(body, "CaseNumber"), "complaint_id": io.opt(body, "ComplaintId"),
        "court": io.req(body, "Court/Code"), "status": io.req(body, "Status"),
        "status_date": io.req_date(body, "StatusDate").isoformat(),
        "filed_on": io.req_date(body, "FiledOn").isoformat(),
        "employer": {"cr_number": io.opt(body, "Parties/Employer/CRNumber"),
                     "names": io.names(body.find(f"{_R}Parties/{_R}Employer"))},
        "worker": {"civil_number": io.req(body, "Parties/Worker/CivilNumber"),
                   "names": io.names(body.find(f"{_R}Parties/{_R}Worker"))},
        "subjects": [(s.text or "").strip() for s in body.iterfind(_R + "Subject")],
        "next_hearing": io.opt(body, "NextHearing"),
        "judgment": None if judgment is None else _judgment(judgment),
        "as_of": io.req(body, "AsOf"),
    }


def _judgment(judgment: etree._Element) -> dict:
    texts = {t.get("{http://www.w3.org/XML/1998/namespace}lang", ""): (t.text or "").strip()
             for t in judgment.iterfind(_R + "Text")}
    return {"outcome": io.req(judgment, "Outcome"), "final": io.req(judgment, "Final") in ("true", "1"),
            "amount_awarded": io.opt(judgment, "AmountAwarded"), "text": texts}


def _error(code: str, reason: str, **extra: str) -> dict:
    return {"error": code, "reason": reason, **extra}
