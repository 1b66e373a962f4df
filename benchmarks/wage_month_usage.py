"""What ``wage_month_through_file_adapter.py`` measures of its processes, from Linux ``/proc``.

:class:`Usage` is one process's CPU, bytes written, peak RSS, run-queue wait and
blocking so far, taken in the process itself; :func:`pss_mib` sums the
proportional set sizes of several processes; :class:`WalPeak` samples the
largest size a SQLite log's ``-wal`` file reaches. Where ``/proc`` does not
say, the figures are 0.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from end_to_end_processes import waited_of


@dataclass(frozen=True)
class Usage:
    """What one process used so far: CPU seconds (all, system), bytes it sent to disk, peak RSS,
    bytes it handed to write calls (``handed``), seconds its main thread was runnable but waited
    for a core (``waited``, schedstat) and times it blocked (``blocked``: voluntary switches)."""

    cpu: float
    system: float
    written: int
    rss_mib: float
    handed: int = 0
    waited: float = 0.0
    blocked: int = 0

    @classmethod
    def now(cls) -> Usage:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(usage.ru_utime + usage.ru_stime, usage.ru_stime, _written(), usage.ru_maxrss / 1024,
                   _written(field="wchar"), _waited(), usage.ru_nvcsw)

    def since(self, start: Usage) -> Usage:
        return Usage(self.cpu - start.cpu, self.system - start.system, self.written - start.written, self.rss_mib,
                     self.handed - start.handed, self.waited - start.waited, self.blocked - start.blocked)


def _waited() -> float:
    """Seconds this process's main thread was runnable but not running (Linux schedstat), 0 where unknown."""
    return waited_of(Path("/proc/self/schedstat"))


def _written(pid: int | str = "self", field: str = "write_bytes") -> int:
    """Bytes this process caused to be written to storage (Linux /proc/<pid>/io), 0 where unknown.

    ``write_bytes`` counts each page cache folio a write dirties at its whole size: on kernels that
    cache files in large folios (6.x on ext4), 4 KiB written at random into a file read or written
    whole before can count 64 KiB while the disk gets the block alone. ``wchar`` (field="wchar")
    is what write calls were handed, pipes included: where the two differ, the folios inflate
    ``write_bytes``. (In this benchmark they agree within 2%.)
    """
    try:
        with open(f"/proc/{pid}/io") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return 0


def own_usage(parent: Usage, children: list[Usage]) -> Usage:
    """The parent's usage less its children's I/O.

    Linux adds a child's I/O counts to its parent's ``/proc/self/io`` when the
    parent reaps it (``is_alive()`` does), so the relay's figure held every
    watcher's writes a second time; each watcher counts its own from its start.
    CPU times come from ``RUSAGE_SELF``, which never includes children.
    """
    return replace(parent, written=parent.written - sum(c.written for c in children),
                   handed=parent.handed - sum(c.handed for c in children))


def pss_mib(pids: list[int]) -> float:
    """Sum of the proportional set sizes of ``pids``: memory shared after fork counted once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


class WalPeak:
    """The largest size of a SQLite file's ``-wal`` seen, polled every 2 ms in a thread until :meth:`stop`.

    A WAL cut back when it starts over (``journal_size_limit``) is cut by the
    commit after the checkpoint's last pass, each with a sync of its own: a
    peak lasts longer than a poll's interval. The thread's CPU is counted
    apart (:attr:`cpu`), as the PSS sampling's is.
    """

    def __init__(self, database_url: str) -> None:
        database = database_url.removeprefix("sqlite:///") if database_url.startswith("sqlite:///") else None
        self.path, self.bytes, self.cpu = (database + "-wal") if database else None, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="wal-peak", daemon=True)
        if self.path:
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            try:
                self.bytes = max(self.bytes, os.stat(self.path).st_size)
            except OSError:
                pass  # no WAL yet, or none any more
        self.cpu = time.thread_time()

    def stop(self) -> WalPeak:
        self._stop.set()
        if self.path:
            self._thread.join()
        return self
