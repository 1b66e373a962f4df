"""On PostgreSQL a push's write and a relay's confirm each wait for the server twice: reads, then writes.

The write path sends its statements in a pipeline (:func:`hub.messagelog.prepared.pipelined`):
everything sent before a read shares the round trip that read waits for.
Each round trip is a wake-up of the server's backend and of the hub's
thread; the record numbers used to cost one of their own after the reads,
and a confirm four (the lane's lock, two look-ups, the numbers) before its
writes. Counted here through the cursors the log takes: a read after
statements sent since the last wait is a round trip, and so are statements
still unread when the write ends (the pipeline's end). The commit is one
more, as before, and not counted.
"""

from __future__ import annotations

import dataclasses

import pytest

from hub.errors import DuplicateMessageError
from hub.messagelog import open_message_log, prepared
from tests.integration.test_messagelog_statement_shapes import pair, write_groups
from tests.integration.test_push_one_write import CountingCursor

pytestmark = pytest.mark.postgres


class RecordingCursor(CountingCursor):
    """A :class:`CountingCursor` that also tells ``note(statement, None)`` when its rows are read."""

    def __init__(self, cursor, note) -> None:
        super().__init__(cursor, note)
        self._read, self._statement = note, None

    def execute(self, statement, *params, **options):
        self._statement = statement
        return super().execute(statement, *params, **options)

    def fetchall(self):
        self._read(self._statement, None)
        return self._cursor.fetchall()


class Trips:
    """Statements sent and read through the log's driver cursors, in order; round trips among them."""

    def __init__(self, monkeypatch) -> None:
        self.events: list[tuple[str, int | None]] = []
        driver_cursor = prepared.driver_cursor
        monkeypatch.setattr(prepared, "driver_cursor", lambda conn: RecordingCursor(
            driver_cursor(conn), lambda statement, rows: self.events.append((statement, rows))))

    def count(self) -> int:
        """Waits for the server: reads after something new was sent, and what is unread at the end."""
        trips, unsent = 0, False
        for _statement, rows in self.events:
            if rows is not None:
                unsent = True
            elif unsent:
                trips, unsent = trips + 1, False
        return trips + unsent

    def sent_before_first_read(self) -> list[str]:
        reads = [i for i, (_, rows) in enumerate(self.events) if rows is None]
        return [statement for statement, _ in self.events[:reads[0]]]


def test_a_push_and_a_confirm_wait_for_the_server_twice_each(new_postgres_database, monkeypatch):
    with open_message_log(new_postgres_database()) as log:
        writer = log.holding()
        written = write_groups(writer, [1, 1])  # the lane is registered, the statements are prepared
        log.mark_published([pending.message_id for pending in log.unpublished(10)])
        trips = Trips(monkeypatch)
        write_groups(writer, [1], written)
        push = trips.count(), trips.sent_before_first_read()
        trips.events.clear()
        assert log.mark_published([f"msg-{written}", "msg-0"]) == 1  # msg-0 was marked before
        confirm = trips.count(), trips.sent_before_first_read()
        assert log.verify_chain().ok
    # the record numbers go with the lane's lock and the duplicate check, not in a round trip of their own
    assert push[0] == 2, trips.events
    assert [statement.split()[0:2] for statement in push[1]][-1] == ["SELECT", "nextval('audit_chain_record_seq')"]
    assert confirm[0] == 2, trips.events
    assert sum("nextval" in statement for statement in confirm[1]) == 1 and len(confirm[1]) == 4, confirm[1]


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
