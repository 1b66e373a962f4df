"""``rabt serve --role watcher`` with ``[watcher] processes = 2``: two children claim from one inbox.

The real command on the embedded broker and the SQLite message log. The
month's files for 300 employers are in the inbox before the hub starts, so
both children list the same names and race for every claim (an atomic
rename). Each file must end in ``done/`` once with its receipt, each receipt
must name a message stored once in the log, both children must have written
(each process appends to its own lane of the hash chain, with its pid in
``lanes``), and the chain must verify.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub import lifeline
from hub.messagelog import open_message_log
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(300)]

EMPLOYERS = 300


def _children(pid: int) -> set[int]:
    found = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue  # gone meanwhile
        if f"\nPPid:\t{pid}\n" in status:
            found.add(int(name))
    return found


def test_two_watcher_processes_take_every_file_exactly_once(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}",
           "RABT_WATCHER_PROCESSES": "2", "RABT_WATCHER_BATCH_FILES": "8"}
    subprocess.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "centralbank", "--agency", "licensing"],
                   env=env, check=True, capture_output=True)
    drop = home / "drop" / "centralbank"
    population = Population(PopulationSpec.scaled(11 * EMPLOYERS, seed=7))
    summary = write_month(population, 2026, 2, drop / "inbox", employers=range(EMPLOYERS))
    assert summary.files > 200
    with open(tmp_path / "serve.log", "wb") as log:
        process = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "watcher", "--grace", "5"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        children = _wait_until_done(process, drop, summary.files, tmp_path / "serve.log")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(children) == 2
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a watcher outlived its master"
    csv_files = sorted(name for name in os.listdir(drop / "done") if name.endswith(".csv"))
    assert len(csv_files) == summary.files  # each once: a second filing would be name.1.csv
    receipts = [json.loads((drop / "done" / f"{name}.receipt.json").read_bytes()) for name in csv_files]
    assert {r["status"] for r in receipts} == {"accepted"} and not any(r["duplicate"] for r in receipts)
    receipted = [m["message_id"] for r in receipts for m in r["messages"]]
    assert len(receipted) == len(set(receipted)) == summary.files
    assert os.listdir(drop / "inbox") == os.listdir(drop / "processing") == os.listdir(drop / "failed") == []
    _assert_logged_once_by_both(home / "messages.sqlite3", receipted, children)


def _wait_until_done(process: subprocess.Popen, drop: Path, files: int, log: Path) -> set[int]:
    """The master's children seen while it works, once every file has its receipt in done/."""
    children: set[int] = set()
    deadline = time.monotonic() + 240
    while _receipts(drop) < files:
        assert process.poll() is None, f"rabt serve exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"files still waiting after 240 s: {log.read_text()}"
        children |= _children(process.pid)
        time.sleep(0.2)
    return children | _children(process.pid)


def _receipts(drop: Path) -> int:
    """Receipts in done/ so far (the watchers create the folder when they start)."""
    done = drop / "done"
    return sum(name.endswith(".receipt.json") for name in os.listdir(done)) if done.is_dir() else 0


def _assert_logged_once_by_both(database: Path, receipted: list[str], children: set[int]) -> None:
    with sqlite3.connect(database) as conn:
        logged = [row[0] for row in conn.execute("SELECT message_id FROM messages")]
        sources = conn.execute("SELECT COUNT(DISTINCT source_message_id) FROM messages").fetchone()[0]
        writers = {pid for (pid,) in conn.execute(
            "SELECT DISTINCT lanes.pid FROM audit_chain JOIN lanes ON lanes.lane_id = audit_chain.lane "
            "WHERE audit_chain.kind = 'accepted'")}
    assert sorted(logged) == sorted(receipted) and sources == len(logged)
    assert writers == children  # both children claimed and stored files
    log = open_message_log(f"sqlite:///{database}", create=False)
    try:
        assert log.verify_chain().ok
    finally:
        log.close()
