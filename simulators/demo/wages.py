"""Scenario 6: the central bank drops a month of wage files; licensing flags the late payers."""

from __future__ import annotations

from datetime import date, timedelta

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import licensing_events


def wage_files(ctx: DemoContext) -> str:
    from simulators.centralbank.sif import write_month

    inbox = ctx.home / "drop" / "centralbank" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    month = date.today().replace(day=1) - timedelta(days=1)
    summary = write_month(ctx.population, month.year, month.month, inbox, late_ratio=0.1,
                          employers=range(min(ctx.wage_employers, ctx.population.spec.employers)))
    done = ctx.home / "drop" / "centralbank" / "done"
    wait_for(f"{summary.files} wage files to be processed",
             lambda: len(list(done.glob("SIF_*.csv"))) >= summary.files, timeout=120)
    batches = wait_for("licensing to apply every SalaryBatch",
                       lambda: (lambda e: e if len(e) >= summary.files else None)(licensing_events(ctx, "SalaryBatch")),
                       timeout=120)
    late = sum(1 for e in batches if e["summary"].get("late_lines"))
    expect(late > 0, "no late payer was flagged")
    return f"{summary.files} files, {summary.lines} salary lines; {late} late payers flagged"
