"""Licensing's window applier on SQLite and the real PostgreSQL: many messages per commit, each applied once."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from hub.errors import InputError, MessageLogError
from hub.messagelog.db import make_engine
from simulators.licensing.batches import WindowApplier, WindowCommitError
from simulators.licensing.migrations import LICENSING


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """The consumer's database with a business table, a deferred-checked one and nothing processed yet."""
    url = (f"sqlite:///{tmp_path / 'licensing.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("new_postgres_database")())
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (message_id VARCHAR(64) NOT NULL, holder VARCHAR(100))"))
        conn.execute(sa.text("CREATE TABLE holders (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE grants (holder_id INTEGER REFERENCES holders (id)"
                             " DEFERRABLE INITIALLY DEFERRED)"))
    LICENSING.upgrade(engine)  # the marks' table, as LicensingState's database gets it
    yield engine
    engine.dispose()


def grant(message_id: str):
    def apply(conn) -> None:
        conn.execute(sa.text("INSERT INTO licences VALUES (:m, 'Fatima')"), {"m": message_id})
    return apply


def poison(conn) -> None:
    conn.execute(sa.text("INSERT INTO licences VALUES ('poison', 'half-written')"))
    raise InputError("this message cannot be applied")


def licences(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT message_id FROM licences")).scalars())


def test_a_window_applies_the_good_ones_once_and_rolls_back_only_the_poison(engine):
    applier = WindowApplier(engine, "licensing")
    assert applier.apply_window([("m-b", grant("m-b"))]) == [True]
    outcomes = applier.apply_window([("m-a", grant("m-a")), ("m-a", grant("m-a")), ("m-p", poison),
                                     ("m-b", grant("m-b")), ("m-c", grant("m-c"))])
    assert outcomes[:2] == [True, False] and outcomes[3:] == [False, True]
    assert isinstance(outcomes[2], InputError)
    assert licences(engine) == ["m-a", "m-b", "m-c"]  # the poison's half-written row rolled back with it
    assert applier.commits == 2
    # the poison was not marked: once fixed, its redelivery applies
    assert applier.apply_window([("m-p", grant("m-p"))]) == [True]


@pytest.mark.parametrize("version", [(3, 31, 1), (3, 35, 0)])
def test_a_duplicate_is_told_on_sqlite_with_and_without_returning(tmp_path, monkeypatch, version):
    """SQLite before 3.35 has no RETURNING: the mark's insert is told new or a duplicate by the driver's count of
    inserted rows, whatever the version."""
    engine = make_engine(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (message_id VARCHAR(64) NOT NULL, holder VARCHAR(100))"))
    LICENSING.upgrade(engine)
    monkeypatch.setattr(engine.dialect.loaded_dbapi, "sqlite_version_info", version)
    applier = WindowApplier(engine, "licensing")
    monkeypatch.undo()  # the applier chose its road when it was made
    assert applier.apply_window([("m-a", grant("m-a")), ("m-a", grant("m-a")), ("m-b", grant("m-b"))]) == [
        True, False, True]
    assert applier.apply_window([("m-b", grant("m-b"))]) == [False]
    assert licences(engine) == ["m-a", "m-b"]
    engine.dispose()


def test_a_failed_commit_fails_the_whole_window_recoverably_and_applies_nothing(engine):
    applier = WindowApplier(engine, "licensing")

    def orphan(conn) -> None:  # only the commit checks the deferred foreign key
        conn.execute(sa.text("INSERT INTO grants VALUES (42)"))

    outcomes = applier.apply_window([("m-a", grant("m-a")), ("m-o", orphan)])
    assert all(isinstance(o, WindowCommitError) and o.recoverable for o in outcomes)
    assert licences(engine) == [] and applier.commits == 0
    assert applier.apply_window([("m-a", grant("m-a"))]) == [True]


def test_callers_waiting_during_a_commit_share_the_next_one(engine):
    applier = WindowApplier(engine, "licensing")
    held, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first(conn) -> None:
        held.set()
        assert release.wait(20)
        grant("m-0")(conn)

    def call(message_id: str, apply) -> None:
        try:
            results[message_id] = applier.apply_once(message_id, apply)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[message_id] = exc

    work = [("m-0", first), ("m-1", grant("m-1")), ("m-1", grant("m-1")), ("m-p", poison), ("m-2", grant("m-2"))]
    threads = []
    for position, (message_id, apply) in enumerate(work):
        threads.append(threading.Thread(target=call, args=(message_id, apply)))
        threads[-1].start()
        if position == 0:
            assert held.wait(20)
        deadline = time.monotonic() + 20
        while applier.waiting < position + 1:
            assert time.monotonic() < deadline
            time.sleep(0.002)
    release.set()
    for thread in threads:
        thread.join(30)
    assert results["m-0"] is True and results["m-2"] is True
    assert isinstance(results["m-p"], InputError)
    assert licences(engine) == ["m-0", "m-1", "m-2"]
    assert applier.commits == 2  # the leader alone, then everyone who queued behind it
    assert applier.waiting == 0


def test_many_threads_apply_every_message_once_in_fewer_commits(engine):
    applier = WindowApplier(engine, "licensing")
    ids = [f"m-{i}" for i in range(60)]
    outcomes: list[bool] = []

    def run() -> None:  # every thread delivers every message: five redeliveries of each
        outcomes.extend(applier.apply_once(m, grant(m)) for m in ids)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert licences(engine) == sorted(ids)
    assert outcomes.count(True) == len(ids) and outcomes.count(False) == 5 * len(ids)
    assert applier.commits < 6 * len(ids)


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.002)


def _on_its_way(applier: WindowApplier, message_id: str, go: threading.Event, results: dict) -> threading.Thread:
    """A consumer thread whose delivery is on its way (``coming``) until ``go``; then applied, or given up when
    ``message_id`` is None (refused before its window)."""
    def run() -> None:
        with applier.coming():
            assert go.wait(20)
            if message_id is not None:
                results[message_id] = applier.apply_once(message_id, grant(message_id))
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _leader(applier: WindowApplier, message_id: str, results: dict) -> threading.Thread:
    def run() -> None:
        with applier.coming():
            results[message_id] = applier.apply_once(message_id, grant(message_id))
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_leader_waits_for_a_unit_on_its_way_and_both_share_one_commit(engine):
    applier = WindowApplier(engine, "licensing")
    applier.gather = 60.0  # the unit's arrival ends the wait, not the bound
    go, results = threading.Event(), {}
    coming = _on_its_way(applier, "m-late", go, results)
    leader = _leader(applier, "m-first", results)
    _until(lambda: applier.waiting == 1, "the leader queued")
    go.set()
    for thread in (coming, leader):
        thread.join(30)
    assert results == {"m-first": True, "m-late": True}
    assert licences(engine) == ["m-first", "m-late"]
    assert applier.commits == 1  # without the wait, the leader would have committed alone


def test_a_unit_on_its_way_that_never_comes_releases_the_waiting_leader(engine):
    applier = WindowApplier(engine, "licensing")
    applier.gather = 60.0
    go, results = threading.Event(), {}
    refused = _on_its_way(applier, None, go, results)
    leader = _leader(applier, "m-first", results)
    _until(lambda: applier.waiting == 1, "the leader queued")
    go.set()  # the other delivery is refused before its window
    _until(lambda: not leader.is_alive(), "the leader was released when the other delivery gave up")
    refused.join(30)
    assert results == {"m-first": True} and applier.commits == 1


def test_a_leader_waits_for_units_on_their_way_no_longer_than_gather(engine):
    applier = WindowApplier(engine, "licensing")
    applier.gather = 0.05
    go, results = threading.Event(), {}
    slow = _on_its_way(applier, "m-slow", go, results)
    leader = _leader(applier, "m-first", results)
    _until(lambda: not leader.is_alive(), "the leader committed without the slow unit")
    assert results == {"m-first": True} and licences(engine) == ["m-first"]
    go.set()
    slow.join(30)
    assert results["m-slow"] is True and applier.commits == 2


def test_submitted_units_wait_uncommitted_until_one_settle_applies_them_all_in_one_commit(engine):
    applier = WindowApplier(engine, "licensing")
    units = [applier.submit(m, apply) for m, apply in
             [("m-a", grant("m-a")), ("m-p", poison), ("m-a", grant("m-a")), ("m-b", grant("m-b"))]]
    assert applier.waiting == 4 and applier.commits == 0 and licences(engine) == []  # nothing applied on submit
    applier.settle(units[-1:])  # waiting for the last one leads the window that holds them all
    assert all(unit.done for unit in units) and applier.waiting == 0
    assert [unit.outcome for unit in units[:1] + units[2:]] == [True, False, True]
    assert isinstance(units[1].outcome, InputError)
    assert licences(engine) == ["m-a", "m-b"] and applier.commits == 1


def test_a_unit_whose_owner_never_waits_is_applied_with_the_next_window_anyone_waits_for(engine):
    applier = WindowApplier(engine, "licensing")
    left = applier.submit("m-left", grant("m-left"))  # its owner went on to other work
    assert applier.apply_once("m-next", grant("m-next")) is True  # another caller alone leads: both go
    assert left.done and left.outcome is True
    assert licences(engine) == ["m-left", "m-next"] and applier.commits == 1


def test_a_caller_waiting_behind_a_window_that_lacks_its_unit_leads_the_next(engine):
    applier = WindowApplier(engine, "licensing", max_window=2)
    units = [applier.submit(f"m-{i}", grant(f"m-{i}")) for i in range(5)]
    applier.settle(units[4:])  # three windows of at most two, led one after another by this caller
    assert all(unit.outcome is True for unit in units) and applier.commits == 3
    assert licences(engine) == [f"m-{i}" for i in range(5)]


def test_settling_threads_wake_each_other_when_a_window_ends_without_their_units(engine):
    applier = WindowApplier(engine, "licensing", max_window=1)
    held, release = threading.Event(), threading.Event()

    def first(conn) -> None:
        held.set()
        assert release.wait(20)
        grant("m-0")(conn)

    leader = threading.Thread(target=applier.apply_once, args=("m-0", first))
    leader.start()
    assert held.wait(20)
    units = [applier.submit(f"m-{i}", grant(f"m-{i}")) for i in (1, 2)]
    waiter = threading.Thread(target=applier.settle, args=(units[1:],))  # behind the leader and unit m-1
    waiter.start()
    _until(lambda: units[1].waited, "the second caller waits")
    release.set()
    for thread in (leader, waiter):
        thread.join(30)
    assert not waiter.is_alive() and all(unit.outcome is True for unit in units)
    assert licences(engine) == ["m-0", "m-1", "m-2"] and applier.commits == 3


@pytest.mark.parametrize("bad", ["", None, 7])
def test_a_message_needs_an_id_and_a_window_a_positive_size(engine, bad):
    with pytest.raises(MessageLogError):
        WindowApplier(engine, "licensing").apply_once(bad, grant("x"))
    with pytest.raises(MessageLogError):
        WindowApplier(engine, "licensing", max_window=0)


def test_each_settled_window_is_told_once_after_its_commit_and_a_bad_listener_changes_nothing(engine):
    from simulators.licensing.receipts import outcome_of

    applier, told = WindowApplier(engine, "licensing"), []

    def listener(window) -> None:
        # told after the commit: what the window applied is already visible to another connection
        told.append((window, licences(engine)))

    applier.on_settled = listener
    applier.apply_window([("m-a", grant("m-a")), ("m-p", poison), ("m-a", grant("m-a"))])
    [(window, visible)] = told
    assert visible == ["m-a"]
    assert [outcome_of(mid, result)[1:3] for mid, result in window] == [
        ("applied", None), ("failed", "input"), ("duplicate", None)]
    applier.on_settled = lambda window: 1 / 0
    assert applier.apply_window([("m-b", grant("m-b"))]) == [True]  # committed all the same
    assert licences(engine) == ["m-a", "m-b"]
