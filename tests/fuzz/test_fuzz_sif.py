"""Mutated central bank salary files (SIF) through the real drop watcher, pipeline and log.

Valid files come from the simulator's writer (``simulators/centralbank/sif.py``)
in both layouts; each example changes cells, rows, the encoding or the raw
bytes, drops the file into a fresh drop folder and scans it. The checks are in
:class:`fuzz_support.DropProbe`: a receipt for messages the log holds, or a
rejection report naming the problem, recorded and counted, with nothing
published.
"""

from __future__ import annotations

import csv
import io
from functools import cache

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from adapters.centralbank import ADAPTER
from fuzz_mutations import HOSTILE_FRAGMENTS, apply_byte_edits, byte_edits
from fuzz_support import DropProbe
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.population import Population, PopulationSpec

POPULATION = Population(PopulationSpec.scaled(3000))
#: small employers (5 and 6 employees), written in both layouts
BASES = [(4, "A"), (4, "B"), (5, "A"), (5, "B")]
#: what payroll exports and hostile senders put in a cell
ODD_CELLS = ["", " ", "0", "-0.000", "-1", "1e3", "NaN", "Infinity", "0x10", "1_000", " 12 ", "12.", ".5", "+5",
             "١٢٣٫٥", "9" * 400, "2026-02-30", "13", "00", "M ", "m", "C", "X", '"', '""', ",", "\r", "\n", "\r\n",
             "=HYPERLINK(\"http://x\")", "@SUM(A1)", "\u202eRTL", "\ufeff", "\x00", "\x07", "A" * 70_000,
             "OM" + "1" * 21, "OM00" + "0" * 19, "BMUSOMRX", "Salary", "Bonus", "R", "C "]


@cache
def base(index: int, variant: str):
    return render_employer_file(POPULATION, POPULATION.employer(index), 2026, 2, SifFaults(), variant)


def cells():
    return st.one_of(st.sampled_from(ODD_CELLS), st.text(max_size=20),
                     st.decimals(allow_nan=False, places=3).map(str), st.integers().map(str),
                     st.sampled_from(HOSTILE_FRAGMENTS).map(lambda b: b.decode("utf-8", "replace")))


def row_edits():
    at = st.integers(0, 100)
    return st.lists(st.one_of(
        st.tuples(st.just("cell"), at, at, cells()),
        st.tuples(st.just("drop_row"), at, st.just(0), st.just("")),
        st.tuples(st.just("repeat_row"), at, st.just(0), st.just("")),
        st.tuples(st.just("swap_rows"), at, st.just(0), st.just("")),
        st.tuples(st.just("drop_cell"), at, at, st.just("")),
        st.tuples(st.just("add_cell"), at, at, cells()),
        st.tuples(st.just("blank_row"), at, st.just(0), st.just("")),
    ), min_size=1, max_size=4)


def apply_row_edits(data: bytes, edits) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    for kind, row, column, value in edits:
        r = row % len(rows)
        cells_ = rows[r]
        c = column % (len(cells_) or 1)
        if kind == "cell" and cells_:
            cells_[c] = value
        elif kind == "drop_row" and len(rows) > 1:
            del rows[r]
        elif kind == "repeat_row":
            rows.insert(r, list(cells_))
        elif kind == "swap_rows" and r + 1 < len(rows):
            rows[r], rows[r + 1] = rows[r + 1], rows[r]
        elif kind == "drop_cell" and cells_:
            del cells_[c]
        elif kind == "add_cell":
            cells_.insert(c, value)
        elif kind == "blank_row":
            rows.insert(r, [])
    return rows


#: how a payroll export may write the rows: (line end, codec, byte order mark)
WRITINGS = [("\r\n", "utf-8", b""), ("\n", "utf-8", b""), ("\r", "utf-8", b""), ("\r\n", "utf-8", b"\xef\xbb\xbf"),
            ("\r\n", "utf-16-le", b"\xff\xfe"), ("\r\n", "utf-16-be", b"\xfe\xff"), ("\r\n", "cp1256", b""),
            ("\r\n", "latin-1", b"")]


def written(rows: list[list[str]], writing) -> bytes:
    line_end, codec, bom = writing
    out = io.StringIO()
    csv.writer(out, lineterminator=line_end).writerows(rows)
    return bom + out.getvalue().encode(codec, "replace")


@pytest.fixture(scope="module")
def drops(hub, tmp_path_factory) -> DropProbe:
    return DropProbe(hub, ADAPTER, tmp_path_factory.mktemp("sif-drops"))


def test_the_unmutated_files_are_accepted(drops):
    for index, variant in BASES:
        assert drops.drop(base(index, variant).name, base(index, variant).data) == "done"


@given(which=st.sampled_from(BASES), edits=row_edits(), writing=st.sampled_from(WRITINGS))
@example(which=(4, "A"), edits=[("cell", 3, 3, "=HYPERLINK(\"http://x\")")], writing=WRITINGS[4])
@example(which=(4, "B"), edits=[("cell", 1, 6, "\u0661\u0662\u0663")], writing=WRITINGS[6])  # Arabic-Indic total
@example(which=(5, "A"), edits=[("blank_row", 4, 0, "")], writing=WRITINGS[1])
@example(which=(5, "A"), edits=[("cell", 4, 8, "9" * 400)], writing=WRITINGS[0])
def test_field_mutations(drops, which, edits, writing):
    sif = base(*which)
    drops.drop(sif.name, written(apply_row_edits(sif.data, edits), writing))


@given(which=st.sampled_from(BASES), edits=byte_edits())
def test_byte_mutations(drops, which, edits):
    sif = base(*which)
    drops.drop(sif.name, apply_byte_edits(sif.data, edits))


def names():
    """File names a drop folder can hold (no slash or NUL, at most 255 bytes), mostly near the real form."""
    text = st.text(st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]), max_size=130)
    near = st.tuples(st.sampled_from(["SIF_", "SIF_1000004_BDOF_", "sif_", ""]), text,
                     st.sampled_from([".csv", "_001.csv", ".CSV", ".csv.tmp", ""]))
    return st.one_of(near.map("".join), text).filter(lambda n: n not in ("", ".", "..") and len(n.encode()) <= 255)


@given(name=names(), which=st.sampled_from(BASES))
@example(name="SIF_" + "\u0628" * 120 + ".csv", which=(4, "A"))  # under 255 bytes, over the hub's name limit
@example(name="SIF_1000004_BDOF_20260307_001.csv\u202e", which=(4, "A"))  # a bidi control at the end
def test_name_mutations(drops, name, which):
    drops.drop(name, base(*which).data)


def test_the_log_still_chains_after_the_fuzz(hub):
    report = hub.log.verify_chain(raise_on_error=False)
    assert report.ok, report.reason
    assert report.records > 2 * 150 * 0.5
