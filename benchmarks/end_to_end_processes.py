"""Where the CPU of a throughput run went, process by process, and what the log's database waited on.

``end_to_end.py`` divides each stack process tree's CPU by the messages; with
several gateway processes that hides which process spent it (the master's
relay, or the gateway children) and whether a process could have run more
at all. This module reads, from Linux ``/proc``:

* each process of the stack (the hub's master, every gateway and watcher
  child, licensing's consumer …): CPU seconds (its own, without children),
  and the seconds its threads were runnable but waiting for a core
  (``schedstat``'s run-queue delay): a process that waited as long as it ran
  was starved by the machine, not slowed by its own code;
* the whole machine (``/proc/stat``): how busy both cores were, and how much
  of that was not the stack nor the benchmark (other jobs on a shared machine);

and, when the message log is on PostgreSQL, ``pg_stat_database`` (commits and
rollbacks per message: fewer, larger group commits cost less per message) and
a sample of ``pg_stat_activity`` every 0.1 s (backends waiting on a lock,
idle inside a transaction).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

#: backends report their commits to pg_stat_database at most once a second (PostgreSQL 15+)
STATS_FLUSH_SECONDS = 1.1
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcessUse:
    """One process's own CPU seconds, run-queue wait and context switches (its live threads') so far."""

    label: str
    cpu: float
    waited: float = 0.0
    switches: int = 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None  # gone while we looked


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, own CPU seconds) of ``pid``."""
    return stat_of(Path(f"/proc/{pid}/stat"))


def stat_of(path: Path) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system) from a process's or a thread's ``stat`` file; None when it is gone."""
    text = _read(path)
    if text is None:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def waited_of(path: Path) -> float:
    """Seconds a process or thread was runnable but not running, from its ``schedstat`` file; 0 when it is gone."""
    text = _read(path)
    return int(text.split()[1]) / 1e9 if text else 0.0


def _threads(pid: int) -> tuple[float, int]:
    """Of the threads of ``pid`` now alive: seconds runnable but not running (schedstat), context switches."""
    waited, switches = 0.0, 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        waited += waited_of(task / "schedstat")
        for line in (_read(task / "status") or "").splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                switches += int(line.split()[1])
    return waited, switches


def _use(label: str, pid: int, cpu: float) -> ProcessUse:
    return ProcessUse(label, cpu, *_threads(pid))


def _label(name: str, pid: int, root: int) -> str:
    if pid == root:
        return f"{name} (master)" if name == "hub" else name
    command = (_read(Path(f"/proc/{pid}/cmdline")) or "").split("\0")
    if "--listen-fd" in command:
        return f"{name} gateway pid {pid}"
    if "--watcher-child" in command:
        return f"{name} watcher pid {pid}"
    return f"{name} child pid {pid}"


def process_use(roots: dict[str, int], database: str = "") -> dict[int, ProcessUse]:
    """Every process of the named trees, this one (``benchmark``) and the PostgreSQL backends of ``database``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in parents.items():
        children.setdefault(parent, []).append(pid)
    used = {os.getpid(): _use("benchmark (client)", os.getpid(), parents[os.getpid()][1])}
    for name, root in roots.items():
        todo = [root] if root in parents else []
        while todo:
            pid = todo.pop()
            used[pid] = _use(_label(name, pid, root), pid, parents[pid][1])
            todo.extend(children.get(pid, ()))
    if database:
        for pid, (_, cpu) in parents.items():
            command = _read(Path(f"/proc/{pid}/cmdline")) or ""
            if command.startswith("postgres: ") and f" {database} " in command:
                used[pid] = _use("PostgreSQL backends of the log", pid, cpu)
    return used


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, from ``/proc/stat``."""
    fields = [int(v) for v in (_read(Path("/proc/stat")) or "cpu 0 0 0 0").splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS, sum(fields[:8]) / _TICKS


@dataclass
class Snapshot:
    processes: dict[int, ProcessUse]
    machine: tuple[float, float]


def snapshot(roots: dict[str, int], database: str = "") -> Snapshot:
    return Snapshot(process_use(roots, database), machine_busy())


def _rows(before: Snapshot, after: Snapshot) -> dict[str, list[float]]:
    """label → [CPU s, run-queue s, context switches] between two snapshots (PostgreSQL's backends added up)."""
    rows: dict[str, list[float]] = {}
    for pid, now in after.processes.items():
        was = before.processes.get(pid, ProcessUse(now.label, 0.0))
        row = rows.setdefault(now.label, [0.0, 0.0, 0])
        row[0] += now.cpu - was.cpu
        row[1] += now.waited - was.waited
        row[2] += now.switches - was.switches
    return rows


def ceiling(before: Snapshot, after: Snapshot, messages: int) -> float:
    """Messages per second the machine's cores could carry at the CPU per message the measured processes spent."""
    spent = sum(row[0] for row in _rows(before, after).values())
    return (os.cpu_count() or 1) * max(messages, 1) / max(spent, 1e-9)


def process_lines(before: Snapshot, after: Snapshot, messages: int) -> list[str]:
    """The per-process table between two snapshots, and the most this CPU per message lets the machine carry.

    Per process (PostgreSQL's backends of the log added up): CPU seconds, share of
    the machine, ms per message, run-queue wait, context switches per message.
    """
    busy, capacity = (after.machine[i] - before.machine[i] for i in (0, 1))
    count, share = max(messages, 1), lambda seconds: 100 * seconds / max(capacity, 1e-9)
    rows = _rows(before, after)
    lines = [f"  {'process':<34}{'cpu s':>7}{'% machine':>11}{'ms/msg':>8}{'run-queue s':>13}{'switches/msg':>14}"]
    for label, (cpu, waited, switches) in sorted(rows.items()):
        if cpu >= 0.05 or waited >= 0.05:
            lines.append(f"  {label:<34}{cpu:>7.1f}{share(cpu):>10.1f}%{cpu / count * 1000:>8.2f}{waited:>13.1f}"
                         f"{switches / count:>14.1f}")
    measured, cores = sum(row[0] for row in rows.values()), os.cpu_count() or 1
    rate = messages / max(capacity / cores, 1e-9)
    lines += [f"  machine: {share(busy):.0f}% busy over {capacity:.0f} core-seconds; the processes above "
              f"{share(measured):.0f}%, everything else (RabbitMQ, PostgreSQL's shared processes, other jobs) "
              f"{share(busy - measured):.0f}%",
              f"  ceiling: at {measured / count * 1000:.2f} ms CPU per message for the processes above, "
              f"{cores} cores carry at most {ceiling(before, after, messages):.0f} msg/s, were nothing else to run "
              f"(this run: {rate:.0f})"]
    return lines


@dataclass
class DatabaseWatch:
    """Commits of the log's database and a sample of its backends' waits every ``interval`` seconds."""

    url: str
    interval: float = 0.1
    waits: Counter = field(default_factory=Counter)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _start_counts: tuple[int, int] = (0, 0)

    def __enter__(self) -> DatabaseWatch:
        self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        self._start_counts = self._counts()
        self._thread = threading.Thread(target=self._sample, name="bench-pg-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        time.sleep(STATS_FLUSH_SECONDS)
        self.commits, self.rollbacks = (now - was for now, was in zip(self._counts(), self._start_counts))
        self._connection.close()

    def _counts(self) -> tuple[int, int]:
        self._connection.execute("SELECT pg_stat_clear_snapshot()")
        return self._connection.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                                        "WHERE datname = current_database()").fetchone()

    def _sample(self) -> None:
        query = ("SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''), count(*) "
                 "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                 "GROUP BY 1, 2, 3")
        while not self._stop.wait(self.interval):
            for state, kind, event, count in self._connection.execute(query):
                self.waits[(state or "", f"{kind}:{event}" if kind else "")] += count
            self.samples += 1

    def lines(self, messages: int) -> list[str]:
        count, samples = max(messages, 1), max(self.samples, 1)
        waiting = ", ".join(f"{state}{' ' + wait if wait else ''} {n / samples:.2f}"
                            for (state, wait), n in self.waits.most_common() if state != "idle")
        return [f"  PostgreSQL: {self.commits / count:.2f} commits and {self.rollbacks / count:.2f} rollbacks per "
                f"message ({self.commits} and {self.rollbacks});",
                f"  backends of the log's database, mean over {self.samples} samples: {waiting or 'none busy'}"]
