"""Group commit on SQLite and on the real PostgreSQL: threads accepting at once share transactions.

Each test runs on both databases (``log_url``). The log is a MessageLog
that counts its transactions (``accept_many`` and ``mark_published`` calls)
and can hold the first one until the test has queued the rest, so a test
decides exactly which writes share a group.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.errors import DuplicateMessageError, MessageLogError, MessageLogUnavailableError
from hub.mapping import Mappings
from hub.messagelog import Accepted, GroupCommitter, MessageLog, open_message_log
from hub.messagelog import db
from hub.messagelog.db import make_engine
from hub.pipeline import Pipeline
from hub.pipeline_types import Inbound
from hub.signing import Signer, Verifier
from hub.xmlsafe import parse_xml

THREADS, EACH = 16, 50
FIXTURE_MAPPINGS = Path(__file__).parents[1] / "fixtures" / "mappings"


@pytest.fixture
def log_url(database_url):
    return database_url


class CountingLog(MessageLog):
    """A real MessageLog that counts its write transactions (records per call); with ``hold`` the first waits."""

    def __init__(self, engine, hold: bool = False) -> None:
        super().__init__(engine)
        self.batches: list[int] = []
        self.published: list[int] = []
        self.sent: list[int] = []
        self.held = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def accept_many(self, records, *, enqueue=True, answers=None):
        records = list(records)
        self.batches.append(len(records))
        self._wait_if_first()
        return super().accept_many(records, enqueue=enqueue, answers=answers)

    def mark_published(self, message_ids):
        ids = list(message_ids)
        self.published.append(len(ids))
        self._wait_if_first()
        return super().mark_published(ids)

    def store_sent(self, records):
        records = list(records)
        self.sent.append(len(records))
        self._wait_if_first()
        return super().store_sent(records)

    def _wait_if_first(self) -> None:
        if not self.held.is_set():
            self.held.set()
            assert self.release.wait(30), "the test never released the first transaction"


@pytest.fixture
def opened(log_url):
    open_message_log(log_url).close()  # tables and chain head
    logs = []

    def make(hold: bool = False) -> CountingLog:
        logs.append(CountingLog(make_engine(log_url), hold))
        return logs[-1]

    yield make
    for log in logs:
        log.close()


def record(n, **changes) -> Accepted:
    values = dict(
        message_id=f"msg-{n}", message_type="WorkerArrival", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrival.police", raw=f"<arrival n='{n}'/>".encode(),
        envelope=f"<Envelope n='{n}'/>".encode(), source_system="border", source_message_id=f"police-{n}",
        created_at=datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc),
    )
    return Accepted(**{**values, **changes})


def outcome(call):
    """What ``call()`` returned, or the exception it raised."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return exc


def in_threads(calls) -> list:
    """Run every call in its own thread, all at once; their outcomes in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = outcome(calls[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.002)


def held_group(log: CountingLog, committer: GroupCommitter, first, rest) -> list:
    """``first`` leads and is held in its transaction while ``rest`` queue behind it, in order.

    The queued calls then form the next group together. Their outcomes, ``first``'s first.
    """
    results = [None] * (1 + len(rest))
    threads = []

    def start(i: int, call) -> None:
        threads.append(threading.Thread(target=lambda: results.__setitem__(i, outcome(call))))
        threads[-1].start()

    start(0, first)
    wait_until(log.held.is_set, "the first transaction")
    for i, call in enumerate(rest, 1):
        start(i, call)
        wait_until(lambda: committer.waiting == 1 + i, f"call {i} queued")
    log.release.set()
    for thread in threads:
        thread.join(60)
    return results


def test_many_threads_store_every_record_once_in_fewer_transactions(opened):
    log = opened()
    committer = GroupCommitter(log)
    calls = [lambda t=t: [committer.accept(record(f"{t}-{i}")) for i in range(EACH)] for t in range(THREADS)]
    results = in_threads(calls)
    assert results == [[f"msg-{t}-{i}" for i in range(EACH)] for t in range(THREADS)]
    assert log.stats().by_status == {"received": THREADS * EACH}
    assert {m.message_id for m in log.unpublished(10_000)} == {f"msg-{t}-{i}" for t in range(THREADS) for i in range(EACH)}
    assert log.verify_chain().records == THREADS * EACH
    assert sum(log.batches) == THREADS * EACH
    assert len(log.batches) < THREADS * EACH and max(log.batches) > 1
    assert committer.groups == len(log.batches) and committer.waiting == 0


def test_a_held_transaction_lets_the_queued_callers_share_the_next_one(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    rest = [lambda i=i: committer.accept(record(i), enqueue=i % 2 == 0) for i in range(1, 10)]
    results = held_group(log, committer, lambda: committer.accept(record(0)), rest)
    assert results == [f"msg-{i}" for i in range(10)]
    assert log.batches == [1, 5, 4]  # the leader alone, then one transaction per enqueue value
    assert {m.message_id for m in log.unpublished(100)} == {f"msg-{i}" for i in range(0, 10, 2)}
    assert log.verify_chain().records == 10


def test_repeats_across_threads_are_answered_with_the_first_id(opened):
    log = opened()
    committer = GroupCommitter(log)
    # every thread sends the same 20 agency messages, each under its own hub id
    calls = [lambda t=t: [outcome(lambda i=i: committer.accept(record(f"{t}-{i}", source_message_id=f"police-{i}",
                                                                      raw=record(i).raw)))
                          for i in range(20)] for t in range(THREADS)]
    results = in_threads(calls)
    stored = {m.source_message_id: m.message_id for m in log.find(limit=10_000)}
    assert len(stored) == 20
    for i in range(20):
        first = stored[f"police-{i}"]
        answers = [results[t][i] for t in range(THREADS)]
        assert [a for a in answers if isinstance(a, str)] == [first]
        repeats = [a for a in answers if not isinstance(a, str)]
        assert len(repeats) == THREADS - 1
        assert all(isinstance(a, DuplicateMessageError) and a.first_message_id == first for a in repeats)
    assert log.stats().by_status == {"received": 20}
    log.verify_chain()


def test_a_repeat_within_one_group_is_a_duplicate_of_the_first(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    rest = [lambda: committer.accept(record("a")), lambda: committer.accept(record("b", source_message_id="police-a", raw=record("a").raw)),
            lambda: committer.accept(record("c"))]
    results = held_group(log, committer, lambda: committer.accept(record(0)), rest)
    assert results[:2] == ["msg-0", "msg-a"] and results[3] == "msg-c"
    assert isinstance(results[2], DuplicateMessageError) and results[2].first_message_id == "msg-a"
    assert log.batches == [1, 3]
    assert log.get("msg-b") is None and log.verify_chain().records == 3


def test_a_malformed_record_or_reused_id_fails_only_its_own_caller(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    rest = [lambda: committer.accept(record(1)),
            lambda: committer.accept(record(2, message_type=" ")),        # malformed
            lambda: committer.accept(record(0, source_message_id="x")),  # hub id msg-0 is taken
            lambda: committer.accept(record(3))]
    results = held_group(log, committer, lambda: committer.accept(record(0)), rest)
    assert results[0] == "msg-0" and results[1] == "msg-1" and results[4] == "msg-3"
    assert isinstance(results[2], MessageLogError) and "message_type" in results[2].reason
    assert isinstance(results[3], MessageLogError) and results[3].message_id == "msg-0"
    assert log.batches == [1, 4, 1, 1, 1, 1]  # the group refused as a whole, then each record alone
    assert log.stats().by_status == {"received": 3}
    assert log.verify_chain().records == 3


def test_publications_share_a_transaction_too(opened):
    log = opened()
    committer = GroupCommitter(log)

    def ask_and_answer(t: int) -> None:
        for i in range(10):
            committer.accept(record(f"{t}-{i}"), enqueue=False)
            committer.mark_published([f"msg-{t}-{i}"])

    assert in_threads([lambda t=t: ask_and_answer(t) for t in range(THREADS)]) == [None] * THREADS
    assert log.stats().by_status == {"published": THREADS * 10} and log.unpublished() == []
    assert sum(log.published) == THREADS * 10 and len(log.published) < THREADS * 10
    assert all([e.status for e in log.events(f"msg-{t}-9")] == ["received", "published"] for t in range(THREADS))
    assert log.verify_chain().records == 2 * THREADS * 10


def exchange(n: int, **changes) -> list[Accepted]:
    """A request/reply exchange as the gateway logs it: question, the destination's answer, the hub's reply."""
    question = record(f"q{n}", **{"message_type": "VisaEligibilityQuery", "source_message_id": None, **changes})
    answer = record(f"a{n}", message_type="VisaEligibilityResult", source_agency="licensing", destination="police",
                    source_message_id=None, correlation_id=question.message_id)
    reply = record(f"r{n}", message_type="CheckVisaEligibilityResponse", source_agency="hub", destination="police",
                   source_message_id=None, correlation_id=question.message_id)
    return [question, answer, reply]


def test_concurrent_exchanges_share_one_commit_stored_as_sent(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    rest = [lambda n=n: committer.store_sent(exchange(n)) for n in range(1, THREADS)]
    results = held_group(log, committer, lambda: committer.store_sent(exchange(0)), rest)
    assert results == [[f"msg-{kind}{n}" for kind in "qar"] for n in range(THREADS)]
    # one write for the first exchange, one shared by the fifteen queued behind it; nothing else
    assert log.sent == [3, 3 * (THREADS - 1)] and log.batches == [] and log.published == []
    assert committer.groups == 2
    assert log.stats().by_status == {"published": 3 * THREADS} and log.unpublished() == []
    assert all([e.status for e in log.events(f"msg-{kind}{n}")] == ["received", "published"]
               for kind in "qar" for n in range(THREADS))
    assert log.get("msg-a3").published_at is not None and log.get("msg-a3").correlation_id == "msg-q3"
    assert log.verify_chain().records == 2 * 3 * THREADS


def test_a_repeat_in_an_exchange_fails_only_its_own_caller(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    first = lambda: committer.store_sent([record(0)])  # noqa: E731 - holds the leader's transaction
    # its question repeats msg-0: the same agency id and content
    repeat = exchange(1, source_message_id="police-0", message_type="WorkerArrival", raw=record(0).raw)
    results = held_group(log, committer, first, [lambda: committer.store_sent(repeat),
                                                 lambda: committer.store_sent(exchange(2))])
    assert results[0] == ["msg-0"] and results[2] == ["msg-q2", "msg-a2", "msg-r2"]
    assert isinstance(results[1], DuplicateMessageError) and results[1].first_message_id == "msg-0"
    assert log.sent == [1, 6]  # the repeat did not split the group: only its caller hears of it
    assert log.get("msg-q1") is None and log.get("msg-a1").status == "published"


def test_a_malformed_exchange_is_refused_alone(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    broken = exchange(1)
    broken[1] = record("a1", routing_key="", source_message_id=None)
    results = held_group(log, committer, lambda: committer.store_sent(exchange(0)),
                         [lambda: committer.store_sent(broken), lambda: committer.store_sent(exchange(2))])
    assert isinstance(results[1], MessageLogError) and "routing_key" in results[1].reason
    assert results[2] == ["msg-q2", "msg-a2", "msg-r2"]
    assert log.get("msg-q1") is None  # one transaction per exchange: none of the broken one is stored
    assert log.verify_chain().records == 2 * 3 * 2


@pytest.fixture
def unreachable_url(log_url, tmp_path):
    """A log whose database cannot be reached: a missing folder, or a database the real server lacks."""
    if log_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'messages.sqlite3'}"
    return log_url.rsplit("/", 1)[0] + f"/rabt_missing_{uuid.uuid4().hex[:8]}"


def test_the_database_down_reaches_every_waiter_of_the_group(unreachable_url):
    log = CountingLog(make_engine(unreachable_url), hold=True)
    committer = GroupCommitter(log)
    rest = [lambda i=i: committer.accept(record(i)) for i in range(1, THREADS)]
    try:
        results = held_group(log, committer, lambda: committer.accept(record(0)), rest)
        published = outcome(lambda: committer.mark_published(["msg-1"]))
    finally:
        log.close()
    assert all(isinstance(r, MessageLogError) and "could not store the messages" in r.reason for r in results)
    assert isinstance(published, MessageLogError) and "mark messages published" in published.reason
    assert log.batches == [1, THREADS - 1]  # no retry of each record alone: it is not their fault
    assert isinstance(results[1].__cause__, sa.exc.OperationalError)


def checkouts(engine) -> list:
    """The pool checkouts of ``engine`` from now on, one entry each."""
    seen = []
    sa.event.listen(engine, "checkout", lambda *_: seen.append(1))
    return seen


def test_the_leaders_write_through_one_connection_kept_between_groups(opened, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 60.0)
    log = opened()
    committer = GroupCommitter(log)
    committer.accept(record(0))  # the lane is registered and the connection checked out
    seen = checkouts(log.engine)
    for n in range(1, 6):
        assert committer.accept(record(n)) == f"msg-{n}"
    committer.mark_published(["msg-1", "msg-2"])
    assert seen == [] and log.batches == [1] * 6 and log.published == [2]
    committer.close()  # gives it back: a later direct write checks one out as before
    log.accept(record(9))
    assert len(seen) == 1 and log.stats().by_status == {"received": 5, "published": 2}
    assert log.verify_chain().records == 9  # seven acceptances, two publications


def test_a_kept_connection_idle_too_long_goes_back_and_a_tested_one_is_checked_out(opened, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    log = opened()
    committer = GroupCommitter(log)
    committer.accept(record(0))
    seen = checkouts(log.engine)
    for n in range(1, 4):
        committer.accept(record(n))
    assert len(seen) == 3 and log.stats().by_status == {"received": 4}
    committer.close()


def test_a_kept_connection_lost_is_an_outage_once_then_replaced(opened, monkeypatch, log_url):
    if log_url.startswith("sqlite"):
        return  # a SQLite file has no server to drop the connection: only PostgreSQL can lose it
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 60.0)
    log = opened()
    committer = GroupCommitter(log)
    committer.accept(record(0))
    with log.engine.connect() as admin:
        backends = admin.exec_driver_sql("SELECT pid FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND pid <> pg_backend_pid()").all()
        for (pid,) in backends:  # the kept connection among them: the server drops it
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    with pytest.raises(MessageLogUnavailableError):
        committer.accept(record(1))
    assert committer.accept(record(2)) == "msg-2"  # a new connection from the pool
    assert log.get("msg-1") is None and log.verify_chain().records == 2
    committer.close()


def test_a_closed_committer_refuses_new_writes(opened):
    log = opened()
    committer = GroupCommitter(log)
    assert committer.accept(record(1)) == "msg-1"
    committer.close()
    with pytest.raises(MessageLogError, match="closed"):
        committer.accept(record(2))
    assert log.get("msg-2") is None and log.get("msg-1") is not None


def test_max_group_must_be_a_positive_integer(opened):
    with pytest.raises(MessageLogError, match="max_group"):
        GroupCommitter(opened(), max_group=0)


# --- lingering for writes on their way --------------------------------------------

def announced_writer(committer: GroupCommitter, n: int, go: threading.Event, write: bool = True):
    """A thread that announces record ``n`` (committer.coming()), then, once ``go`` is set, writes it or gives up."""
    inside, outcome = threading.Event(), []

    def run() -> None:
        try:
            with committer.coming():
                inside.set()
                go.wait(10)
                if not write:
                    raise ValueError("refused while building")
                outcome.append(committer.accept(record(n)))
        except ValueError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert inside.wait(10)
    return thread, outcome


def timed_accept(committer: GroupCommitter, n: int) -> tuple[threading.Thread, list]:
    """``committer.accept(record(n))`` in a thread; its outcome and the seconds it took."""
    outcome = []

    def run() -> None:
        started = time.monotonic()
        outcome.append(committer.accept(record(n)))
        outcome.append(time.monotonic() - started)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_leader_waits_for_an_announced_write_and_commits_both_at_once(opened):
    log = opened()
    committer = GroupCommitter(log, linger=1.0)
    go = threading.Event()
    writer, written = announced_writer(committer, 1, go)
    leader, led = timed_accept(committer, 0)
    time.sleep(0.2)  # the leader is queued and waiting for record 1
    assert log.batches == [] and leader.is_alive()
    go.set()
    writer.join(10), leader.join(10)
    assert written == ["msg-1"] and led[0] == "msg-0"
    assert log.batches == [2] and committer.groups == 1  # one commit for both


def test_a_leader_waits_no_longer_than_the_linger(opened):
    log = opened()
    committer = GroupCommitter(log, linger=0.1)
    go = threading.Event()
    writer, written = announced_writer(committer, 1, go)
    leader, led = timed_accept(committer, 0)
    leader.join(10)
    assert led[0] == "msg-0" and 0.09 <= led[1] < 3  # waited its linger, then wrote alone
    go.set()
    writer.join(10)
    assert written == ["msg-1"] and log.batches == [1, 1]


def test_a_caller_that_gives_up_releases_the_leader_at_once(opened):
    log = opened()
    committer = GroupCommitter(log, linger=1.0)
    go = threading.Event()
    writer, written = announced_writer(committer, 1, go, write=False)
    leader, led = timed_accept(committer, 0)
    time.sleep(0.1)
    go.set()
    writer.join(10), leader.join(10)
    assert isinstance(written[0], ValueError) and led[0] == "msg-0" and led[1] < 0.9
    assert log.batches == [1] and log.get("msg-1") is None


def test_with_nobody_on_the_way_a_lone_caller_writes_at_once(opened):
    log = opened()
    committer = GroupCommitter(log, linger=1.0)
    leader, led = timed_accept(committer, 0)
    leader.join(10)
    assert led[0] == "msg-0" and led[1] < 0.9 and log.batches == [1]


def test_linger_must_be_between_zero_and_one_second(opened):
    for linger in (-0.1, 2, "0.1"):
        with pytest.raises(MessageLogError, match="linger"):
            GroupCommitter(opened(), linger=linger)


# --- wiring: the pipeline and the Hub ------------------------------------------

ARRIVAL = """<b:Arrival xmlns:b="urn:test:border"><b:Passport>T{n:07d}</b:Passport>
<b:NameEn>Rajesh Kumar Nair</b:NameEn><b:NameAr>راجيش كومار ناير</b:NameAr>
<b:Nationality>IND</b:Nationality><b:Born>1991-03-14</b:Born><b:At>2026-11-22T03:41:07Z</b:At></b:Arrival>"""


def test_pipeline_accepts_through_the_committer_with_the_same_receipts(opened, trust_store):
    log = opened()
    committer = GroupCommitter(log)
    pipeline = Pipeline(mappings=Mappings(FIXTURE_MAPPINGS), signer=Signer(trust_store.hub),
                        verifier=Verifier(trust_store), log=log, committer=committer,
                        may_send=lambda agency, message_type: message_type == "WorkerArrival")

    def push(n: int):
        raw = ARRIVAL.format(n=n).encode()
        inbound = Inbound(agency="police", system="border", message_type="WorkerArrival", destination="licensing",
                          raw=raw, source_message_id=f"ROP-{n}")
        return pipeline.accept(inbound, parse_xml(raw))

    receipts = in_threads([lambda t=t: [push(n) for n in range(5)] for t in range(8)])
    assert 0 < committer.groups == len(log.batches)  # every accept went through the committer
    stored = {m.source_message_id: m.message_id for m in log.find(limit=100)}
    for n in range(5):
        answers = [receipts[t][n] for t in range(8)]
        first = stored[f"ROP-{n}"]
        assert sorted(r.duplicate for r in answers) == [False] + [True] * 7
        assert {r.message_id for r in answers} == {first}
    assert log.stats().by_status == {"received": 5} and log.verify_chain().records == 5


def test_the_hub_builds_one_committer_and_closes_it(tmp_path, trust_store):
    log = open_message_log(f"sqlite:///{tmp_path / 'messages.sqlite3'}")
    hub = bootstrap(Settings(home=tmp_path / "home"), log=log, trust_store=trust_store)
    assert hub.committer is hub.committer and hub.committer.log is log
    assert hub.committer.accept(record(1)) == "msg-1"
    hub.close()
    with pytest.raises(MessageLogError, match="closed"):
        hub.committer.accept(record(2))
