"""hub.lifeline with real processes: a child ends soon after its parent dies, however the parent died.

A parent (a fresh interpreter) starts ``sleep`` children through :func:`hub.lifeline.popen`, from
its main thread and from a thread that ends at once, and prints their pids; the test then kills
the parent with SIGKILL — no ``finally``, no ``atexit`` — and reads ``/proc`` for the children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from hub import lifeline
from tests.process_tree import alive, descendants, survivors_after

PARENT = """
import sys, threading, time
from hub import lifeline

started = []
helper = threading.Thread(target=lambda: started.append(lifeline.popen(["sleep", "120"])))
helper.start()
helper.join()  # the thread that asked for this child is gone now
started.append(lifeline.popen(["sleep", "121"]))
print(" ".join(str(child.pid) for child in started), flush=True)
time.sleep(120)
"""


def _start_parent() -> tuple[subprocess.Popen, dict[int, str]]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    pids = {int(pid) for pid in parent.stdout.readline().split()}
    children = descendants(parent.pid)
    assert set(children) == pids and len(pids) == 2, (children, pids)
    return parent, children


def test_children_outlive_the_thread_that_started_them_but_not_their_parent():
    parent, children = _start_parent()
    try:
        time.sleep(0.5)  # what would come of the helper thread's end has come
        assert all(alive(pid, started) for pid, started in children.items())
    finally:
        parent.kill()
        parent.wait()
    assert not survivors_after(children, 3)


def test_a_child_whose_parent_died_before_it_was_tied_exits_at_once():
    # pid 1 is never this child's parent here: as if the parent had died between fork and prctl
    tied = [sys.executable, "-c", "from hub import lifeline; lifeline.die_with(1); import time; time.sleep(60)"]
    child = subprocess.run(tied, timeout=30)
    assert child.returncode == 128 + signal.SIGTERM


def test_a_child_started_from_another_thread_is_this_process_s_child():
    box = {}
    worker = threading.Thread(target=lambda: box.update(child=lifeline.popen(["sleep", "30"])))
    worker.start()
    worker.join()
    child = box["child"]
    try:
        assert child.poll() is None and child.pid in descendants(os.getpid())
    finally:
        child.terminate()
    assert child.wait(10) == -signal.SIGTERM  # waited for here, though another thread started it


def test_a_start_that_fails_in_another_thread_raises_in_the_caller():
    failures = []

    def start() -> None:
        try:
            lifeline.popen(["/nonexistent/rabt-binary"])
        except FileNotFoundError as exc:
            failures.append(exc)

    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
    assert len(failures) == 1


def test_run_returns_the_child_s_result_and_tells_it_who_started_it():
    told = "import os; from hub import lifeline; print(os.getppid(), lifeline.parent())"
    done = lifeline.run([sys.executable, "-c", told], capture_output=True, text=True, check=True, env={"A": "1"})
    assert done.stdout.split() == [str(os.getpid())] * 2
