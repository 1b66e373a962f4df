"""On PostgreSQL a push's write and a relay's confirm each wait for the server twice: reads, then writes.

The write path sends its statements in a pipeline (:func:`hub.messagelog.prepared.pipelined`):
everything sent before a read shares the round trip that read waits for.
Each round trip is a wake-up of the server's backend and of the hub's
thread; the record numbers used to cost one of their own after the reads,
and a confirm four (the lane's lock, two look-ups, the numbers) before its
writes. Counted here in what the driver sent (:mod:`tests.integration.sent_statements`):
a Flush or Sync, asking the server to answer, after statements sent since
the last one is a round trip. The commit is one more, as before, and not
counted; so is psycopg's BEGIN, which it sends and waits for on its own at a
transaction's first statement in a pipeline.
"""

from __future__ import annotations

import dataclasses

import pytest

from hub.errors import DuplicateMessageError
from hub.messagelog import open_message_log, prepared
from tests.integration.test_messagelog_statement_shapes import pair, write_groups
from tests.integration.sent_statements import SentStatements

pytestmark = pytest.mark.postgres


class Trips:
    """Statements the log's engine sent, and its waits for the server, in order; round trips among them."""

    def __init__(self, sent: SentStatements) -> None:
        self.events = sent.take()

    def count(self) -> int:
        """Waits for the server (a Flush or a Sync) after something new was sent; a Sync then a Flush is one."""
        trips, unsent = 0, False
        for sent in self.events:
            if sent.text is not None:
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
    # the record numbers go with the lane's lock and the duplicate check, not in a round trip of their own
    assert push.count() == 2, push.events
    assert push.sent_before_first_read()[-1].split()[0:2] == ["SELECT", "nextval('audit_chain_record_seq')"]
    assert confirm.count() == 2, confirm.events
    before_read = confirm.sent_before_first_read()
    assert sum("nextval" in statement for statement in before_read) == 1 and len(before_read) == 4, before_read


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
