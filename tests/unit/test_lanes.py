"""Lanes and anchors of the message log, on SQLite and the real PostgreSQL.

Two :class:`MessageLog` objects on one database stand for two writing
processes: each takes its own lane on its first write. Tampering is done with
plain SQL behind the log's back, as an intruder with database access would.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from hub.errors import AuditChainError, DuplicateMessageError, MessageLogError
from hub.messagelog import Accepted, open_message_log
from hub.messagelog.anchors import AnchorPolicy, AnchorSchedule, merkle_root
from hub.messagelog.chain import ChainEntry, entry_hash
from hub.messagelog.lanes import genesis


def record(n, **changes) -> Accepted:
    values = dict(
        message_id=f"msg-{n}", message_type="WorkerArrived", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrived.police", raw=f"<arrival n='{n}'/>".encode(),
        envelope=f"<Envelope n='{n}'/>".encode(), source_message_id=f"police-{n}",
        created_at=datetime(2026, 5, 1, tzinfo=timezone.utc))
    return Accepted(**{**values, **changes})


@pytest.fixture
def opened(database_url):
    """``opened()`` → another MessageLog on the test's database (another writing process's view)."""
    logs = []

    def open_one(**options):
        logs.append(open_message_log(database_url, **options))
        return logs[-1]

    yield open_one
    for log in logs:
        log.close()


def sql(log, statement: str, **params):
    with log.engine.begin() as conn:
        return conn.execute(sa.text(statement), params)


def lane_of(log) -> str:
    return log._lane.lane_id


def record_row(log, lane: str, seq: int):
    return sql(log, "SELECT * FROM audit_chain WHERE lane = :l AND lane_seq = :s", l=lane, s=seq).mappings().one()


def broken(log) -> AuditChainError:
    with pytest.raises(AuditChainError) as caught:
        log.verify_chain()
    report = log.verify_chain(raise_on_error=False)
    assert not report.ok and report.reason == caught.value.reason and report.record_id == caught.value.record_id
    return report


def two_lanes(opened, per_lane: int = 5):
    """Two writers on one log, interleaved; (first, second)."""
    first, second = opened(), opened()
    for n in range(per_lane):
        first.accept(record(f"a{n}"))
        second.accept(record(f"b{n}"))
    return first, second


# --- lanes -------------------------------------------------------------------

def test_each_writer_appends_to_its_own_lane_numbered_from_one(opened):
    first, second = two_lanes(opened)
    second.mark_published([f"msg-a{n}" for n in range(5)])  # another process may record events of any message
    assert lane_of(first) != lane_of(second)
    rows = sql(first, "SELECT lane, lane_seq, seq, prev_hash FROM audit_chain ORDER BY seq").all()
    for lane, count in ((lane_of(first), 5), (lane_of(second), 10)):
        mine = [row for row in rows if row.lane == lane]
        assert [row.lane_seq for row in mine] == list(range(1, count + 1))
        assert mine[0].prev_hash == genesis(lane)
    assert [row.seq for row in rows] == sorted({row.seq for row in rows})  # record numbers unique, growing
    assert [e.status for e in first.events("msg-a3")] == ["received", "published"]
    report = first.verify_chain()
    assert (report.records, report.lanes) == (15, 2)
    assert first.stats().chain_records == 15


def test_a_lane_is_registered_with_its_host_and_process(opened):
    log = opened()
    log.accept(record(1))
    row = sql(log, "SELECT * FROM lanes").mappings().one()
    assert row["lane_id"] == lane_of(log) and row["pid"] > 0 and row["host"]
    assert (row["seq"], row["hash"]) == (1, record_row(log, lane_of(log), 1)["hash"])


def test_reading_takes_no_lane(opened):
    log = opened()
    log.verify_chain(), log.stats(), log.find(), log.unpublished()
    assert sql(log, "SELECT count(*) FROM lanes").scalar_one() == 0


@pytest.mark.postgres
def test_a_writer_does_not_wait_for_another_process_holding_its_lane(postgres_database_url):
    """The point of lanes: one lane's locked head does not hold up another lane's appends."""
    first, second = open_message_log(postgres_database_url), open_message_log(postgres_database_url)
    try:
        first.accept(record(1))
        with first.engine.connect() as holder, holder.begin():
            holder.execute(sa.text("SELECT seq FROM lanes WHERE lane_id = :l FOR UPDATE"), {"l": lane_of(first)})
            started = time.monotonic()
            second.accept(record(2))  # with one head for everyone this waited until the holder let go
            assert time.monotonic() - started < 2
        second.verify_chain()
    finally:
        first.close(), second.close()


def test_the_same_agency_message_at_two_processes_at_once_is_a_duplicate_not_an_error(opened):
    first, second = opened(), opened()
    first.accept(record(0)), second.accept(record(0.5))  # both lanes registered
    outcome = []
    with first._writing("hold a commit open") as conn:
        from hub.messagelog import accepting
        accepting.store(conn, [record(1)])
        racer = threading.Thread(target=lambda: outcome.append(_attempt(second, record(2, source_message_id="police-1",
                                                                                        raw=record(1).raw))))
        racer.start()
        time.sleep(0.5)  # the second is past its duplicate check, waiting on the first's commit
    racer.join(30)
    [error] = outcome
    assert isinstance(error, DuplicateMessageError) and error.first_message_id == "msg-1"
    assert second.get("msg-2") is None
    second.verify_chain()


def _attempt(log, rec):
    try:
        return log.accept(rec)
    except Exception as exc:  # noqa: BLE001 - the outcome is asserted by the test
        return exc


# --- anchors -----------------------------------------------------------------

def test_an_anchor_binds_every_lanes_head_in_a_merkle_root(opened):
    first, second = two_lanes(opened, 3)
    anchor = first.anchor()
    heads = [(lane_of(log), 3, record_row(log, lane_of(log), 3)["hash"]) for log in (first, second)]
    assert (anchor.anchor_seq, anchor.lanes, anchor.records) == (1, 2, 6)
    assert anchor.root == merkle_root(heads) == merkle_root(reversed(heads))
    assert first.anchor() is None  # nothing moved since
    second.accept(record("b-late"))
    later = first.anchor()
    assert later.prev_hash == anchor.hash and later.records == 7
    assert sql(first, "SELECT heads FROM anchors WHERE anchor_seq = 2").scalar_one().count(lane_of(second)) == 1
    report = first.verify_chain()
    assert report.anchors == 2 and report.head_hash == later.root


def test_merkle_root_is_rfc_6962s_tree_hash():
    heads = [("a", 1, "x"), ("b", 2, "y"), ("c", 3, "z")]

    def leaf(head):
        return hashlib.sha256(b"\x00" + f'["{head[0]}",{head[1]},"{head[2]}"]'.encode()).digest()

    def node(left, right):
        return hashlib.sha256(b"\x01" + left + right).digest()

    assert merkle_root(heads) == node(node(leaf(heads[0]), leaf(heads[1])), leaf(heads[2])).hex()
    assert merkle_root(heads[:1]) == leaf(heads[0]).hex()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_a_writer_anchors_by_itself_after_so_many_records(opened):
    log = opened(anchoring=AnchorPolicy(every_records=3))
    for n in range(7):
        log.accept(record(n))
    assert sql(log, "SELECT records FROM anchors ORDER BY anchor_seq").scalars().all() == [3, 6]


def test_the_schedule_anchors_after_its_interval_unless_another_process_just_did(opened):
    log, other = opened(), opened()
    now = [0.0]
    schedule = AnchorSchedule(AnchorPolicy(every_seconds=60), clock=lambda: now[0])
    log.accept(record(1))
    assert schedule.after_write(log.engine, 1) is None  # not yet
    now[0] = 61
    assert schedule.after_write(log.engine, 1).anchor_seq == 1
    assert schedule.after_write(log.engine, 1) is None  # nothing new of ours
    other.accept(record(2))
    other.anchor()  # another process anchored a moment ago
    log.accept(record(3))
    now[0] = 200
    assert schedule.after_write(log.engine, 2) is None
    assert sql(log, "SELECT count(*) FROM anchors").scalar_one() == 2


def test_policy_limits_must_be_positive():
    for bad in ({"every_seconds": 0}, {"every_records": 0}, {"every_records": 2.5}):
        with pytest.raises(MessageLogError, match="positive"):
            AnchorPolicy(**bad)


# --- tampering ---------------------------------------------------------------

def test_a_changed_record_is_named_by_lane_and_number(opened):
    first, second = two_lanes(opened)
    sql(first, "UPDATE audit_chain SET at = '2020-01-01T00:00:00.000000Z' WHERE lane = :l AND lane_seq = 3",
        l=lane_of(second))
    report = broken(first)
    assert (report.lane, report.record_id) == (lane_of(second), 3) and "altered" in report.reason
    assert f"lane {lane_of(second)} record 3" in report.reason


def test_a_record_deleted_in_the_middle_of_a_lane_is_named(opened):
    first, _ = two_lanes(opened)
    sql(first, "DELETE FROM audit_chain WHERE lane = :l AND lane_seq = 2", l=lane_of(first))
    for table in ("outbox", "payloads", "messages"):  # even with its message gone
        sql(first, f"DELETE FROM {table} WHERE message_id = 'msg-a1'")
    report = broken(first)
    assert (report.lane, report.record_id) == (lane_of(first), 2) and "missing" in report.reason


def test_a_lane_tail_deleted_with_its_head_moved_back_is_caught_by_the_anchor(opened):
    first, second = two_lanes(opened)
    first.anchor()
    lane = lane_of(second)
    third = record_row(second, lane, 3)
    for seq in (4, 5):
        sql(first, "DELETE FROM audit_chain WHERE lane = :l AND lane_seq = :s", l=lane, s=seq)
    for mid in ("msg-b3", "msg-b4"):
        for table in ("outbox", "payloads", "messages"):
            sql(first, f"DELETE FROM {table} WHERE message_id = :m", m=mid)
    sql(first, "UPDATE lanes SET seq = 3, hash = :h WHERE lane_id = :l", h=third["hash"], l=lane)
    report = broken(first)
    assert (report.lane, report.record_id) == (lane, 4)
    assert "records 4 to 5 are missing: anchor 1 bound record 5" in report.reason


def test_a_lane_tail_deleted_after_the_last_anchor_is_caught_by_the_lane_head(opened):
    first, _ = two_lanes(opened)
    sql(first, "DELETE FROM audit_chain WHERE lane = :l AND lane_seq = 5", l=lane_of(first))
    report = broken(first)
    assert (report.lane, report.record_id) == (lane_of(first), 5) and "its head is 5" in report.reason


def test_a_lane_deleted_whole_is_caught_by_the_anchor(opened):
    first, second = two_lanes(opened, 2)
    first.anchor()
    lane = lane_of(second)
    sql(first, "DELETE FROM audit_chain WHERE lane = :l", l=lane)
    sql(first, "DELETE FROM lanes WHERE lane_id = :l", l=lane)
    report = broken(first)
    assert report.lane == lane and f"lane {lane} is missing: anchor 1 bound its record 2" == report.reason


def test_reordered_records_are_named(opened):
    first, _ = two_lanes(opened)
    lane = lane_of(first)
    sql(first, "UPDATE audit_chain SET lane_seq = -1 WHERE lane = :l AND lane_seq = 2", l=lane)
    sql(first, "UPDATE audit_chain SET lane_seq = 2 WHERE lane = :l AND lane_seq = 3", l=lane)
    sql(first, "UPDATE audit_chain SET lane_seq = 3 WHERE lane = :l AND lane_seq = -1", l=lane)
    report = broken(first)
    assert (report.lane, report.record_id) == (lane, 2)


def test_a_lane_rewritten_with_fresh_hashes_is_caught_by_the_anchor(opened):
    """Whoever recomputes every hash from a record on still cannot match what an anchor bound."""
    log = opened()
    for n in range(3):
        log.accept(record(n))
    log.anchor()
    lane = lane_of(log)
    prev = record_row(log, lane, 1)["hash"]
    for seq in (2, 3):
        fields = {k: record_row(log, lane, seq)[k] for k in ChainEntry.__dataclass_fields__}
        entry = ChainEntry(**{**fields, "at": "2020-01-01T00:00:00.000000Z"})
        digest = entry_hash(prev, seq, entry)
        sql(log, "UPDATE audit_chain SET at = :at, prev_hash = :p, hash = :h WHERE lane = :l AND lane_seq = :s",
            at=entry.at, p=prev, h=digest, l=lane, s=seq)
        prev = digest
    sql(log, "UPDATE lanes SET hash = :h WHERE lane_id = :l", h=prev, l=lane)
    report = broken(log)
    assert (report.lane, report.record_id) == (lane, 3) and "anchor 1 bound" in report.reason


@pytest.mark.parametrize("column, value, complaint", [
    ("root", "0" * 64, "do not match its hash"),
    ("heads", "[]", "Merkle root"),
    ("heads", "not json", "not the JSON"),
])
def test_a_changed_anchor_is_named(opened, column, value, complaint):
    first, _ = two_lanes(opened, 2)
    first.anchor()
    first.accept(record("late"))
    first.anchor()
    sql(first, f"UPDATE anchors SET {column} = :v WHERE anchor_seq = 1", v=value)
    report = broken(first)
    assert report.anchor_id == 1 and complaint in report.reason


def test_a_deleted_anchor_in_the_middle_is_named(opened):
    log = opened()
    for n in range(3):
        log.accept(record(n))
        log.anchor()
    sql(log, "DELETE FROM anchors WHERE anchor_seq = 2")
    report = broken(log)
    assert report.anchor_id == 3 and "anchor 2 is missing" in report.reason


def test_records_of_an_unknown_lane_are_named(opened):
    log = opened()
    log.accept(record(1))
    sql(log, "UPDATE audit_chain SET lane = 'intruder' WHERE lane_seq = 1")
    report = broken(log)
    assert report.lane == lane_of(log) and "missing" in report.reason
    sql(log, "UPDATE lanes SET seq = 0, hash = :g WHERE lane_id = :l", g=genesis(lane_of(log)), l=lane_of(log))
    assert broken(log).reason == "lane intruder record 1 belongs to no lane of the log"


def test_a_connection_bound_again_forgets_the_head_its_last_write_locked(tmp_path):
    from hub.messagelog import lanes

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bind.sqlite3'}")
    lane, other = lanes.Lane(engine), lanes.Lane(engine)
    with engine.connect() as conn:
        bound = lane.bind(conn)
        head = bound.get_execution_options()[lanes.HEAD_OPTION]
        head.value = ("lane", 3, "h" * 64)  # as lock() leaves it for the rest of a write
        again = lane.bind(bound)
        assert again is bound and again.get_execution_options()[lanes.HEAD_OPTION].value is None
        assert lanes.current(again) is lane
        elsewhere = other.bind(again)  # another lane: bound afresh
        assert lanes.current(elsewhere) is other
        assert elsewhere.get_execution_options()[lanes.HEAD_OPTION] is not head
    engine.dispose()
