"""Statements run on the driver's cursor fail as Core's would: the same exception classes, the same outage signal.

The write path runs its hot statements without SQLAlchemy Core
(:mod:`hub.messagelog.prepared`); the retry on a unique-key race and the
outage handling (MessageLogUnavailableError, a retryable fault) rest on the
exceptions Core raised, so these are checked on both databases.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from hub.errors import MessageLogUnavailableError
from hub.messagelog import db, open_message_log, pipelines, prepared
from hub.messagelog.schema import lanes as lanes_table
from tests.integration.sent_statements import SentStatements


@pytest.fixture
def log(database_url):
    with open_message_log(database_url) as opened:
        yield opened


def test_a_unique_key_refusal_is_sqlalchemys_integrity_error(log):
    insert = "INSERT INTO lanes (lane_id, host, pid, opened_at, seq, hash) VALUES (?, 'h', 1, 't', 0, 'x')"
    with pytest.raises(sa.exc.IntegrityError) as caught, db.write_transaction(log.engine) as conn:
        prepared.execute_many(conn, insert, [("twice",), ("twice",)])
    assert not caught.value.connection_invalidated
    with log.engine.connect() as conn:  # rolled back as a whole, and the pooled connection still works
        assert prepared.fetch(conn, "SELECT count(*) FROM lanes WHERE lane_id = ?", ("twice",)) == [(0,)]


def test_a_bad_statement_is_not_taken_for_the_database_being_down(log):
    with pytest.raises(Exception) as caught, db.translated("read"), log.engine.connect() as conn:
        prepared.fetch(conn, "SELECT no_such_column FROM lanes")
    assert type(caught.value).__name__ == "MessageLogError"
    assert isinstance(caught.value.__cause__, sa.exc.DBAPIError)


@pytest.mark.postgres
@pytest.mark.parametrize("pipelined", [False, True], ids=["one statement", "in a pipeline"])
def test_a_connection_lost_under_the_driver_is_an_outage_and_leaves_the_pool(postgres_database_url, pipelined):
    with open_message_log(postgres_database_url) as log:
        with pytest.raises(MessageLogUnavailableError) as caught, db.translated("write"), \
                db.write_transaction(log.engine) as conn:
            [(pid,)] = prepared.fetch(conn, "SELECT pg_backend_pid()")
            with psycopg.connect(postgres_database_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            if pipelined:
                with pipelines.pipelined(conn):
                    prepared.execute(conn, "UPDATE lanes SET seq = seq WHERE lane_id = ?", ("any",))
            else:
                prepared.execute(conn, "UPDATE lanes SET seq = seq WHERE lane_id = ?", ("any",))
        assert caught.value.__cause__.connection_invalidated  # as Core marks it: the pool drops the connection
        with log.engine.connect() as conn:  # and a new one serves the next write
            [(other,)] = prepared.fetch(conn, "SELECT pg_backend_pid()")
        assert other != pid


@pytest.mark.postgres
def test_a_connection_lost_while_idle_is_replaced_on_checkout_without_an_error(postgres_database_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    with open_message_log(postgres_database_url) as log:
        with log.engine.connect() as conn:
            [(pid,)] = prepared.fetch(conn, "SELECT pg_backend_pid()")
        with psycopg.connect(postgres_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with log.engine.connect() as conn:  # tested on checkout, found dead, replaced
            [(other,)] = prepared.fetch(conn, "SELECT pg_backend_pid()")
        assert other != pid


@pytest.mark.postgres
def test_a_connection_used_a_moment_ago_is_not_tested_again(postgres_database_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 60.0)
    with open_message_log(postgres_database_url) as log:
        pings = []
        real_ping = log.engine.dialect.do_ping
        monkeypatch.setattr(log.engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
        for _ in range(3):
            with log.engine.connect() as conn:
                assert prepared.fetch(conn, "SELECT 1") == [(1,)]
        assert pings == []  # a round trip less on every write
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    with open_message_log(postgres_database_url) as log:
        monkeypatch.setattr(log.engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
        for _ in range(2):
            with log.engine.connect() as conn:
                prepared.fetch(conn, "SELECT 1")
        assert len(pings) == 2  # idle past the limit (opening the log used it already): tested each time


def test_many_rows_are_inserted_in_chunks_of_one_statement_each_and_all_arrive(log, monkeypatch, request):
    monkeypatch.setattr(prepared, "ROWS_PER_INSERT", 2)
    sent = SentStatements(log.engine)
    request.addfinalizer(sent.close)
    insert = prepared.insert_sql(lanes_table, ("lane_id", "host", "pid", "opened_at", "seq", "hash"))
    rows = [(f"chunked-{n}", "h", n, "t", 0, "x") for n in range(5)]
    with db.write_transaction(log.engine) as conn:
        prepared.execute_many(conn, insert, rows)
    # each INSERT: the rows of its VALUES list after the first, and the values sent with it (once a row it ran for)
    inserts = [(statement.text.count("), ("), statement.params) for statement in sent.take()
               if (statement.text or "").startswith("INSERT") for _ in range(statement.rows)]
    with log.engine.connect() as conn:
        stored = prepared.fetch(conn, "SELECT lane_id, pid FROM lanes WHERE lane_id LIKE ? ORDER BY pid", ("chunked-%",))
    assert stored == [(f"chunked-{n}", n) for n in range(5)]
    if log.engine.dialect.name == "sqlite":  # in-process: the driver's executemany, one row at a time
        assert inserts == [(0, 6)] * 5
    else:  # two statements of two rows and one of the last row, every value sent once
        assert inserts == [(1, 12), (1, 12), (0, 6)]


def test_a_row_without_its_first_value_is_refused_not_dropped_with_the_padding(log):
    insert = prepared.insert_sql(lanes_table, ("lane_id", "host", "pid", "opened_at", "seq", "hash"))
    rows = [("padded-1", "h", 1, "t", 0, "x"), (None, "h", 2, "t", 0, "x"), ("padded-3", "h", 3, "t", 0, "x")]
    with pytest.raises(sa.exc.IntegrityError), db.write_transaction(log.engine) as conn:
        prepared.execute_many(conn, insert, rows)  # three rows: on PostgreSQL padded to four, unless one has no id
    with log.engine.connect() as conn:
        assert prepared.fetch(conn, "SELECT count(*) FROM lanes WHERE lane_id LIKE ?", ("padded-%",)) == [(0,)]


def test_changed_is_the_count_of_rows_a_statement_changed(log):
    insert = ("INSERT INTO lanes (lane_id, host, pid, opened_at, seq, hash) VALUES (?, 'h', 1, 't', 0, 'x')"
              " ON CONFLICT DO NOTHING")
    with db.write_transaction(log.engine) as conn:
        assert [prepared.changed(conn, insert, (lane,)) for lane in ("c-1", "c-2", "c-1")] == [1, 1, 0]
        assert prepared.changed(conn, "UPDATE lanes SET seq = seq + 1 WHERE lane_id IN (?, ?)", ("c-1", "c-2")) == 2
        assert prepared.changed(conn, "UPDATE lanes SET seq = 0 WHERE lane_id = ?", ("none",)) == 0
        assert prepared.changed(conn, "DELETE FROM lanes WHERE lane_id = ?", ("c-2",)) == 1
    with log.engine.connect() as conn:
        assert prepared.fetch(conn, "SELECT lane_id, seq FROM lanes WHERE lane_id LIKE 'c-%'") == [("c-1", 1)]
