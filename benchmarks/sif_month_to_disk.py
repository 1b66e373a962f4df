"""Stream one month of SIF files for a scaled population to a temporary folder.

    python benchmarks/sif_month_to_disk.py                 # 2,000,000 workers (~180,000 files)
    python benchmarks/sif_month_to_disk.py --workers 50000 # quick run

Prints files, salary lines, wall time, lines per second and peak RSS, with
the RSS after 10%, 50% and 100% of the employers to show that memory stays
flat (files are rendered one employer at a time, nothing accumulates).
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from simulators.centralbank.sif import MonthSummary, write_month
from simulators.population import Population, PopulationSpec


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident set size right now (Linux /proc), 0 where unavailable."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--month", default="2026-02", help="YYYY-MM")
    parser.add_argument("--dir", default=None, help="parent of the temporary folder (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the files (path is printed)")
    args = parser.parse_args(argv)
    year, month = (int(part) for part in args.month.split("-"))
    population = Population(PopulationSpec.scaled(args.workers, seed=args.seed))
    folder = Path(tempfile.mkdtemp(prefix="sif-bench-", dir=args.dir))
    checkpoints: dict[int, tuple[float, float]] = {}
    started = time.perf_counter()

    def progress(done: int, total: int, summary: MonthSummary) -> None:
        percent = done * 100 // total
        if percent % 10 == 0 and percent not in checkpoints:
            checkpoints[percent] = (current_rss_mib(), peak_rss_mib())
            elapsed = time.perf_counter() - started
            print(f"{percent:3d}%  {summary.files:,} files  {summary.lines:,} lines  {elapsed:6.1f}s"
                  f"  RSS {checkpoints[percent][0]:.1f} MiB", file=sys.stderr, flush=True)

    try:
        summary = write_month(population, year, month, folder / "centralbank" / "inbox", progress=progress)
        wall = time.perf_counter() - started
        report(args.workers, summary, wall, checkpoints)
        if args.keep:
            print(f"files kept in {folder}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def report(workers: int, summary: MonthSummary, wall: float,
           checkpoints: dict[int, tuple[float, float]]) -> None:
    print(f"population     {workers:,} workers, month {summary.year}-{summary.month:02d}")
    print(f"files          {summary.files:,}  (layout A {summary.variants['A']:,}, B {summary.variants['B']:,})")
    print(f"salary lines   {summary.lines:,}")
    print(f"total salaries {summary.total:,} OMR")
    print(f"wall time      {wall:.1f} s")
    print(f"lines/s        {summary.lines / wall:,.0f}")
    print(f"files/s        {summary.files / wall:,.0f}")
    print("RSS now/peak   " + ", ".join(f"{mark}%: {checkpoints[mark][0]:.1f}/{checkpoints[mark][1]:.1f} MiB"
                                        for mark in (10, 50, 100) if mark in checkpoints))
    print(f"peak RSS       {peak_rss_mib():.1f} MiB (ru_maxrss)")


if __name__ == "__main__":
    sys.exit(main())
