"""Central bank salary files through the real file adapter, pipeline, signing and SQLite log.

Files come from the simulator's own writer (``simulators/centralbank/sif.py``),
in both layouts; faults are injected the way the writer does them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from adapters.centralbank import ADAPTER
from hub.envelope import payload_digest, read_envelope
from hub.filedrop import DropWatcher
from hub.signing import TrustStore, Verifier
from hub.xmlsafe import parse_xml
from simulators.centralbank.sif import SifFaults, render_employer_file, write_month
from simulators.population import Population, PopulationSpec
from tests.integration.drop_helpers import shipped_pipeline

R = "{urn:rabt:canonical:v1}"
POPULATION = Population(PopulationSpec.scaled(3000))


@pytest.fixture
def watcher(root, pipeline) -> DropWatcher:
    return DropWatcher(root, [ADAPTER], pipeline)


def sif(index: int, variant: str, **faults):
    return render_employer_file(POPULATION, POPULATION.employer(index), 2026, 2, SifFaults(**faults), variant)


def drop(root: Path, name: str, data: bytes) -> Path:
    path = root / "centralbank" / "inbox" / name
    path.write_bytes(data)
    return path


def folder(root: Path, name: str) -> list[str]:
    return sorted(os.listdir(root / "centralbank" / name))


@pytest.mark.parametrize("variant", ["A", "B"])
def test_good_file_becomes_one_signed_salary_batch(root, watcher, pipeline, trust_store, variant):
    written = sif(3, variant, late_ratio=1.0)
    drop(root, written.name, written.data)
    [outcome] = watcher.scan_once()
    assert outcome.status == "done", outcome.summary()
    assert folder(root, "done") == [written.name, written.name + ".receipt.json"]
    receipt = json.loads((root / "centralbank/done" / (written.name + ".receipt.json")).read_text())
    assert receipt["counts"] == {"items": 1, "new": 1, "duplicates": 0}
    stored = pipeline.log.get(receipt["messages"][0]["message_id"])
    assert stored.raw == written.data and stored.message_type == "SalaryBatch"
    assert stored.raw_sha256 == payload_digest(written.data)  # the file's digest, taken once as it was read
    header, body = read_envelope(Verifier(trust_store).verify(parse_xml(stored.envelope), expected_signer="hub").element)
    assert header.payload_digest == payload_digest(written.data) and header.destination == "licensing"
    employer = POPULATION.employer(3)
    assert body.findtext(f"{R}EmployerCR") == employer.cr_number
    assert body.findtext(f"{R}PayerIban") == employer.iban  # variant A: rebuilt from the account number
    lines = body.findall(f"{R}SalaryLine")
    assert len(lines) == written.lines == int(body.findtext(f"{R}RecordCount"))
    assert sum(int(line.findtext(f"{R}NetSalary").replace(".", "")) for line in lines) == written.total_baisas
    assert {line.findtext(f"{R}PaymentStatus") for line in lines} == {"late"}
    assert all((line.find(f"{R}ReferenceNumber") is not None) == (variant == "A") for line in lines)


def test_same_file_dropped_again_is_a_duplicate(root, watcher, pipeline):
    written = sif(5, "B")
    drop(root, written.name, written.data)
    first = watcher.scan_once()[0]
    drop(root, written.name.replace("_001.csv", "_002.csv"), written.data)  # resent under a new sequence
    [again] = watcher.scan_once()
    assert again.status == "done" and again.duplicates == 1 and again.items[0].message_id == first.items[0].message_id
    receipt = json.loads((root / "centralbank/done" / (again.name + ".receipt.json")).read_text())
    assert receipt["duplicate"] is True and receipt["counts"]["new"] == 0
    assert len(pipeline.log.unpublished()) == 1


def test_on_time_file_says_so(root, watcher, pipeline):
    written = sif(6, "A")
    drop(root, written.name, written.data)
    outcome = watcher.scan_once()[0]
    body = read_envelope(parse_xml(pipeline.log.get(outcome.items[0].message_id).envelope))[1]
    assert {e.text for e in body.iter(f"{R}PaymentStatus")} == {"on-time"}


def rejected(root: Path, watcher: DropWatcher, name: str, data: bytes) -> tuple[dict, str]:
    drop(root, name, data)
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed"
    report = json.loads((root / "centralbank/failed" / (name + ".report.json")).read_text())
    return report, (root / "centralbank/failed" / (name + ".report.txt")).read_text()


def test_total_that_does_not_add_up_is_rejected_naming_the_line(root, watcher, pipeline):
    written = sif(7, "A", broken_total_ratio=1.0)
    report, text = rejected(root, watcher, written.name, written.data)
    assert report["errors"][0]["line"] == 2 and "Total Salaries is" in report["errors"][0]["reason"]
    assert "line 2: Total Salaries is" in text and "the Net Salary rows add up to" in text
    assert pipeline.log.unpublished() == []


def test_record_count_that_disagrees_is_rejected(root, watcher):
    written = sif(8, "B")
    lines = written.data.split(b"\r\n")
    data = b"\r\n".join(lines[:-2] + [b""])  # one employee row removed, header unchanged
    report, _ = rejected(root, watcher, written.name, data)
    assert any(e["line"] == 2 and f"but the file has {written.lines - 1} employee row(s)" in e["reason"]
               for e in report["errors"])


def test_truncated_file_is_rejected_at_its_last_line(root, watcher):
    written = sif(9, "A", truncated_ratio=1.0)
    report, text = rejected(root, watcher, written.name, written.data)
    last = written.data.count(b"\n") + 1
    assert any(e["line"] == last and "truncated" in e["reason"] for e in report["errors"]), report
    assert f"line {last}:" in text


def test_bad_lines_are_each_named(root, watcher):
    written = sif(10, "A")
    rows = written.data.decode().split("\r\n")
    rows[3] = rows[3].replace(rows[3].split(",")[8], "351.3x", 1)        # not an amount
    rows[4] = ",".join(v if i != 5 else "" for i, v in enumerate(rows[4].split(",")))  # no IBAN
    rows[5] = rows[5] + ",extra column"
    report, text = rejected(root, watcher, written.name, "\r\n".join(rows).encode())
    by_line = {e["line"]: e["reason"] for e in report["errors"]}
    assert "'351.3x' is not an amount in rials (up to 3 decimals)" in by_line[4]
    assert "Employee Account (IBAN) is missing" in by_line[5]
    assert "16 columns, expected 15" in by_line[6]
    assert "line 5: Employee Account (IBAN) is missing" in text


def test_columns_with_a_fixed_form_are_checked_too(root, watcher):
    written = sif(10, "A")
    rows = written.data.decode().split("\r\n")
    labels = rows[2].split(",")

    def set_cell(row: int, label: str, value: str) -> None:
        cells = rows[row].split(",")
        cells[labels.index(label)] = value
        rows[row] = ",".join(cells)

    header = rows[1].split(",")
    header[-1] = "Bonus"
    rows[1] = ",".join(header)
    set_cell(3, "Salary Frequency", "W")
    set_cell(4, "Number Of Working days", "32")
    set_cell(5, "Extra Hours", "1.555")
    set_cell(6, "Reference Number", "REF#1")
    report, _ = rejected(root, watcher, written.name, "\r\n".join(rows).encode())
    assert {(e["line"], e["reason"]) for e in report["errors"]} == {
        (2, "Payment Type 'Bonus' is not Salary"),
        (4, "Salary Frequency 'W' is not M (monthly)"),
        (5, "Number Of Working days '32' is not a whole number from 0 to 31"),
        (6, "Extra Hours '1.555' is not a number of hours (up to 999, at most 2 decimals)"),
        (7, "Reference Number 'REF#1' is not up to 35 letters, digits or - / . _ (starting with a letter or digit)"),
    }


@pytest.mark.parametrize("damage, reason", [
    (lambda row: row.replace(",", ",\r", 1), "a carriage return (CR) inside the line, outside quotes"),
    (lambda row: row + ',"open', "a quoted value is not closed: it runs from this line to the end of the file"),
    (lambda row: row.replace(",", ',"a"b,', 1), 'a quote inside a quoted value must be doubled'),
])
def test_broken_csv_is_named_in_the_bank_s_terms_at_its_line(root, watcher, damage, reason):
    written = sif(10, "A")
    rows = written.data.decode().split("\r\n")
    rows[4] = damage(rows[4])
    report, text = rejected(root, watcher, written.name, "\r\n".join(rows).encode())
    assert [(e["line"], e["reason"].startswith(f"not valid CSV: {reason}")) for e in report["errors"]] == [(5, True)]
    assert "universal-newline" not in text  # Python's hint for programmers is not the bank's business


def test_control_character_in_a_free_text_column_is_named_by_line(root, watcher):
    written = sif(10, "A")
    rows = written.data.decode().split("\r\n")
    cells = rows[4].split(",")
    cells[3] += "\x07"  # Employee Name: no rule of its own, but XML cannot carry U+0007
    rows[4] = ",".join(cells)
    report, _ = rejected(root, watcher, written.name, "\r\n".join(rows).encode())
    assert [(e["line"], "Employee Name" in e["reason"] and "U+0007" in e["reason"]) for e in report["errors"]] \
        == [(5, True)]


def test_markup_characters_in_a_name_reach_the_canonical_message_unchanged(root, watcher, pipeline):
    written = sif(10, "B")
    rows = written.data.decode().split("\r\n")
    cells = rows[3].split(",")
    cells[2] = '"AL <B> & SONS, ""X"""'
    rows[3] = ",".join(cells)
    drop(root, written.name, "\r\n".join(rows).encode())
    [outcome] = watcher.scan_once()
    assert outcome.status == "done", outcome.summary()
    envelope = parse_xml(pipeline.log.get(outcome.items[0].message_id).envelope)
    assert envelope.findtext(f".//{R}SalaryLine/{R}EmployeeName") == 'AL <B> & SONS, "X"'


def test_file_name_must_match_the_header(root, watcher):
    written = sif(11, "B")
    other_cr = POPULATION.employer(12).cr_number
    name = written.name.replace(POPULATION.employer(11).cr_number, other_cr)
    report, _ = rejected(root, watcher, name, written.data)
    assert report["errors"][0]["line"] == 2 and "differs from the CR" in report["errors"][0]["reason"]


def test_binary_and_oversize_files_are_refused(root, watcher):
    report, _ = rejected(root, watcher, "SIF_1000001_BMCT_20260301_001.csv", bytes(range(256)) * 40)
    assert "binary content" in report["reason"]
    big = root / "centralbank" / "inbox" / "SIF_1000002_BMCT_20260301_001.csv"
    with open(big, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)
    read_before = _bytes_read()
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and "209715200 bytes, over the limit" in outcome.reason
    assert _bytes_read() - read_before < 1024 * 1024  # refused by its size: not one of its 200 MB read
    assert (root / "centralbank/failed" / big.name).stat().st_size == 200 * 1024 * 1024
    assert watcher.pipeline.log.unpublished() == []


def _bytes_read() -> int:
    """Bytes this process has read through system calls (all threads, page cache included)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"])


def test_symlink_to_a_file_outside_is_refused(root, watcher, tmp_path):
    written = sif(13, "A")
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(written.data)
    (root / "centralbank" / "inbox" / written.name).symlink_to(outside)
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and "symbolic links are refused" in outcome.reason
    assert outside.read_bytes() == written.data and folder(root, "done") == []


def _watch_in_process(root: str, pki: str, url: str, queue) -> None:
    pipeline = shipped_pipeline(TrustStore.load(Path(pki)), url)
    outcomes = DropWatcher(Path(root), [ADAPTER], pipeline, batch_files=4).scan_once()
    queue.put([(o.name, o.status, o.duplicates) for o in outcomes])


def test_two_watcher_processes_share_one_inbox(root, watcher, pki_dir, db_url, pipeline):
    summary = write_month(POPULATION, 2026, 2, root / "centralbank" / "inbox", employers=range(40))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_watch_in_process, args=(str(root), str(pki_dir), db_url, queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    handled = [entry for result in results for entry in result]
    assert sorted(name for name, _, _ in handled) == sorted(n for n in folder(root, "done") if n.endswith(".csv"))
    assert len(handled) == summary.files and all(status == "done" and dup == 0 for _, status, dup in handled)
    assert len(pipeline.log.unpublished(1000)) == summary.files
    assert folder(root, "inbox") == folder(root, "processing") == []
