"""The README's first command, ``rabt demo``, as a new user runs it: in an empty folder, no RABT_* set.

The scenario tests start the system in a prepared home; this one checks what they
cannot: that the command makes its own ``./var/demo`` on a first run (a first run once
failed at opening a SQLite message log in a folder that did not exist yet), that a
second run in the same folder starts clean and keeps the PKI, that it refuses to
touch a hub's state it did not make (it once deleted a running hub's message log),
and that SIGTERM stops every process it started (it once left four orphans), as does the
demo's own death by SIGKILL, which it cannot see (its processes are tied to it, :mod:`hub.lifeline`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hub import lifeline
from simulators.demo.scenarios import SCENARIOS
from tests.process_tree import command_line, descendants, survivors_after

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(300)]


def _rabt() -> str:
    rabt = shutil.which("rabt", path=str(Path(sys.executable).parent))  # this install's, not another on PATH
    assert rabt, "the rabt command is not installed next to this Python"
    return rabt


def _environment(**extra: str) -> dict[str, str]:
    return {**{name: value for name, value in os.environ.items() if not name.startswith("RABT_")}, **extra}


def _rabt_demo(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([_rabt(), "demo", *args], cwd=cwd, env=_environment(**env), capture_output=True,
                          text=True, timeout=240)


def test_rabt_demo_in_an_empty_folder_passes_twice_and_keeps_its_pki(tmp_path):
    first = _rabt_demo(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert f"{len(SCENARIOS)} of {len(SCENARIOS)} scenarios passed" in first.stdout
    demo_home = tmp_path / "var" / "demo"
    hub_certificate = demo_home / "pki" / "hub.pem"
    assert hub_certificate.is_file(), sorted(p.name for p in (demo_home / "pki").iterdir())
    assert (demo_home / "messages.sqlite3").is_file()
    assert (demo_home / ".rabt-demo").is_file()  # marked as the demo's, so the next run may clean it
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["demo"]  # nothing outside its folder
    made = hub_certificate.read_bytes()

    # one scenario is enough to show the second run starts afresh on the same PKI
    second = _rabt_demo(tmp_path, "--scenario", "1")
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "1 of 1 scenarios passed" in second.stdout
    assert hub_certificate.read_bytes() == made  # the PKI is reused, the run state is new


def test_a_home_holding_a_hubs_message_log_is_refused_and_left_untouched(tmp_path):
    hub_home = tmp_path / "srv-hub"
    hub_home.mkdir()
    for name, content in (("messages.sqlite3", b"a hub's message log"), ("broker.sqlite3", b"its broker")):
        (hub_home / name).write_bytes(content)

    refused = _rabt_demo(tmp_path, RABT_HOME=str(hub_home))

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "unset RABT_HOME" in refused.stderr, refused.stderr
    assert sorted(p.name for p in hub_home.iterdir()) == ["broker.sqlite3", "messages.sqlite3"]
    assert (hub_home / "messages.sqlite3").read_bytes() == b"a hub's message log"


def test_a_demo_folder_with_files_the_demo_did_not_make_is_refused(tmp_path):
    someone_elses = tmp_path / "var" / "demo"
    someone_elses.mkdir(parents=True)
    (someone_elses / "messages.sqlite3").write_bytes(b"not the demo's")

    refused = _rabt_demo(tmp_path)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "did not make" in refused.stderr, refused.stderr
    assert (someone_elses / "messages.sqlite3").read_bytes() == b"not the demo's"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_process_the_demo_started(tmp_path, signum):
    demo = lifeline.popen([_rabt(), "demo", "--workers", "200"], cwd=tmp_path, env=_environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in demo.stdout:  # "  up in …s: gateway …" once simulators, hub and licensing all answer
            if line.startswith("  up in"):
                break
        else:
            pytest.fail(f"the demo did not start: {demo.stderr.read()[-2000:]}")
        children = descendants(demo.pid)
        assert len(children) >= 4, children  # simulators, hub, licensing web app and consumer

        demo.send_signal(signum)
        assert demo.wait(timeout=60) == 128 + signum
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert "every process it started has been stopped" in demo.stderr.read()
    survivors = survivors_after(children, 10)
    assert not survivors, f"processes left running after {signum.name}: {survivors}"


def test_a_demo_killed_outright_leaves_no_process_running(tmp_path):
    demo = lifeline.popen([_rabt(), "demo", "--workers", "200"], cwd=tmp_path, env=_environment(),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert any(line.startswith("  up in") for line in demo.stdout), "the demo did not start"
        processes = descendants(demo.pid)
        assert len(processes) >= 4, processes  # simulators, hub (and its children), licensing web app and consumer
    finally:
        demo.kill()  # no finally of the demo's runs: only the kernel can stop its processes
        demo.wait()
    survivors = survivors_after(processes, 15)
    assert not survivors, f"left running after the demo was killed: {[command_line(p) for p in survivors]}"
