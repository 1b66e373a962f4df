"""Reading and writing canonical message bodies: the ONE place that knows element names.

Readers take a verified body element and return plain values (or the rule
records of :mod:`rules`); a missing or malformed field is a
:class:`~hub.errors.SchemaError` naming the field. Builders return body
elements that validate against ``schemas/canonical/v1``. The bodies read most
(border notifications, visa checks) have readers of their own that take one
pass over the body: :mod:`one_pass_readers`.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from hub.errors import SchemaError
from simulators.licensing import rules

NAMESPACE = "urn:rabt:canonical:v1"
#: what a canonical element's tag starts with in lxml (``{namespace}``)
TAG_PREFIX = f"{{{NAMESPACE}}}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def message_type(body: etree._Element) -> str:
    """Local name of a canonical body element; SchemaError if not canonical."""
    tag = body.tag
    if isinstance(tag, str) and tag.startswith(TAG_PREFIX):  # what QName would say, without making one (every message)
        return tag[len(TAG_PREFIX):]
    qname = etree.QName(body)
    if qname.namespace != NAMESPACE:
        raise SchemaError(f"{body.tag} is not a canonical message (namespace {NAMESPACE})")
    return qname.localname


def _find(element: etree._Element, path: str) -> etree._Element | None:
    return element.find(_qualified(path))


@functools.lru_cache(maxsize=512)
def _qualified(path: str) -> str:
    """``A/B`` with each step in the canonical namespace; paths are few and fixed, and read on every message."""
    return "/".join(TAG_PREFIX + step for step in path.split("/"))


def opt(element: etree._Element, path: str) -> str | None:
    """Stripped text at ``path`` (``A/B``), or None when absent or empty."""
    node = _find(element, path)
    text = None if node is None else (node.text or "").strip()
    return text or None


def req(element: etree._Element, path: str) -> str:
    """Text at ``path``; SchemaError naming the field when it is missing."""
    value = opt(element, path)
    if value is None:
        raise SchemaError(f"{etree.QName(element).localname}: {path} is missing")
    return value


def converted(element: etree._Element, path: str, value: str, kind):
    """``kind(value)`` for the field at ``path`` of ``element``; SchemaError naming the field when it is not one."""
    try:
        return kind(value)
    except (ValueError, InvalidOperation) as exc:
        raise SchemaError(f"{etree.QName(element).localname}: {path}={value!r} is not a valid {kind.__name__}") from exc


def req_date(element: etree._Element, path: str) -> date:
    return converted(element, path, req(element, path), date.fromisoformat)


def req_decimal(element: etree._Element, path: str) -> Decimal:
    return converted(element, path, req(element, path), Decimal)


def req_int(element: etree._Element, path: str) -> int:
    return converted(element, path, req(element, path), int)


def names(element: etree._Element | None) -> dict[str, str]:
    """``{lang: name}`` of the rabt:Name children (Arabic and/or English)."""
    if element is None:
        return {}
    return {n.get(XML_LANG, ""): (n.text or "").strip() for n in element.findall(TAG_PREFIX + "Name")}


def person(element: etree._Element, path: str) -> dict:
    """A rabt:Person as a dict: civil/passport numbers, names, nationality."""
    node = _find(element, path)
    if node is None:
        raise SchemaError(f"{etree.QName(element).localname}: {path} is missing")
    return {"civil_number": opt(node, "CivilNumber"), "passport_number": opt(node, "PassportNumber"),
            "names": names(node), "nationality": req(node, "Nationality")}


# ----------------------------------------------------------- agency replies


def _fault_answer(body: etree._Element, agency: str):
    code = opt(body, "Code") or "fault"
    reason = opt(body, "Reason") or "no reason given"
    if code == "not-found":
        return rules.NotFound(opt(body, "Agency") or agency, reason)
    return rules.NoAnswer(opt(body, "Agency") or agency, code, reason)


def answer(body: etree._Element, expected: str, agency: str):
    """An agency reply as a rule record, NotFound (Fault not-found) or NoAnswer."""
    kind = message_type(body)
    if kind == "Fault":
        return _fault_answer(body, agency)
    if kind != expected:
        return rules.NoAnswer(agency, "unexpected-reply", f"expected {expected}, got {kind}")
    return _READERS[expected](body)


def _income(body: etree._Element) -> rules.IncomeProof:
    return rules.IncomeProof(
        civil_number=req(body, "CivilNumber"), source=req(body, "Source"),
        employee_status=req(body, "EmployeeStatus"), monthly_wage=req_decimal(body, "MonthlyWage"))


def _civil(body: etree._Element) -> rules.CivilStatus:
    return rules.CivilStatus(civil_number=req(body, "Citizen/CivilNumber"),
                             marital_status=req(body, "MaritalStatus"),
                             source_registry=req(body, "SourceRegistry"))


def _registration(body: etree._Element) -> rules.Registration:
    return rules.Registration(cr_number=req(body, "Establishment/CRNumber"), status=req(body, "Status"),
                              expiry_date=req_date(body, "ExpiryDate"))


def _membership(body: etree._Element) -> rules.Membership:
    return rules.Membership(cr_number=req(body, "CRNumber"), status=req(body, "Status"),
                            valid_until=req_date(body, "ValidUntil"))


_READERS = {
    "IncomeRecord": _income,
    "CivilStatusRecord": _civil,
    "CommercialRegistrationRecord": _registration,
    "ChamberMembershipRecord": _membership,
}


# ----------------------------------------------------------------- builders


def element(tag: str, *children: etree._Element | None, text: str | None = None, **attrs: str) -> etree._Element:
    """A canonical element; None children are skipped so optional fields read naturally."""
    node = etree.Element(TAG_PREFIX + tag, nsmap={"rabt": NAMESPACE}, **attrs)
    node.text = text
    node.extend(c for c in children if c is not None)
    return node


def leaf(tag: str, value) -> etree._Element | None:
    """A text element, or None (skipped) when ``value`` is None."""
    return None if value is None else element(tag, text=str(value))


def query(query_type: str, key: str, application_id: str | None) -> etree._Element:
    """An IncomeQuery / CivilStatusQuery (key = civil number) or a CR / chamber query (key = CR)."""
    key_tag = "CivilNumber" if query_type in ("IncomeQuery", "CivilStatusQuery") else "CRNumber"
    return element(query_type, leaf(key_tag, key), leaf("ApplicationId", application_id))


def reason(code: str, text: str | None = None, lang: str = "en") -> etree._Element:
    text_node = None if not text else element("Text", text=text[:4000], **{XML_LANG: lang})
    return element("Reason", leaf("Code", code), text_node)


def utc_text(moment: datetime) -> str:
    """UtcDateTime text: ISO 8601 with milliseconds and a trailing Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def licence_decision(decision: dict) -> etree._Element:
    """A LicenceDecision from a stored decision (see ``state.LicensingState.decision``)."""
    party = (leaf("ApplicantCivilNumber", decision["applicant_civil_number"])
             if decision["licence_type"] == rules.PRIVATE else leaf("EmployerCR", decision["employer_cr"]))
    vacancies = None
    if decision.get("vacancies"):
        vacancies = element("Vacancies", *(
            element("Vacancy", leaf("ProfessionCode", v["profession_code"]), leaf("Nationality", v.get("nationality")),
                    leaf("Count", v["granted"])) for v in decision["vacancies"]))
    return element(
        "LicenceDecision", leaf("ApplicationId", decision["application_id"]),
        leaf("LicenceNumber", decision.get("licence_number")), leaf("LicenceType", decision["licence_type"]),
        party, leaf("Decision", decision["decision"]),
        element("Reasons", *(reason(r["code"], r["text"]) for r in decision["reasons"])),
        leaf("DecidedAt", decision["decided_at"]), leaf("DecidedBy", decision.get("decided_by", "automatic")),
        leaf("ValidUntil", decision.get("valid_until")), vacancies)


# ------------------------------------------------------------ event readers


def visa_issued(body: etree._Element) -> dict:
    """A VisaIssued's fields."""
    return {"visa_number": req(body, "VisaNumber"), "licence_number": req(body, "LicenceNumber"),
            "licence_type": req(body, "LicenceType"), "worker": person(body, "Worker"),
            "profession_code": req(body, "Profession/Code"), "issued_at": req(body, "IssuedAt"),
            "valid_until": req_date(body, "ValidUntil").isoformat()}


def _salary_line(line: etree._Element) -> tuple[Decimal, str, bool]:
    net = req_decimal(line, "NetSalary")
    expected = req_decimal(line, "BasicSalary") + req_decimal(line, "Allowances") - req_decimal(line, "Deductions")
    status = opt(line, "PaymentStatus") or ("missing" if opt(line, "PaymentDate") is None else "on-time")
    return net, status, net != expected


def salary_batch(body: etree._Element) -> dict:
    """A SalaryBatch summarised: control totals against the lines actually carried.

    Lines are counted, not kept: a month is ~2 million of them, and licensing
    needs only who paid late or not at all and whether the batch is whole.
    """
    counts = {"on-time": 0, "late": 0, "missing": 0}
    total, bad_arithmetic, lines = Decimal(0), 0, 0
    for line in body.iterchildren(TAG_PREFIX + "SalaryLine"):
        net, status, wrong = _salary_line(line)
        lines += 1
        total += net
        counts[status] = counts.get(status, 0) + 1
        bad_arithmetic += wrong
    return {"employer_cr": req(body, "EmployerCR"), "pay_month": req(body, "PayMonth"),
            "file_reference": req(body, "FileReference"), "record_count": req_int(body, "RecordCount"),
            "declared_total": req_decimal(body, "Total"), "line_count": lines, "lines_total": total,
            "late_lines": counts["late"], "missing_lines": counts["missing"], "bad_arithmetic": bad_arithmetic}


def labour_case_update(body: etree._Element) -> dict:
    """A LabourCaseUpdate's fields; ``final`` is True only for a final judgment."""
    employer = _find(body, "Parties/Employer")
    return {"case_number": req(body, "CaseNumber"), "complaint_id": opt(body, "ComplaintId"),
            "court": req(body, "Court/Code"), "event": req(body, "Event"),
            "event_date": req_date(body, "EventDate").isoformat(),
            "employer_cr": None if employer is None else opt(employer, "CRNumber"),
            "employer_names": names(employer), "worker": person(body, "Parties/Worker"),
            "outcome": opt(body, "Judgment/Outcome"), "final": opt(body, "Judgment/Final") in ("true", "1"),
            "hearing_date": opt(body, "HearingDate")}


def fault(body: etree._Element) -> dict:
    """A Fault's fields."""
    return {"code": req(body, "Code"), "reason": req(body, "Reason"), "agency": req(body, "Agency"),
            "original_message_id": req(body, "OriginalMessageId")}


def fault_element(code: str, text: str, agency: str, original_message_id: str, occurred_at: str) -> etree._Element:
    """A non-recoverable Fault about ``original_message_id``."""
    return element("Fault", leaf("Code", code), leaf("Reason", text[:2000] or code), leaf("Agency", agency),
                   leaf("OriginalMessageId", original_message_id), leaf("Recoverable", "false"),
                   leaf("OccurredAt", occurred_at))
