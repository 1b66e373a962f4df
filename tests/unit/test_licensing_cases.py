"""Licensing's GET /api/cases/<case number>: the court's answer (canonical samples) as HTTP status and JSON."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.errors import ReplyTimeoutError, SignatureError
from simulators.licensing.app import create_app
from simulators.licensing.config import LicensingConfig
from simulators.licensing.state import LicensingState

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R = "{urn:rabt:canonical:v1}"
CASE = "LC/2024/1187"  # the case of the LabourCaseStatusRecord sample


def sample(name: str, **fields: str) -> etree._Element:
    element = etree.parse(str(SAMPLES / f"{name}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    for tag, value in fields.items():
        element.find(R + tag).text = value
    canonical.validate(element)
    return element


class Court:
    """``ask`` answering every LabourCaseStatusQuery with ``reply`` (raised when it is an exception)."""

    def __init__(self, reply) -> None:
        self.reply, self.asked = reply, []

    def __call__(self, query_type: str, body: etree._Element, destination: str) -> etree._Element:
        canonical.validate(body)
        self.asked.append((query_type, destination, body.findtext(f"{R}CaseNumber")))
        if isinstance(self.reply, Exception):
            raise self.reply
        return copy.deepcopy(self.reply)


def get(tmp_path, reply, case: str = CASE, ask=None):
    court = ask or Court(reply)
    app = create_app(LicensingConfig(home=tmp_path), state=LicensingState(f"sqlite:///{tmp_path / 'l.sqlite3'}"),
                     ask=court, now=lambda: datetime(2024, 4, 10, tzinfo=timezone.utc))
    answer = app.test_client().get(f"/api/cases/{case}")
    return answer.status_code, answer.get_json(), court


def test_a_known_case_is_its_status(tmp_path):
    status, body, court = get(tmp_path, sample("LabourCaseStatusRecord"))
    assert status == 200 and court.asked == [("LabourCaseStatusQuery", "courts", CASE)]
    assert (body["case_number"], body["status"], body["next_hearing"]) == (CASE, "hearing", "2024-04-23T09:30:00+04:00")
    assert body["subjects"] == ["unpaid-wages", "end-of-service-gratuity"] and body["judgment"] is None
    assert body["worker"] == {"civil_number": "118457203", "names": {"en": "Mohammad Abdul Karim"}}
    assert (body["court"], body["complaint_id"], body["filed_on"]) == ("muscat-primary", "CMP-2024-003391", "2024-03-05")


def test_a_judged_case_carries_its_judgment(tmp_path):
    record = sample("LabourCaseStatusRecord", Status="judgment")
    hearing = record.find(R + "NextHearing")
    hearing.addprevious(copy.deepcopy(sample("LabourCaseUpdate").find(R + "Judgment")))
    record.remove(hearing)
    canonical.validate(record)
    status, body, _ = get(tmp_path, record)
    assert status == 200 and body["status"] == "judgment" and body["next_hearing"] is None
    assert body["judgment"]["outcome"] == "partly-for-worker" and body["judgment"]["final"] is False
    assert body["judgment"]["amount_awarded"] == "1630.500" and set(body["judgment"]["text"]) == {"ar", "en"}


@pytest.mark.parametrize("code, recoverable, expected", [
    ("not-found", "false", 404), ("agency-unavailable", "true", 503), ("circuit-open", "true", 503),
    ("parse", "false", 502), ("agency-refused", "false", 502),
])
def test_a_fault_from_the_court_or_the_hub(tmp_path, code, recoverable, expected):
    fault = sample("Fault", Code=code, Recoverable=recoverable, Reason=f"why: {code}")
    status, body, _ = get(tmp_path, fault)
    assert status == expected and body["error"] == code and body["reason"] == f"why: {code}"


@pytest.mark.parametrize("error, expected", [
    (ReplyTimeoutError("no reply within 10s"), 503),
    (SignatureError("message refused, signature not verified"), 502),
    (TimeoutError("timed out"), 503),
])
def test_no_usable_reply(tmp_path, error, expected):
    status, body, _ = get(tmp_path, error)
    assert status == expected and str(error) in body["reason"]


def test_no_hub_configured_is_503(tmp_path):
    app = create_app(LicensingConfig(home=tmp_path), state=LicensingState(f"sqlite:///{tmp_path / 'l.sqlite3'}"))
    answer = app.test_client().get(f"/api/cases/{CASE}")
    assert answer.status_code == 503 and "no hub configured to ask courts" in answer.get_json()["reason"]


def test_a_record_about_another_case_is_502(tmp_path):
    status, body, _ = get(tmp_path, sample("LabourCaseStatusRecord", CaseNumber="LC/2024/9"))
    assert status == 502 and "LC/2024/9" in body["reason"]


@pytest.mark.parametrize("case", ["lc 2024 1187", "A", "LC/2024/" + "1" * 40])
def test_something_that_is_no_case_number_is_400_and_nobody_is_asked(tmp_path, case):
    status, body, court = get(tmp_path, sample("LabourCaseStatusRecord"), case=case)
    assert status == 400 and "malformed" in body["reason"] and court.asked == []
