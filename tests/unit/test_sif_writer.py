"""SIF files: they parse back with csv, totals agree, both layouts appear, knobs do what they say."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hub.errors import InputError
from simulators.centralbank.app import create_app
from simulators.centralbank.sif import (
    EMPLOYEE_LABELS, HEADER_LABELS, LATE_NOTE, due_date, write_month,
)
from simulators.population import Population, PopulationSpec

NAME = re.compile(r"SIF_(\d{7})_([A-Z]+)_(\d{8})_(\d{3})\.csv")
AMOUNT = re.compile(r"\d+\.\d{3}")


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(PopulationSpec(citizens=300, workers=1200, employers=110, as_of=date(2026, 3, 1)))


def read_sif(path: Path) -> tuple[dict, list[dict], list[list[str]]]:
    """(header, employee rows by label, raw rows) of one file."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    header = dict(zip(rows[0], rows[1], strict=True))
    return header, [dict(zip(rows[2], row)) for row in rows[3:]], rows


def month(population, tmp_path, **knobs) -> tuple[object, list[Path]]:
    summary = write_month(population, 2026, 2, tmp_path, **knobs)
    return summary, sorted(tmp_path.iterdir())


def baisas(text: str) -> int:
    assert AMOUNT.fullmatch(text), text
    return int(Decimal(text) * 1000)


def test_files_parse_back_and_their_control_totals_agree(population, tmp_path):
    summary, files = month(population, tmp_path)
    assert summary.files == len(files) > 100
    lines = total = 0
    for path in files:
        assert NAME.fullmatch(path.name), path.name
        header, rows, raw = read_sif(path)
        assert tuple(raw[0]) in HEADER_LABELS.values() and tuple(raw[2]) in EMPLOYEE_LABELS.values()
        assert int(header["Number Of Records"]) == len(rows) >= 1
        assert baisas(header["Total Salaries"]) == sum(baisas(r["Net Salary"]) for r in rows)
        assert (header["Salary Year"], header["Salary Month"], header["Payment Type"]) == ("2026", "02", "Salary")
        assert path.name.startswith(f"SIF_{header['Employer CR-NO']}_{header['Payer Bank Short Name']}_")
        for row in rows:
            net = baisas(row["Basic Salary"]) + baisas(row["Extra Income"]) - baisas(row["Deductions"]) \
                - baisas(row["Social Security Deductions"])
            assert baisas(row["Net Salary"]) == net
            assert row["Employee ID Type"] in ("C", "R") and row["Notes / Comments"] == ""
        lines += len(rows)
        total += baisas(header["Total Salaries"])
    assert (summary.lines, summary.total) == (lines, Decimal(total).scaleb(-3))
    assert not list(tmp_path.glob("*.tmp"))


def test_everybody_employed_is_paid_exactly_once(population, tmp_path):
    _, files = month(population, tmp_path)
    paid = paid_ids(files)
    workers = {w.civil_number for w in population.workers()}
    citizens = {c.civil_number for c in population.citizens() if c.employer_cr and c.employment_active}
    assert set(paid) == workers | citizens
    assert set(paid.values()) == {1}


def paid_ids(files) -> Counter:
    """How many times each Employee ID is paid across the files."""
    return Counter(row["Employee ID"] for path in files for row in read_sif(path)[1])


def test_rows_match_the_population(population, tmp_path):
    _, files = month(population, tmp_path)
    header, rows, _ = read_sif(files[0])
    employer = population.employer_by_cr(header["Employer CR-NO"])
    payer = header.get("Payer IBAN") or header["Payer Account Number"]
    assert employer.iban.endswith(payer)
    for row in rows:
        person = (population.worker_by_civil_number if row["Employee ID Type"] == "R"
                  else population.citizen_by_civil_number)(row["Employee ID"])
        assert person.employer_cr == employer.cr_number
        assert row["Employee Account"] == person.iban
        assert Decimal(row["Basic Salary"]) == person.monthly_wage
        assert row["Employee Name"] == person.name.en.upper()


def test_both_layouts_appear_in_a_mixed_month(population, tmp_path):
    summary, files = month(population, tmp_path)
    layouts = {tuple(read_sif(path)[2][0]) for path in files}
    employee_labels = {tuple(read_sif(path)[2][2]) for path in files}
    assert layouts == set(HEADER_LABELS.values())
    assert employee_labels == set(EMPLOYEE_LABELS.values())
    assert "Reference Number" not in EMPLOYEE_LABELS["B"] and "Payer IBAN" in HEADER_LABELS["B"]
    assert summary.variants["A"] > 0 and summary.variants["B"] > 0


@pytest.mark.parametrize("variant", ["A", "B"])
def test_a_forced_variant_is_used_everywhere(population, tmp_path, variant):
    _, files = month(population, tmp_path, variant=variant, employers=range(20))
    assert {tuple(read_sif(path)[2][0]) for path in files} == {HEADER_LABELS[variant]}


def test_same_month_same_bytes(population, tmp_path):
    def digest(folder):
        return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(folder.iterdir()))).hexdigest()
    write_month(population, 2026, 2, tmp_path / "one", late_ratio=0.2, missing_ratio=0.1)
    write_month(population, 2026, 2, tmp_path / "two", late_ratio=0.2, missing_ratio=0.1)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


def test_on_time_files_are_dated_before_the_due_date(population, tmp_path):
    _, files = month(population, tmp_path)
    due = due_date(2026, 2)
    assert due == date(2026, 3, 7)
    for path in files:
        created = date.fromisoformat(re.sub(r"(\d{4})(\d{2})(\d{2})", r"\1-\2-\3", NAME.fullmatch(path.name)[3]))
        assert date(2026, 2, 25) <= created <= due


def test_late_ratio_makes_that_share_of_files_late_with_a_note(population, tmp_path):
    summary, files = month(population, tmp_path, late_ratio=0.3)
    late = 0
    for path in files:
        created = NAME.fullmatch(path.name)[3]
        paid_on = date(int(created[:4]), int(created[4:6]), int(created[6:]))
        notes = {row["Notes / Comments"] for row in read_sif(path)[1]}
        if paid_on > due_date(2026, 2):
            late += 1
            assert notes == {LATE_NOTE.format(paid_on)}
        else:
            assert notes == {""}
    assert late == summary.late_files
    assert 0.18 < late / len(files) < 0.42


def test_missing_ratio_leaves_that_share_of_employees_out(population, tmp_path):
    summary, files = month(population, tmp_path, missing_ratio=0.2)
    employed = len(list(population.workers())) + sum(
        1 for c in population.citizens() if c.employer_cr and c.employment_active)
    paid = paid_ids(files)
    assert sum(paid.values()) == summary.lines == employed - summary.missing_lines
    assert 0.15 < summary.missing_lines / employed < 0.25
    for path in files:  # the files stay internally consistent
        header, rows, _ = read_sif(path)
        assert int(header["Number Of Records"]) == len(rows)


def test_broken_total_knob_breaks_every_total(population, tmp_path):
    summary, files = month(population, tmp_path, broken_total_ratio=1.0, employers=range(30))
    assert summary.broken_total_files == len(files)
    for path in files:
        header, rows, _ = read_sif(path)
        assert baisas(header["Total Salaries"]) > sum(baisas(r["Net Salary"]) for r in rows)
        assert int(header["Number Of Records"]) == len(rows)


def test_truncated_files_are_cut_inside_the_last_row(population, tmp_path):
    summary = write_month(population, 2026, 2, tmp_path / "cut", truncated_ratio=1.0, employers=range(30))
    write_month(population, 2026, 2, tmp_path / "whole", employers=range(30))
    assert summary.truncated_files == summary.files == 30
    for path in sorted((tmp_path / "cut").iterdir()):
        cut, whole = path.read_bytes(), (tmp_path / "whole" / path.name).read_bytes()
        last_row_start = whole.rstrip(b"\r\n").rfind(b"\r\n") + 2
        assert whole.startswith(cut) and last_row_start < len(cut) < len(whole) - 2
        header, rows, raw = read_sif(path)
        assert len(rows) == int(header["Number Of Records"])  # the last one is incomplete


@pytest.mark.parametrize("knobs", [{"late_ratio": 1.5}, {"missing_ratio": -0.1}, {"variant": "C"},
                                   {"truncated_ratio": "x"}, {"broken_total_ratio": True}])
def test_bad_knobs_are_refused(population, tmp_path, knobs):
    with pytest.raises(InputError):
        write_month(population, 2026, 2, tmp_path, **knobs)


def test_bad_month_is_refused(population, tmp_path):
    with pytest.raises(InputError, match="salary month"):
        write_month(population, 2026, 13, tmp_path)


def test_progress_is_reported_up_to_the_end(population, tmp_path):
    seen = []
    write_month(population, 2026, 2, tmp_path, employers=range(50),
                progress=lambda done, total, summary: seen.append((done, total)))
    assert seen[-1] == (50, 50) and len(seen) >= 10


# -- the Flask app --------------------------------------------------------

@pytest.fixture()
def client(tmp_path, population):
    return create_app({"DROP_DIR": str(tmp_path), "POPULATION": population}).test_client()


def test_app_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_app_writes_a_month_into_the_centralbank_inbox(client, tmp_path):
    response = client.post("/months/2026-02", json={"late_ratio": 1.0, "employers": 5})
    assert response.status_code == 201
    files = sorted((tmp_path / "centralbank" / "inbox").iterdir())
    assert response.json["files"] == len(files) == 5 and response.json["late_files"] == 5
    assert Decimal(response.json["total"]) == sum(Decimal(read_sif(p)[0]["Total Salaries"]) for p in files)


@pytest.mark.parametrize("path, body", [("/months/2026-13", {}), ("/months/26-1", {}),
                                        ("/months/2026-02", {"late_ratio": 2}),
                                        ("/months/2026-02", {"colour": "red"}),
                                        ("/months/2026-02", {"employers": 0}),
                                        ("/months/2026-02", [1, 2])])
def test_app_refuses_bad_requests_with_a_reason(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 400 and response.json["error"]


def test_app_refuses_malformed_json(client):
    response = client.post("/months/2026-02", data=b"{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json["error"]
