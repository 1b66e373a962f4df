"""Court labour-case batches through the real file adapter, pipeline, signing and SQLite log."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from adapters.courts import ADAPTER, FILE_DROPS
from adapters.courts.files import read_court_batch
from hub.envelope import read_envelope
from hub.filedrop import DropWatcher, source_message_id
from hub.filedrop.process import raw_of
from hub.pipeline_types import Inbound
from hub.signing import Verifier
from hub.xmlsafe import parse_xml
from simulators.courts.batches import write_batches
from simulators.population import Population, PopulationSpec

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(1_000_000))
DAY = date(2024, 3, 12)


@pytest.fixture
def watcher(root, pipeline) -> DropWatcher:
    return DropWatcher(root, [ADAPTER], pipeline)


def inbox(root: Path) -> Path:
    return root / "courts" / "inbox"


def test_file_drops_are_exported_for_the_courts_adapter():
    assert FILE_DROPS == ADAPTER.file_drops and FILE_DROPS[0].pattern == "LCB_*.xml"


def test_each_case_update_becomes_one_labour_case_update(root, watcher, pipeline, trust_store):
    summary = write_batches(POPULATION, DAY, inbox(root), per_file=4)
    outcomes = watcher.scan_once()
    assert len(outcomes) == summary.files and all(o.status == "done" for o in outcomes)
    assert sum(len(o.items) for o in outcomes) == summary.updates
    events = {"opened": 0, "hearing": 0, "judgment": 0}
    for outcome in outcomes:
        for item in outcome.items:
            stored = pipeline.log.get(item.message_id)
            verified = Verifier(trust_store).verify(parse_xml(stored.envelope), expected_signer="hub")
            header, body = read_envelope(verified.element)
            assert header.message_type == "LabourCaseUpdate" and header.source_agency == "courts"
            assert item.source_id == "/".join((body.findtext(f"{R}CaseNumber"), _status(stored.raw),
                                               body.findtext(f"{R}EventDate")))
            events[body.findtext(f"{R}Event")] += 1
    assert events["opened"] == summary.by_status["OPN"] and events["hearing"] == summary.by_status["HRG"]
    assert events["judgment"] == summary.by_status["JDG"] + summary.by_status["CLS"]
    assert len(pipeline.log.unpublished(1000)) == summary.updates


def _status(raw: bytes) -> str:
    return etree.fromstring(raw).findtext(".//{urn:om:mjla:labourcourt:batch:2022}StatusCode")


def test_hearing_and_judgment_details_are_mapped(root, watcher, pipeline):
    write_batches(POPULATION, DAY, inbox(root), per_file=50)
    bodies = [read_envelope(parse_xml(pipeline.log.get(i.message_id).envelope))[1]
              for o in watcher.scan_once() for i in o.items]
    hearing = next(b for b in bodies if b.findtext(f"{R}Event") == "hearing")
    assert hearing.findtext(f"{R}HearingDate").endswith(":00+04:00")
    judgment = next(b for b in bodies if b.findtext(f"{R}Event") == "judgment")
    assert judgment.findtext(f"{R}Judgment/{R}Outcome") in {
        "for-worker", "for-employer", "partly-for-worker", "settled", "dismissed"}
    assert judgment.find(f"{R}Court/{R}Name[@{{http://www.w3.org/XML/1998/namespace}}lang='ar']") is not None


def one_batch(root: Path) -> Path:
    """The day's biggest batch alone in the inbox."""
    summary = write_batches(POPULATION, DAY, inbox(root), per_file=1000)
    paths = sorted((inbox(root) / name for name in summary.names), key=lambda p: p.stat().st_size)
    for path in paths[:-1]:
        path.unlink()
    return paths[-1]


def test_schema_violation_is_reported_with_its_line(root, watcher, pipeline):
    path = one_batch(root)
    text = path.read_text(encoding="utf-8").replace("<lcb:StatusCode>HRG</lcb:StatusCode>",
                                                    "<lcb:StatusCode>ADJ</lcb:StatusCode>", 1)
    path.write_text(text, encoding="utf-8")
    bad_line = next(n for n, line in enumerate(text.splitlines(), 1) if ">ADJ<" in line)
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and outcome.errors[0].line == bad_line
    assert "ADJ" in outcome.errors[0].reason and pipeline.log.unpublished() == []
    report = (root / "courts" / "failed" / (path.name + ".report.txt")).read_text(encoding="utf-8")
    assert f"line {bad_line}: schema:" in report


@pytest.mark.parametrize("change, words", [
    (lambda t: t[: len(t) // 2], "not well-formed"),
    (lambda t: '<!DOCTYPE x [<!ENTITY a "b">]>\n' + t.split("?>", 1)[1], "DOCTYPE is not allowed"),
    (lambda t: t.replace('RecordCount="', 'RecordCount="9', 1), "RecordCount is 9"),
])
def test_broken_batches_are_rejected_whole(root, watcher, pipeline, change, words):
    path = one_batch(root)
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and words in (outcome.errors[0].reason if outcome.errors else outcome.reason)
    assert json.loads((root / "courts/failed" / (path.name + ".report.json")).read_text())["status"] == "rejected"
    assert pipeline.log.unpublished() == []


def test_crashed_batch_resumes_with_nothing_doubled(root, pipeline):
    path = one_batch(root)
    processing = root / "courts" / "processing"
    processing.mkdir(parents=True)
    moved = processing / path.name
    os.rename(path, moved)
    items = list(read_court_batch(moved))
    assert len(items) >= 4
    sha = hashlib.sha256(moved.read_bytes()).hexdigest()
    half = {}
    for item in items[: len(items) // 2]:  # what the crashed watcher had stored
        inbound = Inbound(agency="courts", system="labour-court", message_type="LabourCaseUpdate",
                          destination="licensing", raw=raw_of(item, False, b""),  # as the watcher stores it
                          source_message_id=source_message_id(sha, item.source_id))
        half[item.source_id] = pipeline.accept(inbound, item.payload).message_id
    [outcome] = DropWatcher(root, [ADAPTER], pipeline).scan_once()
    assert outcome.status == "done" and len(outcome.items) == len(items)
    assert {i.source_id: i.message_id for i in outcome.items if i.duplicate} == half
    assert len(pipeline.log.unpublished(1000)) == len(items)


def test_a_long_arabic_name_in_the_same_scan_never_strands_a_genuine_batch(root, watcher, pipeline):
    summary = write_batches(POPULATION, DAY, inbox(root), per_file=4)
    [genuine] = sorted(os.listdir(inbox(root)))[:1]
    arabic = "LCB_" + "محكمة" * 24 + ".xml"  # 128 characters, 248 bytes: under any character limit
    (inbox(root) / arabic).write_bytes((inbox(root) / genuine).read_bytes())
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert outcomes[arabic].status == "failed" and "bytes in UTF-8" in outcomes[arabic].reason
    assert all(o.status == "done" for name, o in outcomes.items() if name != arabic)
    assert len(outcomes) == summary.files + 1
    done, failed = set(os.listdir(root / "courts" / "done")), os.listdir(root / "courts" / "failed")
    assert f"{genuine}.receipt.json" in done and os.listdir(root / "courts" / "processing") == []
    report = json.loads((root / "courts" / "failed" / f"{outcomes[arabic].filed_as}.report.json").read_text())
    assert report["file"] == arabic and len(failed) == 3
    assert len(pipeline.log.unpublished(1000)) == summary.updates
