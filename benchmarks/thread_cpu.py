"""CPU time of each thread of some processes, named as Python names them (``serve_cpu.py --threads``).

The kernel keeps each thread's CPU time (``/proc/PID/task/TID/stat``) but
not its Python name (Python before 3.14 sets no native thread names): the names
come from ``py-spy dump`` (``pip install py-spy``; it needs the right to
ptrace the processes), read once after the measured load, so a thread that
ended meanwhile is listed by its number. Threads of one process with the
same name but a number (``waitress-3``, ``waitress-7``) are added up.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from end_to_end_processes import stat_of

_THREAD = re.compile(r"^Thread (\S+) \(.*?\): \"(.*?)\"", re.M)


def py_spy() -> str | None:
    """The py-spy beside this Python, or on the PATH; None when there is none."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def thread_seconds(pids: list[int]) -> dict[tuple[int, int], float]:
    """(pid, tid) → CPU seconds (user + system) so far of every thread of ``pids`` still running."""
    used = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            if (stat := stat_of(Path(f"/proc/{pid}/task/{tid}/stat"))) is not None:
                used[(pid, int(tid))] = stat[1]
    return used


def thread_names(pids: list[int], spy: str) -> dict[tuple[int, int], str]:
    """(pid, tid) → the thread's Python name, numbers at the end left out, from one ``py-spy dump`` each."""
    names = {}
    for pid in pids:
        dump = subprocess.run([spy, "dump", "-p", str(pid)], capture_output=True, text=True, timeout=60).stdout
        for tid, name in _THREAD.findall(dump):
            names[(pid, int(tid, 0))] = re.sub(r"-\d+$", "-N", name)
    return names


def by_thread(before: dict, after: dict, names: dict, labels: dict[int, str]) -> dict[str, float]:
    """``process label: thread name`` → CPU seconds between two :func:`thread_seconds` readings."""
    spent: dict[str, float] = {}
    for (pid, tid), seconds in after.items():
        key = f"{labels.get(pid, pid)}: {names.get((pid, tid), f'thread {tid}')}"
        spent[key] = spent.get(key, 0.0) + seconds - before.get((pid, tid), 0.0)
    return spent
