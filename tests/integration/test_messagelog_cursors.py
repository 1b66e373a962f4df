"""The write path's statements run on cursors each driver connection keeps (:mod:`hub.messagelog.cursors`).

Kept, a cursor must never hand a statement another's rows: in a PostgreSQL
pipeline a statement sent now is read later, after others were sent and
read. After a failed statement the connection's next ones must run as on a
new connection. And a connection that wrote once makes no cursor again.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from hub.messagelog import db, open_message_log, pipelines, prepared
from tests.integration.test_messagelog_statement_shapes import write_groups

_ANY_LANE = "UPDATE lanes SET seq = seq WHERE lane_id = ?"


@pytest.fixture
def log(database_url):
    with open_message_log(database_url) as opened:
        yield opened


def echo(conn, value: str):
    """Send a statement answering ``value``; the function returned reads its rows."""
    return prepared.send(conn, "SELECT ?", (value,))


def test_statements_read_later_in_a_pipeline_each_get_their_own_rows(log):
    for _ in range(2):  # the second write on cursors the first left with the connection
        with db.write_transaction(log.engine) as conn, pipelines.pipelined(conn):
            first = echo(conn, "first")
            prepared.execute(conn, _ANY_LANE, ("none",))
            second = echo(conn, "second")
            assert prepared.fetch(conn, "SELECT ?", ("third",)) == [("third",)]
            prepared.execute_many(conn, _ANY_LANE, [("none",), ("nor this",)])
            fourth = echo(conn, "fourth")
            assert (second(), first()) == ([("second",)], [("first",)])
            assert prepared.fetch(conn, "SELECT ?", ("fifth",)) == [("fifth",)]  # on a cursor given back
            assert fourth() == [("fourth",)]


def test_after_a_failed_statement_the_connection_reads_and_writes_as_before(log):
    with log.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError), conn.begin():
            prepared.fetch(conn, "SELECT no_such_column FROM lanes")
        with pytest.raises(sa.exc.DBAPIError), conn.begin(), pipelines.pipelined(conn):
            sent = echo(conn, "sent before the failure")
            prepared.execute(conn, "UPDATE no_such_table SET x = 1")
            sent()
        with conn.begin(), pipelines.pipelined(conn):
            prepared.execute(conn, _ANY_LANE, ("none",))
            later = echo(conn, "later")
            assert prepared.fetch(conn, "SELECT ?", ("now",)) == [("now",)]
            assert later() == [("later",)]


def test_a_connection_that_wrote_makes_no_cursor_for_its_next_writes(tmp_path):
    made = []

    class Counting(sqlite3.Connection):
        """Counts the cursors made on it (the driver's public ``factory``: a connection class of one's own)."""

        def cursor(self, *args):
            made.append(args)
            return super().cursor(*args)

    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        sa.event.listen(log.engine, "do_connect", lambda _d, _r, _a, cparams: cparams.update(factory=Counting))
        log.engine.dispose()  # the next checkout connects through the factory
        writer = log.holding()
        written = write_groups(writer, [1, 2])
        made.clear()
        write_groups(writer, [1, 3, 2, 1], written)
        made_by_writes = list(made)
        assert log.verify_chain().ok
    # a cursor a statement cost about a tenth of a PostgreSQL write's instructions; none is made now
    assert made_by_writes == []


@pytest.mark.postgres
def test_rows_sent_for_are_read_once_not_from_a_cursor_another_statement_took_since(postgres_database_url):
    with open_message_log(postgres_database_url) as log, db.write_transaction(log.engine) as conn, \
            pipelines.pipelined(conn):
        first = echo(conn, "first")
        assert first() == [("first",)]
        echo(conn, "second")  # on the cursor the first gave back
        with pytest.raises(RuntimeError, match="read already"):
            first()


def test_execute_many_tells_how_many_rows_its_statements_changed_in_all(log):
    from hub.idempotency import processed_messages

    mark = prepared.insert_sql(processed_messages, ("consumer", "message_id", "processed_at"))
    rows = [("counted", f"m-{n}", "2024-05-20") for n in range(3)]
    with db.write_transaction(log.engine) as conn:
        assert prepared.execute_many(conn, mark, rows) == 3  # one multi-row INSERT on PostgreSQL
        assert prepared.execute_many(conn, mark + " ON CONFLICT DO NOTHING",
                                     rows[1:] + [("counted", "m-9", "2024-05-20")]) == 1  # one row per statement
        assert prepared.execute_many(conn, mark, []) == 0
