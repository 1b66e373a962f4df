"""``benchmarks/end_to_end.py --processes 1 2 1 2``: each round's ratio, not only the first run against the last."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from end_to_end_report import rounds, side_by_side  # noqa: E402


def row(processes: int, rate: float, ceiling: float) -> dict:
    return {"processes": processes, "rate": rate, "floor": None, "ratio": None, "hub": 3.0, "licensing": 0.8,
            "client": 0.15, "ceiling": ceiling}


def test_repeated_counts_are_rounds_each_with_its_ratio_and_their_median():
    rows = [row(1, 200, 300), row(2, 300, 390), row(1, 250, 320), row(2, 300, 400), row(1, 100, 150)]
    assert [(a["rate"], b["rate"]) for a, b in rounds(rows)] == [(200, 300), (250, 300)]  # a lone last run is no round
    lines = side_by_side(rows)
    assert "2 processes / 1: 1.50x, 1.20x the rate (median 1.35x of 2 rounds) (goal >= 1.6x for 2 / 1)" in lines
    assert "the most 2 processes could reach here: their ceiling / the rate of 1 = 1.95x, 1.60x" in lines


def test_one_round_is_reported_as_before():
    lines = side_by_side([row(1, 200, 300), row(2, 320, 400)])
    assert lines[-2] == "2 processes / 1: 1.60x the rate (goal >= 1.6x for 2 / 1)"
    assert lines[-1] == "the most 2 processes could reach here: their ceiling / the rate of 1 = 2.00x"
    assert len(lines) == 5  # the header, two runs, the two lines above


def test_runs_without_a_process_count_have_no_ratio():
    assert len(side_by_side([row(None, 200, 300)])) == 2
