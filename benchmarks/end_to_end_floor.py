"""What ``end_to_end.py`` compares its figures with: the floor of the machine, and CPU per message.

The floor (a ``floor.py`` script given by ``--floor`` or ``RABT_FLOOR_SCRIPT``) times the primitives a
signed push must pay for and nothing else on one core; its last line reads
``floor: N us per message, M msg/s per core``. Times M the machine's cores it
is the rate the hub would reach if it did only that work on every core, so
end-to-end / floor is the share of the machine the hub turns into applied
messages. Wall-clock rates swing with whatever else runs on the machine; CPU
seconds per message (each stack process with all its descendants, from
``/proc``) are the steadier figure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hub import lifeline

#: the project root: the floor is run with it, and a relative --floor path is read from it
ROOT = Path(__file__).resolve().parents[1]
#: where the floor script is when ``--floor`` is not given
FLOOR_VARIABLE = "RABT_FLOOR_SCRIPT"
_FLOOR_LINE = re.compile(r"floor: ([\d.]+) us per message, (\d+) msg/s per core \((.+)\)")
#: stack processes whose CPU is the hub's (one process with every role, or one per role)
HUB_PREFIX = "hub"
LICENSING_CONSUMER = "licensing-consumer"


@dataclass(frozen=True)
class Floor:
    """One floor run: microseconds per message on one core, and the rate of the whole machine."""

    us_per_message: float
    per_core: float
    keys: str
    cores: int

    @property
    def machine_rate(self) -> float:
        return self.per_core * self.cores


def floor_path(given: str | None) -> Path | None:
    """``--floor`` as given (else ``RABT_FLOOR_SCRIPT``), relative paths read from the project root; None: neither."""
    given = given or os.environ.get(FLOOR_VARIABLE)
    if not given:
        return None
    path = Path(given)
    return path if path.is_absolute() else (ROOT / path).resolve()


def run_floor(path: Path | None, ec: bool, timeout: float = 900.0) -> Floor | str:
    """Run ``floor.py`` on this checkout; the Floor, or why there is none (said in the report)."""
    if path is None:
        return f"floor: no floor script given (--floor PATH or {FLOOR_VARIABLE}); the figures are not compared with it"
    if not path.is_file():
        return f"floor: {path} not found; the figures are not compared with it"
    command = [sys.executable, str(path), str(ROOT), *(["--ec"] if ec else [])]
    try:
        done = lifeline.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"floor: {path} did not run: {exc}"
    found = _FLOOR_LINE.search(done.stdout)
    if done.returncode != 0 or found is None:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"floor: {path} failed (exit {done.returncode}): {detail[0]}"
    return Floor(float(found[1]), float(found[2]), found[3], os.cpu_count() or 1)


def proc_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds of itself and its reaped children) of every process (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone while we looked
        # after the name: state, ppid, … utime (14th field), stime, cutime, cstime
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / ticks)
    return table


def tree_cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each named process and all its descendants (``rabt serve --processes`` forks)."""
    table = proc_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    used = {}
    for name, root in pids.items():
        if root not in table:
            continue  # not Linux, or the process is gone: the figure leaves it out
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += table[pid][1]
            todo.extend(children.get(pid, ()))
        used[name] = total
    return used


def cpu_per_message(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """Milliseconds of CPU per message for the hub (all its processes) and licensing's consumer."""
    def spent(keep) -> float:
        return sum(after[n] - before.get(n, 0.0) for n in after if keep(n))

    count = max(messages, 1)
    return {"hub": spent(lambda n: n.split("-")[0] == HUB_PREFIX) / count * 1000,
            "licensing": spent(lambda n: n == LICENSING_CONSUMER) / count * 1000}


def floor_lines(rate: float, floor: Floor | str, cpu_ms: dict[str, float]) -> list[str]:
    """The report's comparison: end to end against the floor, and CPU per message."""
    lines = [f"end to end {rate:.1f} msg/s; cpu per message: hub {cpu_ms['hub']:.2f} ms, "
             f"licensing consumer {cpu_ms['licensing']:.2f} ms"]
    if isinstance(floor, str):
        return lines + [floor]
    share = rate / floor.machine_rate
    return lines + [
        f"floor ({floor.keys}): {floor.us_per_message:.0f} us per message, {floor.per_core:.0f} msg/s per core"
        f" x {floor.cores} cores = {floor.machine_rate:.0f} msg/s for the machine",
        f"ratio end-to-end / floor: {share:.3f}  (goal >= 0.6); hub cpu per message / floor cost: "
        f"{cpu_ms['hub'] * 1000 / floor.us_per_message:.1f}x"]
