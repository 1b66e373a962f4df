"""Court batches as the courts send them: nationality names, UTF-16, problems at the courts' own lines.

Through the real drop watcher, pipeline and SQLite log, with batches from
the courts simulator reshaped the way a clerk or a Windows tool reshapes them.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from adapters.courts import ADAPTER
from adapters.courts.nationality import country_code
from hub.envelope import read_envelope
from hub.filedrop import DropWatcher
from hub.pipeline import Pipeline
from hub.xmlsafe import parse_xml
from simulators.courts.batches import write_batches
from simulators.population import Population, PopulationSpec

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(1_000_000))
DAY = date(2024, 3, 12)
NATIONALITY = re.compile(r"<lcb:Nationality>([A-Z]{3})</lcb:Nationality>")


@pytest.fixture
def watcher(root, pipeline) -> DropWatcher:
    return DropWatcher(root, [ADAPTER], pipeline)


def one_batch(root: Path) -> tuple[Path, str]:
    """The day's biggest batch alone in the inbox, and its text."""
    inbox = root / "courts" / "inbox"
    summary = write_batches(POPULATION, DAY, inbox, per_file=1000)
    paths = sorted((inbox / name for name in summary.names), key=lambda p: p.stat().st_size)
    for path in paths[:-1]:
        path.unlink()
    return paths[-1], paths[-1].read_text(encoding="utf-8")


def nationalities(pipeline: Pipeline) -> list[str]:
    found = []
    for record in pipeline.log.unpublished():
        _, body = read_envelope(parse_xml(record.envelope))
        found += [element.text for element in body.iter(f"{R}Nationality")]
    return found


@pytest.mark.parametrize("written, code", [
    ("IND", "IND"), ("Indian", "IND"), ("india", "IND"), ("  Sri   Lankan ", "LKA"), ("هندي", "IND"),
    ("الهند", "IND"), ("إندونيسي", "IDN"), ("اندونيسي", "IDN"), ("مِصْري", "EGY"), ("bangladeshi", "BGD"),
])
def test_nationality_is_read_as_code_or_english_or_arabic_name(written, code):
    assert country_code(written) == code


def test_a_batch_with_nationality_names_is_accepted_with_their_codes(root, watcher, pipeline):
    path, text = one_batch(root)
    codes = NATIONALITY.findall(text)
    names = {"IND": "Indian", "BGD": "بنغلاديشي", "PAK": "Pakistan"}
    path.write_text(NATIONALITY.sub(lambda m: f"<lcb:Nationality>{names.get(m[1], m[1])}</lcb:Nationality>", text),
                    encoding="utf-8")
    [outcome] = watcher.scan_once()
    assert outcome.status == "done", outcome.errors
    assert nationalities(pipeline) == codes


def test_an_unknown_nationality_is_refused_quoting_the_courts_line(root, watcher, pipeline):
    path, text = one_batch(root)
    text = NATIONALITY.sub("<lcb:Nationality>Martian</lcb:Nationality>", text, count=1)
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "Martian" in row)
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and pipeline.log.unpublished() == []
    assert [(e.line, e.reason) for e in outcome.errors] == [
        (line, "Nationality 'Martian' is neither an ISO 3166 alpha-3 code nor a country name the hub knows")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_batch_is_accepted(root, watcher, pipeline, encoding):
    path, text = one_batch(root)
    text = re.sub("encoding=['\"]UTF-8['\"]", "encoding='UTF-16'", text, count=1)
    assert "encoding='UTF-16'" in text
    data = text.encode(encoding)
    path.write_bytes(data if encoding == "utf-16" else b"\xfe\xff" + data)
    [outcome] = watcher.scan_once()
    assert outcome.status == "done", (outcome.reason, outcome.errors)
    assert len(outcome.items) == len(re.findall("<lcb:CaseUpdate[ >]", text)) > 0
    assert nationalities(pipeline) == NATIONALITY.findall(text)
