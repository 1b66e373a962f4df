"""The README's first command, ``rabt demo``, as a new user runs it: in an empty folder, no RABT_* set.

The scenario tests start the system in a prepared home; this one checks what they
cannot: that the command makes its own ``./var`` on a first run (a first run once
failed at opening a SQLite message log in a folder that did not exist yet) and that a
second run in the same folder starts clean and keeps the PKI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)


def _rabt_demo(cwd: Path) -> subprocess.CompletedProcess:
    rabt = shutil.which("rabt", path=str(Path(sys.executable).parent))  # this install's, not another on PATH
    assert rabt, "the rabt command is not installed next to this Python"
    env = {name: value for name, value in os.environ.items() if not name.startswith("RABT_")}
    return subprocess.run([rabt, "demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_rabt_demo_in_an_empty_folder_passes_twice_and_keeps_its_pki(tmp_path):
    first = _rabt_demo(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "9 of 9 scenarios passed" in first.stdout
    hub_certificate = tmp_path / "var" / "pki" / "hub.pem"
    assert hub_certificate.is_file(), sorted(p.name for p in (tmp_path / "var" / "pki").iterdir())
    assert (tmp_path / "var" / "messages.sqlite3").is_file()
    made = hub_certificate.read_bytes()

    second = _rabt_demo(tmp_path)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "9 of 9 scenarios passed" in second.stdout
    assert hub_certificate.read_bytes() == made  # the PKI is reused, the run state is new
