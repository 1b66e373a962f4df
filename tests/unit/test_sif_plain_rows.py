"""A held SIF without quotes is split by ``str.split`` (``plain_rows``): it must read as the CSV reader reads it.

Two comparisons: ``plain_rows`` against ``csv.reader`` on texts made of the
characters the CSV reader treats specially, and the whole reader on the
watcher's road (bytes in memory) against the road from disk, which reads
every file through the CSV reader line by line, on generated wage files of
both layouts with the simulator's faults and cells a payroll export or a
hostile sender writes.
"""

from __future__ import annotations

import csv
import io
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from adapters.centralbank.sif import read_sif, read_sif_content
from adapters.centralbank.sif_lines import plain_rows
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.population import Population, PopulationSpec

POPULATION = Population(PopulationSpec.scaled(2000, seed=19))
#: cells that change how a line splits or reads: quotes, line ends, separators of other kinds, markup
ODD_CELLS = ["", " ", '"', '""', '"a,b"', ",", "\r", "\n", "\r\n", "\r\r\n", "\x00", "\x1f", "\u2028", "\x85",
             "\ufeff", "A&B <C>", "١٢٣٫٥", "45.75", "0", " 12 ", "\x07", "x" * 131_073]


def csv_rows(text: str) -> tuple[list[list[str]], int] | None:
    """What the CSV reader makes of ``text`` as the reader sets it up: (rows, lines read), None on csv.Error."""
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    try:
        return list(reader), reader.line_num
    except csv.Error:
        return None


@given(st.text(alphabet=[",", '"', "\r", "\n", " ", "a", "\x00", "\u2028", "\x85", "\x1f"], max_size=40))
@example("")
@example("\n")
@example("\r\n")
@example("a,b\r\n\r\n,\n")
@example("a,b")
@example("a,b\r")
@example("a\rb\n")
@example("a,b\r\r\n")
@example("a,\n\n\n")
def test_plain_rows_are_the_csv_readers_rows(text):
    split = plain_rows(text)
    if split is not None:
        assert csv_rows(text) == (split, len(split))


def test_a_field_beyond_the_csv_field_limit_is_left_to_the_csv_reader():
    limit = csv.field_size_limit()
    assert plain_rows("a," + "x" * limit + "\n") is None and csv_rows("a," + "x" * (limit + 1) + "\n") is None
    assert plain_rows("a," + "x" * (limit - 3)) == [["a", "x" * (limit - 3)]]


def generated_files() -> list[tuple[str, bytes]]:
    """Wage files of both layouts, sound and faulty, and each with cells replaced by odd ones."""
    rng = random.Random(2026)
    faults = SifFaults(late_ratio=0.3, missing_ratio=0.1, broken_total_ratio=0.3, truncated_ratio=0.3)
    files = []
    for index in range(POPULATION.spec.employers):
        variant = ("A", "B", "mixed")[index % 3]
        written = render_employer_file(POPULATION, POPULATION.employer(index), 2026, 2, faults, variant)
        if written is None:
            continue
        files.append((written.name, written.data))
        files.append((written.name, mutated(rng, written.data)))
    return files


def mutated(rng: random.Random, data: bytes) -> bytes:
    """``data`` with one to three cells (any row, labels too) replaced by odd cells, line ends kept."""
    lines = data.decode("utf-8").split("\r\n")
    for _ in range(rng.randint(1, 3)):
        row = rng.randrange(len(lines))
        cells = lines[row].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(ODD_CELLS)
        lines[row] = ",".join(cells)
    return "\r\n".join(lines).encode("utf-8")


FILES = generated_files()


def test_the_generated_files_hold_each_kind_of_case():
    errors = [item.error for name, data in FILES for item in read_sif_content(name, data)]
    assert len(FILES) > 200 and None in errors
    assert any(error and "truncated" in error for error in errors)
    assert any(error and "not valid CSV" in error for error in errors)
    assert any(error and "Total Salaries" in error for error in errors)
    assert sum(plain_rows(data.decode("utf-8")) is None for _, data in FILES) > 10


@pytest.mark.parametrize("chunk", range(4))
def test_held_files_read_as_from_disk(tmp_path, chunk):
    for name, data in FILES[chunk::4]:
        path = tmp_path / name
        path.write_bytes(data)
        from_disk, from_memory = list(read_sif(path)), list(read_sif_content(name, data))
        assert [(i.line, i.error, i.source_id) for i in from_memory] == [
            (i.line, i.error, i.source_id) for i in from_disk], name
        assert [etree.tostring(i.payload) for i in from_memory if i.payload is not None] == [
            etree.tostring(i.payload) for i in from_disk if i.payload is not None], name
