"""Writers of one SQLite log take turns through its writer lock: in as soon as the last one commits, never hung.

Without it a writer kept out by another process sat in SQLite's busy
handler, which sleeps ever longer (up to 100 ms at a time) whether or not
the file came free meanwhile.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from hub import lifeline
from hub.messagelog import Accepted, GroupCommitter, db, open_message_log
from hub.messagelog.writer_lock import writer_lock

pytestmark = pytest.mark.timeout(60)

#: how long the other process keeps its write open: longer than SQLite's busy timeout in the test
HOLD_SECONDS = 0.3

_HOLDER = textwrap.dedent("""
    import sys, time
    from hub.messagelog import db
    engine = db.make_engine(sys.argv[1])
    with db.write_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
        print(time.time(), flush=True)  # the hold's end, just before its commit lets the lock go
    sys.stdin.read()  # its connection kept open until the test is done: closing the last one checkpoints the log
""")


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    engine = db.make_engine(url)
    with db.write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    engine.dispose()
    return url


def test_a_writer_kept_out_by_another_process_waits_for_its_commit_not_in_sqlites_busy_handler(url, monkeypatch):
    # SQLite's busy handler gives up after 50 ms here: a writer still waiting there would fail
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.05)
    holder = lifeline.popen([sys.executable, "-c", _HOLDER, url, str(HOLD_SECONDS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    engine = db.make_engine(url)
    with db.write_transaction(engine) as conn:
        entered = time.time()
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    released = float(holder.stdout.readline())
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    # in after the other's hold (woken by its commit: no sleep of its own). The time after the commit would
    # race this process: the lock is let go before the holder could read its clock
    assert entered >= released
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t ORDER BY n").scalars().all() == [1, 2]
    engine.dispose()


def test_the_held_connection_of_the_group_committer_waits_its_turn_too(url):
    engine = db.make_engine(url)
    held = db.HeldConnection(engine)
    order = []
    with db.write_transaction(engine) as conn:
        writer = threading.Thread(target=lambda: _write(held, order))
        writer.start()
        time.sleep(0.1)
        order.append("first committed")  # still inside: the other writer must not be in yet
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    writer.join(timeout=10)
    assert order == ["first committed", "second in"]
    held.close()
    engine.dispose()


def _write(held: db.HeldConnection, order: list[str]) -> None:
    with held.transaction() as conn:
        order.append("second in")
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")


def test_a_writer_that_dies_holding_the_lock_lets_the_others_in(url):
    holder = lifeline.popen([sys.executable, "-c", _HOLDER, url, "60"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()  # SIGKILL inside its write: the kernel closes its files, and its lock with them
    holder.wait(timeout=30)
    engine = db.make_engine(url)
    with db.write_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM t").scalars().all() == [2]  # the dead writer's row rolled back
    engine.dispose()


def test_a_write_inside_a_write_of_the_same_thread_does_not_wait_for_itself(tmp_path):
    lock = writer_lock(str(tmp_path / "x.sqlite3"))
    order = []
    with lock.held(), lock.held():
        other = threading.Thread(target=lambda: _hold(lock, order))
        other.start()
        time.sleep(0.1)
        order.append("first out")  # another thread is kept out while this one holds it
    other.join(timeout=10)
    assert order == ["first out", "second in"]


def _hold(lock, order: list[str]) -> None:
    with lock.held():
        order.append("second in")


def test_one_lock_per_file_and_none_for_a_database_in_memory(tmp_path):
    assert writer_lock(str(tmp_path / "a.sqlite3")) is writer_lock(str(tmp_path / "a.sqlite3"))
    assert writer_lock(str(tmp_path / "a.sqlite3")) is writer_lock(str(tmp_path / "." / "a.sqlite3"))
    assert writer_lock(":memory:") is None and writer_lock(None) is None


def _exchange(n: int) -> list[Accepted]:
    return [Accepted(message_id=f"turn-{n}-{part}", message_type="VisaEligibilityQuery", source_agency="police",
                     destination="licensing", routing_key="licensing.VisaEligibilityQuery.police",
                     raw=f"<q n='{n}' part='{part}'/>".encode(), envelope=f"<e n='{n}' part='{part}'/>".encode())
            for part in range(3)]


def test_a_leader_waiting_for_the_file_takes_along_the_writes_queued_meanwhile(tmp_path):
    log = open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    committer = GroupCommitter(log)
    committer.store_sent(_exchange(0))
    groups = committer.groups
    callers = [threading.Thread(target=committer.store_sent, args=(_exchange(n),)) for n in (1, 2, 3)]
    with db.write_transaction(log.engine):  # another writer of the file (another process's, say) has its turn
        for caller in callers:
            caller.start()
            time.sleep(0.05)  # the first is the leader, waiting for the file; the others queue behind it
    for caller in callers:
        caller.join(timeout=30)
    # before, the leader took its group (itself) and then waited for the file: two commits
    assert committer.groups - groups == 1
    assert sum(log.stats().by_status.values()) == 12
    committer.close()
    log.close()
