"""A parent killed outright (SIGKILL: no ``finally``, no ``atexit``) leaves no process of its own running.

Two real parents: a ``rabt serve`` master with two gateway and two watcher processes, and
a script running the end-to-end stack the scenario tests, ``rabt demo`` and the benchmarks
start (:class:`simulators.demo.stack.Stack`: simulators, ``rabt serve`` with its children,
the licensing web app and consumer). Each is killed once everything answers; every
descendant read from ``/proc`` before must be gone within seconds (:mod:`hub.lifeline`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hub import lifeline
from simulators.demo.ports import free_port
from tests.process_tree import command_line, descendants, survivors_after

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(180)]

#: a master's children drain on SIGTERM (``--grace``), idle ones at once
SECONDS_TO_BE_GONE = 8

STACK_STARTER = """
import sys, time
from pathlib import Path
from simulators.demo.stack import Stack

Stack(Path(sys.argv[1]), sys.argv[2], workers=200).start()
print("up", flush=True)
time.sleep(600)
"""


def _kill_and_list_survivors(parent: subprocess.Popen, processes: dict[int, str]) -> list[str]:
    parent.kill()
    parent.wait()
    started = time.monotonic()
    survivors = survivors_after(processes, SECONDS_TO_BE_GONE)
    print(f"{len(processes)} processes gone {time.monotonic() - started:.2f}s after their parent was killed")
    return [f"{pid}: {command_line(pid)}" for pid in survivors]


def _wait_for_serve(process: subprocess.Popen, url: str, children: int, log: Path) -> dict[int, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        found = descendants(process.pid)
        try:
            if len(found) == children and requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return found
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"rabt serve did not start {children} children: {log.read_text()}")


def test_a_killed_serve_master_leaves_no_gateway_or_watcher_process(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}",
           "RABT_WATCHER_PROCESSES": "2"}
    subprocess.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "centralbank", "--agency", "licensing"],
                   env=env, check=True, capture_output=True, timeout=60)
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        master = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--role", "watcher",
                                 "--processes", "2", "--gateway-port", str(port), "--grace", "5"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        children = _wait_for_serve(master, f"http://127.0.0.1:{port}", 4, log)
    finally:
        survivors = _kill_and_list_survivors(master, descendants(master.pid))
    assert len(children) == 4
    assert not survivors, f"left running after the master was killed: {survivors}"


def test_a_killed_stack_starter_leaves_no_process_of_the_stack(tmp_path):
    home = tmp_path / "home"
    starter = lifeline.popen([sys.executable, "-c", STACK_STARTER, str(home), f"sqlite:///{home / 'broker.sqlite3'}"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert starter.stdout.readline().strip() == "up", "the stack did not start (see its logs)"
        commands = " | ".join(command_line(pid) for pid in descendants(starter.pid))
    finally:
        survivors = _kill_and_list_survivors(starter, descendants(starter.pid))
    for each in ("hub simulate", "hub serve", "simulators.licensing serve", "simulators.licensing consume"):
        assert each in commands, commands
    assert not survivors, f"left running after the stack's starter was killed: {survivors}"
