"""The SQLite log's WAL checkpoints start after the writes that make them due, never inside a commit; the WAL stays bounded.

SQLite's automatic checkpoint ran inside the commit that took the WAL past
its threshold, and every caller of that group commit and every writer queued
for the file waited 30–38 ms for it. Here, on a real SQLite file: a group's
callers and the next writers get through while the checkpoint their write
made due is still running; several processes' writers keep the WAL small
and starting over; a writer killed at any moment, checkpoint or not, loses
no record it was told was stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hub.messagelog import Accepted, GroupCommitter, MessageLog, checkpoints, db, open_message_log
from hub.messagelog.writer_lock import writer_lock

pytestmark = pytest.mark.timeout(120)

PAGE = 4096
#: the WAL budget of the tests with several writing processes: 1024 pages, 4 MB (the hub's is 64 MB)
BUDGET_PAGES = 1024


def record(n: int, size: int = 2000) -> Accepted:
    return Accepted(
        message_id=f"msg-{n}", message_type="VisaEligibilityQuery", source_agency="police", destination="licensing",
        routing_key="licensing.VisaEligibilityQuery.police", raw=os.urandom(size // 2).hex().encode(),
        envelope=os.urandom(size // 2).hex().encode(), source_system="border", source_message_id=f"police-{n}",
        created_at=datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc))


class HeldLog(MessageLog):
    """A real MessageLog whose first store_sent, once ``hold`` is set, waits for ``release``: the test forms the groups."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.hold, self.held, self.release = threading.Event(), threading.Event(), threading.Event()

    def store_sent(self, records):
        if self.hold.is_set() and not self.held.is_set():
            self.held.set()
            assert self.release.wait(30), "the test never released the first write"
        return super().store_sent(records)


class SlowCheckpoint:
    """Stands in for :func:`checkpoints.checkpoint`: its first pass waits for ``release``; every pass recorded."""

    def __init__(self, real) -> None:
        self.real, self.started, self.release = real, threading.Event(), threading.Event()
        self.passes: list[tuple[bool, tuple[int, int, int]]] = []  # (writer lock held, SQLite's result)

    def __call__(self, engine):
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(30), "the test never let the checkpoint go on"
        result = self.real(engine)
        self.passes.append((writer_lock(engine.url.database).holding, result))
        return result


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    open_message_log(url).close()
    return url


def due_at_once(monkeypatch, log: MessageLog) -> None:
    """The next commit to ``log``'s file makes a checkpoint due: a 64 KB budget, already reached."""
    monkeypatch.setattr(checkpoints, "WAL_PAGES", 16)
    found = checkpoints.budget(log.engine)
    found.start_at, found.floor = 0, 0
    assert checkpoints.wal_size(log.engine.url.database) > checkpoints.budget_bytes() // 16


def wal_sequence(database: str) -> int:
    """The WAL header's checkpoint sequence number: one more each time the WAL starts over (sqlite.org/fileformat2)."""
    with open(database + "-wal", "rb") as wal:
        return int.from_bytes(wal.read(16)[12:16], "big")


def test_a_groups_callers_and_the_next_writers_do_not_wait_for_the_checkpoint_its_commit_made_due(url, monkeypatch):
    slow = SlowCheckpoint(checkpoints.checkpoint)
    monkeypatch.setattr(checkpoints, "checkpoint", slow)
    log = HeldLog(db.make_engine(url))
    committer = GroupCommitter(log)
    committer.store_sent([record(0)])  # the lane registered: from here on one commit per group
    due_at_once(monkeypatch, log)
    done = checkpoints.budget(log.engine).checkpoints  # the fixture's close ran one
    log.hold.set()
    returned: dict[int, float] = {}

    def write(n: int) -> None:
        committer.store_sent([record(n)])
        returned[n] = time.monotonic()

    first = threading.Thread(target=write, args=(1,))
    first.start()
    assert log.held.wait(10)
    callers = [threading.Thread(target=write, args=(n,)) for n in (2, 3)]
    for caller in callers:
        caller.start()
    _wait_until(lambda: committer.waiting == 3)  # 2 and 3 queued behind 1's commit: they share the next one
    log.release.set()
    assert slow.started.wait(10), "the first commit made a checkpoint due: its leader starts it"
    for thread in [first, *callers]:
        thread.join(10)
    assert sorted(returned) == [1, 2, 3]  # the group's callers, its leader's too, have their outcome already
    committer.store_sent([record(4)])  # the next group commits meanwhile: the writer lock and the connection are free
    log.store_sent([record(5)])  # so does a writer outside the committer
    assert not slow.passes and [log.get(f"msg-{n}") is not None for n in range(6)] == [True] * 6
    slow.release.set()
    _wait_until(lambda: checkpoints.budget(log.engine).checkpoints == done + 1)
    assert [held for held, _ in slow.passes][-1] is True  # the last pass in a write turn: nobody mid-write
    assert all(held is False for held, _ in slow.passes[:-1])
    busy, frames, copied = slow.passes[-1][1]
    assert busy == 0 and copied == frames  # all of it copied: the next writer starts the WAL over
    committer.close()
    log.close()


def test_a_writer_outside_the_committer_starts_the_checkpoint_after_its_write_turn_and_returns(url, monkeypatch):
    slow = SlowCheckpoint(checkpoints.checkpoint)
    monkeypatch.setattr(checkpoints, "checkpoint", slow)
    log = open_message_log(url)
    log.store_sent([record(0)])  # the lane registered: from here on one commit per write
    due_at_once(monkeypatch, log)
    done = checkpoints.budget(log.engine).checkpoints  # the fixture's close ran one
    log.store_sent([record(1)])  # returns with the checkpoint it made due started, not done
    assert slow.started.wait(10)
    other = open_message_log(url)
    other.store_sent([record(2)])  # a second writer is not kept out while the first one's checkpoint runs
    assert not slow.passes and log.get("msg-1") is not None
    slow.release.set()
    _wait_until(lambda: checkpoints.budget(log.engine).checkpoints == done + 1)
    database = log.engine.url.database
    before = wal_sequence(database)
    other.store_sent([record(3)])
    assert wal_sequence(database) == before + 1  # the checkpoint copied everything: the WAL started over
    other.close()
    log.close()


_FILLER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from test_wal_checkpoints import record
    from hub.messagelog import checkpoints, open_message_log
    checkpoints.WAL_PAGES = 1 << 20  # a budget of 4 GB: this process never checkpoints
    log = open_message_log(sys.argv[1])
    n = 0
    while os.path.getsize(sys.argv[1].removeprefix('sqlite:///') + '-wal') < int(sys.argv[3]):
        log.store_sent([record(n)])
        n += 1
    print(n, flush=True)
    sys.stdin.read()  # its connections open until the test is done
""")


OWN = 10**6  # this process's records, after the other's


def test_a_process_that_wrote_once_checkpoints_the_wal_another_process_filled(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "WAL_PAGES", 256)  # a 1 MB budget here, from the first use of the file on
    budget = 256 * PAGE
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    database = url.removeprefix("sqlite:///")
    log = open_message_log(url)
    log.store_sent([record(OWN)])  # the lane registered, and the WAL opened by this process too
    found = checkpoints.budget(log.engine)
    done = found.checkpoints
    filler = subprocess.Popen([sys.executable, "-c", _FILLER, url, str(Path(__file__).parent),
                               str(budget)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        filled = int(filler.stdout.readline())
        assert found.checkpoints == done and os.path.getsize(database + "-wal") >= budget
        before = wal_sequence(database)
        log.store_sent([record(OWN + 1)])  # one commit of this process's own: the WAL's size makes the checkpoint due
        _wait_until(lambda: found.checkpoints == done + 1)
        busy, frames, copied = found.last
        assert busy == 0 and copied == frames and 32 + frames * (24 + PAGE) > budget  # the other's frames too
        log.store_sent([record(OWN + 2)])
        assert wal_sequence(database) == before + 1  # copied to the last frame: the next write started it over
        assert os.path.getsize(database + "-wal") <= budget // 2  # and cut it back: its size is the WAL's
        assert all(log.get(f"msg-{n}") is not None for n in [*range(filled), OWN, OWN + 1, OWN + 2])
    finally:
        filler.communicate("")
        log.close()
    assert filler.returncode == 0


_WRITER = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[4])
    from test_wal_checkpoints import record
    from hub.messagelog import GroupCommitter, checkpoints, open_message_log
    url, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    checkpoints.WAL_PAGES = int(sys.argv[5])
    log = open_message_log(url)
    committer = GroupCommitter(log)
    lock = threading.Lock()
    def write(numbers):
        for n in numbers:
            committer.store_sent([record(n)])
            with lock:
                print(n, flush=True)  # told it is stored
    threads = [threading.Thread(target=write, args=(range(first + k, first + count, 4),)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("checkpoints", checkpoints.budget(log.engine).checkpoints, flush=True)
    committer.close()
    log.close()
""")


def _writer(url: str, first: int, count: int, pages: int = BUDGET_PAGES) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, url, str(first), str(count), str(Path(__file__).parent),
                             str(pages)], stdout=subprocess.PIPE, text=True)


def test_the_wal_of_a_file_written_by_several_processes_stays_within_its_budget_and_starts_over(url):
    database = url.removeprefix("sqlite:///")
    processes, each = 3, 400
    writers = [_writer(url, p * each, each) for p in range(processes)]
    largest, sequences = 0, set()
    while any(writer.poll() is None for writer in writers):
        # Polled every 2 ms: the file is cut only by the first commit after the WAL starts over, which waits
        # for the checkpoint's last pass (a sync of the database) and syncs itself, so a peak lasts longer.
        try:
            largest = max(largest, os.path.getsize(database + "-wal"))
            sequences.add(wal_sequence(database))
        except OSError:
            pass  # no WAL yet, or none any more (the last connection closed)
        time.sleep(0.002)
    outputs = [writer.communicate()[0].split() for writer in writers]
    assert all(writer.returncode == 0 for writer in writers)
    ran = sum(int(output[-1]) for output in outputs)
    with open_message_log(url) as log:
        assert log.stats().by_status == {"published": processes * each}
        assert all(log.get(f"msg-{n}") is not None for n in range(processes * each))
        assert log.verify_chain().ok
    # A checkpoint starts below the budget by the most the writers added during recent ones, and once the WAL
    # reaches the budget its last pass follows in a write turn: what escapes is what they add during the pass
    # under way then and while the last one waits for the writer lock. With these 12 writers going flat out,
    # on 2 cores at a load average of 10-14: 1.00-1.24 budgets (each process counting its own commits: 1.53,
    # 1.83). Half a budget leaves room for a slower machine; the growth does not depend on the processes' count.
    assert largest <= BUDGET_PAGES * PAGE * 3 // 2, f"WAL grew to {largest} bytes"
    assert ran >= processes and len(sequences) > processes, (ran, sequences)


_KILLED = _WRITER.replace("int(sys.argv[5])", "40")


def test_a_writer_killed_while_it_checkpoints_loses_no_record_it_was_told_was_stored(url):
    told: list[int] = []
    for round_ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", _KILLED, url, str(round_ * 1000), "1000",
                                   str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True)
        for _ in range(100 + 37 * round_):  # killed at a different point of its checkpoints each round
            told.append(int(writer.stdout.readline()))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    with open_message_log(url) as log:
        assert [n for n in told if log.get(f"msg-{n}") is None] == []
        assert log.verify_chain().ok


def _wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)
