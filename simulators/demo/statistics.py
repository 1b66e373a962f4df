"""Scenario 13: licensing's scheduled open-data statistics, run once: signed by the hub, small counts withheld."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hub import lifeline
from hub.signing import TrustStore, Verifier
from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect
from simulators.licensing.publication import verify_publication


def open_statistics(ctx: DemoContext) -> str:
    """Licensing's scheduled statistics job, run once: signed by the hub, small counts withheld."""
    job = lifeline.run([sys.executable, "-m", "simulators.licensing", "statistics", "--out",
                        str(ctx.home / "open-data")], env=ctx.stack.environment(), capture_output=True,
                       text=True, timeout=60)
    expect(job.returncode == 0, f"the statistics job failed: {job.stderr.strip()[-300:]}")
    folder = Path(job.stdout.strip().rpartition(" in ")[2])
    files = verify_publication(folder, Verifier(TrustStore.load(ctx.settings.pki_dir)))
    tables = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))["tables"]
    counts = [(r[k.removesuffix("_suppressed")], v) for rows in tables.values() for r in rows
              for k, v in r.items() if k.endswith("_suppressed")]
    small = [value for value, _ in counts if value is not None and 0 < value < 10]
    expect(not small, f"small counts were published: {small}")
    withheld = sum(1 for _, reason in counts if reason)
    wage_months = [r["pay_month"] for r in tables["wage_protection_by_month"]]
    return (f"{len(files)} files under a manifest the hub signed ({folder.name}); "
            f"{len(counts)} counts, {withheld} withheld; wage months {', '.join(wage_months) or 'none yet'}")
