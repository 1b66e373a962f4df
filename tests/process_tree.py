"""A process's descendants read from ``/proc``, and waiting for them to be gone (the orphan checks)."""

from __future__ import annotations

import time
from pathlib import Path


def _stat(pid: str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first); None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(parent: int) -> dict[int, str]:
    """Every living descendant of ``parent``: pid → its start time (so a reused pid is not mistaken)."""
    found, frontier = {}, [parent]
    while frontier:
        ppid = frontier.pop()
        for entry in Path("/proc").iterdir():
            stat = _stat(entry.name) if entry.name.isdigit() else None
            if stat and int(stat[1]) == ppid and int(entry.name) not in found:
                found[int(entry.name)] = stat[19]
                frontier.append(int(entry.name))
    return found


def alive(pid: int, started: str) -> bool:
    """Whether the process that had ``pid`` and start time ``started`` still runs (a zombie does not)."""
    stat = _stat(str(pid))
    return stat is not None and stat[19] == started and stat[0] != "Z"


def survivors_after(processes: dict[int, str], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for ``processes`` (from :func:`descendants`) to end; those still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid, started) for pid, started in processes.items()):
        time.sleep(0.1)
    return [pid for pid, started in processes.items() if alive(pid, started)]


def command_line(pid: int) -> str:
    """The process's command line, for a failure message ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
