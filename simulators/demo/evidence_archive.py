"""Scenario 15: an archive verified offline after its payloads were purged.

What an auditor and an operator do at the end of a retention period, each
step a separate ``rabt`` process as they would run it: archive everything
so far into one signed ZIP, purge the payloads the archive now holds, check
the archive in a process that can reach no database, and check that the
log's own chain still verifies without the purged bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

from hub import lifeline
from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect
from simulators.demo.probes import arrived_worker

#: a database URL nothing listens on: the offline check must not need one
_NOWHERE = "postgresql://nobody@127.0.0.1:1/nothing"
#: the worker whose arrival this scenario sends, so the archive holds a delivered message even when run alone
WORKER = 57


def _rabt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return lifeline.run([sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True,
                        timeout=600)


def _ran(what: str, done: subprocess.CompletedProcess) -> str:
    expect(done.returncode == 0, f"{what} failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout.strip()


def evidence_archive(ctx: DemoContext) -> str:
    """Archive up to now, purge, verify the archive offline and the log's chain online."""
    arrived_worker(ctx, WORKER)  # delivered, so its payloads are purged (a message still queued keeps them)
    env = ctx.stack.environment()
    folder = ctx.home / "evidence"
    folder.mkdir(exist_ok=True)
    until = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    out = folder / f"archive-{until.replace(':', '')}.zip"
    written = _ran("rabt audit archive", _rabt(env, "audit", "archive", "--until", until, "--out", str(out)))
    purged = _ran("rabt audit purge", _rabt(env, "audit", "purge", "--archived", str(out), "--actor", "demo-auditor"))
    offline = {"PATH": os.environ.get("PATH", ""), "RABT_HOME": str(folder / "no-home"), "RABT_DATABASE_URL": _NOWHERE}
    checked = _ran("rabt audit verify-archive (offline)",
                   _rabt(offline, "audit", "verify-archive", str(out), "--cert", str(ctx.settings.pki_dir / "hub.pem")))
    expect(checked.startswith("archive intact"), f"verify-archive said: {checked[:200]}")
    chain = _ran("rabt audit verify", _rabt(env, "audit", "verify"))
    expect(chain.startswith("chain intact"), f"rabt audit verify said: {chain[:200]}")
    archived = [m for m in ctx.log.find(limit=200) if m.archived_in == out.name]
    expect(bool(archived) and all(m.raw is None for m in archived),
           f"no message of the log says it is archived in {out.name}")
    return (f"{written.split(': ', 1)[1].split(', payloads')[0]}; {purged.split(';')[0].removeprefix('purged the ')}; "
            f"verified with no database; the log's chain still intact")
