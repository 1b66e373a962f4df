"""``rabt map AGENCY TYPE FILE`` as an engineer runs it: real processes, real mappings, simulator files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.soap import envelope
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.courts.batches import write_batches
from simulators.population import Population, PopulationSpec
from tests.conftest import SAMPLES

R = "{urn:rabt:canonical:v1}"
ARRIVAL = SAMPLES / "police" / "NotifyArrival.xml"


def rabt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", "map", *map(str, args)], capture_output=True, timeout=60,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The refusal: exit 1, nothing on stdout, exactly one line on stderr."""
    assert result.returncode == 1, result.stderr
    assert result.stdout == b""
    text = result.stderr.decode()
    assert text.startswith("rabt: ") and text.count("\n") == 1, text
    return text


def documents(stdout: bytes) -> list[etree._Element]:
    """Split ``rabt map`` output into its documents (several are each under an item comment)."""
    return [etree.fromstring(part) for part in re.split(rb"(?m)^<!-- item .* -->\n", stdout) if part.strip()]


@pytest.fixture(scope="module")
def sif(tmp_path_factory) -> Path:
    """A salary file written by the central-bank simulator (layout A, 11 employees)."""
    population = Population(PopulationSpec.scaled(3000))
    written = render_employer_file(population, population.employer(1), 2026, 2, SifFaults(), "A")
    path = tmp_path_factory.mktemp("sif") / written.name
    path.write_bytes(written.data)
    return path


@pytest.fixture(scope="module")
def court_batch(tmp_path_factory) -> Path:
    """The courts simulator's first batch of 2024-03-12 holding three case updates."""
    folder = tmp_path_factory.mktemp("courts")
    write_batches(Population(PopulationSpec.scaled(1_000_000)), date(2024, 3, 12), folder, per_file=3)
    return next(path for path in sorted(folder.glob("LCB_*.xml"))
                if etree.parse(str(path)).getroot().get("RecordCount") == "3")


def test_agency_sample_is_printed_as_valid_canonical_identical_to_the_mapping_in_process():
    result = rabt("police", "WorkerArrival", ARRIVAL, "--validate")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == "valid: WorkerArrival (canonical schema, urn:rabt:canonical:v1)\n"
    (printed,) = documents(result.stdout)
    canonical.validate(printed)
    assert printed.findtext(f"{R}Passport/{R}Number") == "T4827361"
    assert printed.findtext(f"{R}ArrivedAt") == "2024-05-12T03:41:07Z"  # 07:41 Muscat time, in UTC


def test_a_soap_envelope_from_the_wire_is_unwrapped_to_its_body(tmp_path):
    wire = tmp_path / "request.xml"
    wire.write_bytes(envelope(etree.parse(str(ARRIVAL)).getroot()))
    from_wire, plain = rabt("police", "WorkerArrival", wire), rabt("police", "WorkerArrival", ARRIVAL)
    assert from_wire.returncode == 0, from_wire.stderr
    assert from_wire.stdout == plain.stdout


def test_output_file_is_written_and_nothing_printed(tmp_path):
    out = tmp_path / "arrival.xml"
    result = rabt("police", "WorkerArrival", ARRIVAL, "-o", out)
    assert result.returncode == 0 and result.stdout == b""
    assert etree.parse(str(out)).getroot().tag == f"{R}WorkerArrival"


def test_salary_file_goes_through_the_adapter_reader_to_one_salary_batch(sif):
    result = rabt("centralbank", "SalaryBatch", sif, "--validate")
    assert result.returncode == 0, result.stderr
    (batch,) = documents(result.stdout)
    canonical.validate(batch)
    assert batch.findtext(f"{R}FileReference") == sif.name
    assert batch.findtext(f"{R}RecordCount") == "11" and len(batch.findall(f"{R}SalaryLine")) == 11


def test_court_batch_gives_one_document_per_case_and_numbered_output_files(court_batch, tmp_path):
    result = rabt("courts", "LabourCaseUpdate", court_batch)
    assert result.returncode == 0, result.stderr
    updates = documents(result.stdout)
    assert len(updates) == 3 and all(u.tag == f"{R}LabourCaseUpdate" for u in updates)
    cases = [update.findtext(f"{R}CaseNumber") for update in updates]
    assert [line for line in result.stdout.decode().splitlines() if line.startswith("<!-- item")] == [
        f"<!-- item {n} of 3: line {update.sourceline}, source id {case}/{update.findtext('{*}StatusCode')}/"
        f"{update.findtext('{*}StatusDate')} -->"
        for n, (update, case) in enumerate(zip(etree.parse(str(court_batch)).getroot().iterfind("{*}CaseUpdate"),
                                               cases), 1)]
    out = tmp_path / "case.xml"
    assert rabt("courts", "LabourCaseUpdate", court_batch, "-o", out).returncode == 0
    written = sorted(tmp_path.glob("case-*.xml"))
    assert [p.name for p in written] == ["case-001.xml", "case-002.xml", "case-003.xml"]
    assert [etree.parse(str(p)).getroot().findtext(f"{R}CaseNumber") for p in written] == cases


def test_unknown_agency_suggests_the_close_name():
    error = one_line_error(rabt("polise", "WorkerArrival", ARRIVAL))
    assert "no adapter named 'polise'; did you mean 'police'?" in error


def test_unknown_type_lists_the_known_ones():
    error = one_line_error(rabt("police", "Arrival", ARRIVAL))
    assert "police has no mapping 'Arrival'" in error and "did you mean 'WorkerArrival'?" in error
    assert "known: AgencyFault, CheckVisaEligibilityResponse," in error and "_police" not in error


@pytest.mark.parametrize("data, reason", [
    (b"<a><b></a>", "bad.xml: line 1: not well-formed: Opening and ending tag mismatch"),
    (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "DOCTYPE is not allowed"),
    (b"", "document is empty"),
])
def test_bad_xml_is_refused_by_the_hardened_parser(tmp_path, data, reason):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(data)
    assert reason in one_line_error(rabt("police", "WorkerArrival", bad))


def test_mapping_refusal_names_the_mapping_and_its_reason():
    error = one_line_error(rabt("police", "WorkerArrival", SAMPLES / "police" / "NotifyDeparture.xml"))
    assert "police/WorkerArrival: expected bdr:NotifyArrival, got bdr:NotifyDeparture" in error


def test_schema_error_names_the_line_of_the_printed_output(tmp_path):
    india = tmp_path / "india.xml"
    india.write_text(ARRIVAL.read_text(encoding="utf-8").replace(">IND<", ">India<"), encoding="utf-8")
    printed = rabt("police", "WorkerArrival", india)
    assert printed.returncode == 0  # the mapping passes the value through; only the schema refuses it
    line = next(n for n, text in enumerate(printed.stdout.decode().splitlines(), 1) if "India" in text)
    error = one_line_error(rabt("police", "WorkerArrival", india, "--validate"))
    assert f"output of police/WorkerArrival, line {line}: " in error and "SCHEMAV_CVC_PATTERN_VALID" in error


def test_bad_salary_line_is_named_with_its_line(sif, tmp_path):
    lines = sif.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = "X" + lines[4][1:]  # line 5: the second employee's ID type
    broken = tmp_path / sif.name
    broken.write_text("".join(lines), encoding="utf-8")
    error = one_line_error(rabt("centralbank", "SalaryBatch", broken))
    assert error == (f"rabt: {sif.name}: line 5: Employee ID Type 'X' is not C (civil ID), R (resident card) "
                     "or P (passport) "
                     "[agency=centralbank]\n")


def test_outbound_mapping_is_validated_against_the_agency_contract(tmp_path):
    query = SAMPLES / "canonical" / "CivilStatusQuery.xml"
    result = rabt("police", "CivilStatusQuery", query, "--validate", "--param", "now=2026-05-20T08:00:00.000Z")
    assert result.returncode == 0, result.stderr
    assert "(police contract, urn:om:rop:civilregistry:2019)" in result.stderr.decode()
    assert one_line_error(rabt("police", "CivilStatusQuery", query, "--param", "now")).startswith(
        "rabt: --param 'now' is not NAME=VALUE")


@pytest.mark.parametrize("agency, message_type, name, reason", [
    ("centralbank", "SalaryBatch", "SIF_1000001_BMCT_20260305_002.csv", "line 1: header labels are not a known SIF layout"),
    ("courts", "LabourCaseUpdate", "LCB_muscat-primary_20240312_001.xml", "line 1: not well-formed"),
    ("police", "WorkerArrival", "binary.xml", "line 1: not well-formed"),
])
def test_a_binary_file_is_one_clear_line_through_reader_or_parser(tmp_path, agency, message_type, name, reason):
    binary = tmp_path / name
    binary.write_bytes(bytes(range(256)) * 16)
    error = one_line_error(rabt(agency, message_type, binary))
    assert error.startswith(f"rabt: {name}: ") and reason in error and "line 1: line 1" not in error
