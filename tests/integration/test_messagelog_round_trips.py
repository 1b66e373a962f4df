"""On PostgreSQL a push's write and a relay's confirm each wait for the server twice: reads, then writes and commit.

The write path sends its statements in a pipeline (:func:`hub.messagelog.pipelines.pipelined`):
everything sent before a read shares the round trip that read waits for.
Each round trip is a wake-up of the server's backend and of the hub's
thread; the record numbers used to cost one of their own after the reads,
and a confirm four (the lane's lock, two look-ups, the numbers) before its
writes. Counted here in what the driver sent (:mod:`tests.integration.sent_statements`):
a Flush or Sync, asking the server to answer, after statements sent since
the last one is a round trip, and so is a BEGIN or COMMIT psycopg sends
alone. Neither is sent: the pipeline sends the BEGIN with the first reads and
the COMMIT with the writes (:func:`hub.messagelog.pipelines.pipelined`); Core's
commit, which was a round trip of its own after them, then has nothing to send.
A COMMIT that fails there is the write's error, never a success.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import sqlalchemy as sa

from hub.errors import DuplicateMessageError, MessageLogError
from hub.messagelog import GroupCommitter, db, open_message_log, prepared
from hub.messagelog.schema import lanes, timestamp
from tests.integration.test_messagelog_statement_shapes import pair, write_groups
from tests.integration.sent_statements import SentStatements

pytestmark = pytest.mark.postgres


class Trips:
    """Statements the log's engine sent, and its waits for the server, in order; round trips among them."""

    def __init__(self, sent: SentStatements) -> None:
        self.events = sent.take()

    def count(self) -> int:
        """Waits for the server: a Flush or a Sync after something new was sent (a Sync then a Flush is one),
        and each BEGIN, COMMIT or ROLLBACK the driver sent alone."""
        trips, unsent = 0, False
        for sent in self.events:
            if sent.control is not None:
                trips += 1
            elif sent.text is not None:
                unsent = True
            elif unsent:
                trips, unsent = trips + 1, False
        return trips

    def sent_before_first_read(self) -> list[str]:
        """The statements sent before the first wait for them (psycopg's wait on its BEGIN has none before it)."""
        sent = []
        for event in self.events:
            if event.text is None and sent:
                return sent
            if event.text is not None:
                sent.append(event.text)
        return sent


def test_a_push_and_a_confirm_wait_for_the_server_twice_each(new_postgres_database):
    with open_message_log(new_postgres_database()) as log, SentStatements(log.engine) as sent:
        writer = log.holding()
        written = write_groups(writer, [1, 1])  # the lane is registered, the statements are prepared
        log.mark_published([pending.message_id for pending in log.unpublished(10)])
        sent.take()
        write_groups(writer, [1], written)
        push = Trips(sent)
        assert log.mark_published([f"msg-{written}", "msg-0"]) == 1  # msg-0 was marked before
        confirm = Trips(sent)
        assert log.verify_chain().ok
    # the record numbers go with the lane's lock, in its statement, and the duplicate check after it, not in a
    # round trip of their own; the COMMIT goes with the writes
    assert push.count() == 2, push.events
    # the transaction's BEGIN went with the first reads: no wait before the first statement (the BEGIN, the
    # driver's own, is not among the events; psycopg's sync on a BEGIN of its own would be the first event)
    assert push.events[0].text is not None and confirm.events[0].text is not None, (push.events, confirm.events)
    numbered_lock = "SELECT seq, hash, ARRAY(SELECT nextval('audit_chain_record_seq')"
    assert [statement.startswith(numbered_lock) for statement in push.sent_before_first_read()] == [True, False]
    assert confirm.count() == 2, confirm.events
    before_read = confirm.sent_before_first_read()
    assert [statement.startswith(numbered_lock) for statement in before_read] == [True, False, False], before_read


def test_a_report_and_its_hops_wait_for_the_server_twice_and_a_repeat_chains_nothing(new_postgres_database):
    with open_message_log(new_postgres_database()) as log, SentStatements(log.engine) as sent:
        write_groups(log.holding(), [3])
        report = dataclasses.replace(pair(9)[0], message_id="receipt-1", message_type="DeliveryReceipt",
                                     source_agency="licensing", destination="hub", source_message_id="licensing-1",
                                     routing_key="hub.DeliveryReceipt.licensing", correlation_id=None)
        hops = [("msg-0", "applied", "applied", None), ("msg-1", "failed", "refused", None),
                ("msg-0", "applied", "again", None)]
        sent.take()
        assert log.store_report(report, hops).stored == ["receipt-1"]
        stored = Trips(sent)
        repeat = dataclasses.replace(report, message_id="receipt-2")
        assert log.store_report(repeat, [("msg-2", "applied", "applied", None)]).duplicates
        statuses = [log.get(f"msg-{n}").status for n in range(3)]
        events = [[e.status for e in log.events(f"msg-{n}")] for n in range(3)]
        report_events = [e.status for e in log.events("receipt-1")]
        assert log.verify_chain().ok
    # the lane's lock and the look-ups, then the report's rows, its hops and the COMMIT: before, the hops' record
    # numbers, chain records, lane head and statuses were a round trip each after the report's writes
    assert stored.count() == 2, stored.events
    assert statuses == ["applied", "failed", "received"]
    assert events == [["received", "applied", "applied"], ["received", "failed"], ["received"]]
    assert report_events == ["received", "published"]


def test_a_duplicate_leaves_its_record_numbers_unused_and_the_chain_whole(new_postgres_database):
    with open_message_log(new_postgres_database()) as log:
        record, receipt = pair(1)
        log.accept(record, answer=receipt)
        again = dataclasses.replace(record, message_id="msg-1-again")
        with pytest.raises(DuplicateMessageError):
            log.accept(again, answer=receipt)
        after, answer = pair(2)
        log.accept(after, answer=answer)
        report = log.verify_chain()
        with log.engine.connect() as conn:
            numbers = [seq for (seq,) in prepared.fetch(conn, "SELECT seq FROM audit_chain ORDER BY lane_seq")]
    assert report.ok and report.records == 6
    # the duplicate took the three numbers a new push and its receipt would have used: a gap, never a reuse
    first = numbers[0]
    assert numbers == [first, first + 1, first + 2, first + 6, first + 7, first + 8], numbers


def test_a_transaction_after_a_pipelined_write_on_the_same_connection_is_still_one(new_postgres_database):
    """The pipeline begins its transaction itself (the driver in autocommit meanwhile): the next transaction
    Core begins on that connection is the driver's again, its statements undone together by a rollback."""
    with open_message_log(new_postgres_database()) as log:
        log.accept(*pair(0)[:1])  # the lane is registered (a transaction of its own)
        log.engine.dispose()  # from here on one connection, made by the next write and reused after it
        write_groups(log, [1, 2], 1)  # pipelined writes, each beginning its transaction in the pipeline
        with pytest.raises(RuntimeError), db.write_transaction(log.engine) as conn:
            assert conn.connection.driver_connection.autocommit is False
            conn.execute(sa.insert(lanes), {"lane_id": "undone", "host": "h", "pid": 1, "opened_at": timestamp(),
                                            "seq": 0, "hash": "0" * 64})
            conn.execute(sa.update(lanes).where(lanes.c.lane_id == "undone").values(seq=1))
            raise RuntimeError("rolled back: neither statement may stay")
        assert log.engine.pool.checkedin() == 1  # that one connection, the pipelined writes' own
        with log.engine.connect() as conn:
            left = conn.execute(sa.select(lanes.c.lane_id).where(lanes.c.lane_id == "undone")).all()
        assert left == [] and log.verify_chain().ok and log.stats().chain_records == 10


# A deferred constraint trigger runs at COMMIT: the server refuses the COMMIT itself, after every statement passed.
_REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT OR DELETE ON outbox
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();
"""


def test_a_commit_the_server_refuses_is_the_writes_error_and_the_connection_writes_on(new_postgres_database):
    """The COMMIT goes in the write's pipeline: refused there, the write fails (nothing stored, no receipt),
    and the same kept connection, then a pooled one, write the next messages."""
    url = new_postgres_database()
    with open_message_log(url) as log:
        committer = GroupCommitter(log)
        first, first_receipt = pair(0)
        committer.accept(first, answer=first_receipt)  # the lane is registered and the kept connection made
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            admin.execute(_REFUSE_AT_COMMIT)
            record, receipt = pair(1)
            with pytest.raises(MessageLogError, match="refused at commit"):
                committer.accept(record, answer=receipt)
            published = [pending.message_id for pending in log.unpublished(10)]
            with pytest.raises(MessageLogError, match="refused at commit"):
                log.mark_published(published)  # its outbox rows deleted: refused at commit too
            assert [pending.message_id for pending in log.unpublished(10)] == published == ["msg-0"]
            admin.execute("DROP TRIGGER refuse_at_commit ON outbox")
        assert committer.accept(record, answer=receipt) == "msg-1"  # the same record: stored now
        assert log.mark_published(["msg-0", "msg-1"]) == 2
        committer.close()
        report, stats = log.verify_chain(), log.stats()
    assert report.ok and stats.chain_records == 8 and stats.by_status == {"published": 4}, (report, stats)
