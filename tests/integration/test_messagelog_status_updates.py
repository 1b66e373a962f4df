"""On PostgreSQL a message's status changes stay on its page (HOT updates) and still find it by its key.

Revision 0012 dropped ``messages``' indexes on ``status`` and ``message_type``
and left room on its pages: the relay's and the receipts' UPDATEs then write
no index entry. Checked on the real server with the statements the log sends:
each update is counted as HOT by the server, each finds its rows through the
primary key, and a log written at revision 0011 is brought there keeping its
rows. The relay no longer locks the header row of a message in the outbox:
the outbox row's lock still orders two relays marking the same messages.
"""

from __future__ import annotations

import dataclasses
import threading

import psycopg
import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.messagelog import open_message_log, prepared, publishing, statuses
from hub.messagelog.db import make_engine
from hub.migrations.messagelog import MESSAGE_LOG
from tests.integration.test_messagelog_statement_shapes import pair, write_groups

pytestmark = pytest.mark.postgres

#: the relay's and the receipts' status changes, for a list of message ids as the log sends them
UPDATES = {
    "mark published": (publishing._PUBLISHED, ("2026-12-07T10:00:00.000000Z", "2026-12-07T10:00:00.000000Z")),
    "set statuses": (statuses._SET_STATUSES, ("delivered", "2026-12-07T10:00:01.000000Z")),
}


def statement(sql: str) -> str:
    """``sql`` with its id list as the log writes it on PostgreSQL, in the server's ``$n`` marks."""
    return prepared._driver_statement(sql.format(ids="message_id = ANY(?)"), "pyformat")[0]


def indexes_and_options(url: str) -> tuple[set[str], list[str] | None]:
    with psycopg.connect(url) as conn:
        names = {name for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")}
        [(options,)] = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'messages'").fetchall()
    return names, options


@pytest.mark.parametrize("update", UPDATES)
def test_a_status_change_is_a_hot_update_found_through_the_primary_key(new_postgres_database, update):
    url = new_postgres_database()
    with open_message_log(url) as log:
        write_groups(log.holding(), [4])
    sql, values = UPDATES[update]
    ids = [f"msg-{n}" for n in range(4)]
    with psycopg.connect(url, cursor_factory=psycopg.ClientCursor) as conn:  # EXECUTE's arguments as literals
        conn.execute(f"PREPARE change (text, text, text[]) AS {statement(sql)}")
        conn.execute("SET enable_seqscan = off")  # the table is tiny: would an index serve the rows?
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN EXECUTE change(%s, %s, %s)", (*values, ids)))
        changed = conn.execute("EXECUTE change(%s, %s, %s)", (*values, ids)).rowcount
        [(updated, hot)] = conn.execute("SELECT pg_stat_get_xact_tuples_updated('messages'::regclass), "
                                        "pg_stat_get_xact_tuples_hot_updated('messages'::regclass)").fetchall()
    assert "messages_pkey" in plan, plan
    # with status indexed, each of these wrote an entry into every index of messages
    assert (changed, updated, hot) == (4, 4, 4)


def test_a_log_at_revision_0011_loses_the_status_and_type_indexes_and_keeps_its_rows(new_postgres_database):
    url = new_postgres_database()
    engine = make_engine(url)
    MESSAGE_LOG.upgrade(engine, "0011")
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:  # a header row as revision 0011 held it
        conn.execute("INSERT INTO messages (message_id, message_type, source_agency, destination, routing_key, "
                     "raw_sha256, envelope_sha256, status, created_at, received_at, updated_at, chain_seq) "
                     "VALUES ('old-1', 'WorkerArrived', 'police', 'licensing', 'licensing.x', 'a', 'b', "
                     "'received', %(t)s, %(t)s, %(t)s, 0)", {"t": "2026-12-07T09:00:00.000000Z"})
    before, _ = indexes_and_options(url)
    result = CliRunner().invoke(main, ["db", "upgrade", "--url", url], env={"RABT_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    after, options = indexes_and_options(url)
    assert before - after == {"ix_messages_status", "ix_messages_message_type"}
    assert options == ["fillfactor=70"]
    with open_message_log(url) as log:
        write_groups(log.holding(), [2])
        assert {m.message_id for m in log.find(status="received", limit=10)} == {"old-1", "msg-0", "msg-1"}
    fresh = new_postgres_database()
    open_message_log(fresh).close()
    assert indexes_and_options(fresh) == (after, options)


def test_a_relay_marking_what_another_is_marking_waits_for_it_and_marks_nothing_twice(new_postgres_database):
    """The outbox row's lock orders two relays: the header row, no longer locked by the look-up, needs none."""
    url = new_postgres_database()
    with open_message_log(url) as log:
        write_groups(log.holding(), [2])
        log.accept(dataclasses.replace(pair(9)[0], message_id="direct-9", source_message_id="police-9"),
                   enqueue=False)  # logged, never queued: only its header row says it is unsent
        with psycopg.connect(url) as first:  # another relay, in the middle of marking msg-0 and direct-9
            first.execute("SELECT message_id FROM outbox WHERE message_id = 'msg-0' FOR UPDATE")
            first.execute("SELECT message_id FROM messages WHERE message_id = 'direct-9' FOR UPDATE")
            first.execute("DELETE FROM outbox WHERE message_id = 'msg-0'")
            first.execute("UPDATE messages SET status = 'published' WHERE message_id IN ('msg-0', 'direct-9')")
            marked = []
            second = threading.Thread(target=lambda: marked.append(log.mark_published(["msg-0", "msg-1",
                                                                                        "direct-9"])))
            second.start()
            second.join(1.0)
            waited = second.is_alive()
            first.commit()
        second.join(10)
        events = {mid: [e.status for e in log.events(mid)] for mid in ("msg-0", "msg-1", "direct-9")}
    assert waited and marked == [1]  # msg-1 only: the others were the first relay's
    assert events == {"msg-0": ["received"], "msg-1": ["received", "published"], "direct-9": ["received"]}
