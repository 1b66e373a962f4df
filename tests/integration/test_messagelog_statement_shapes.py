"""On PostgreSQL the log's write statements keep a few texts, stay prepared, and keep index look-ups as plans.

psycopg prepares a statement server-side once its text came five times on a
connection; the server then keeps one plan for it, made when it was prepared.
So a group's inserts must not carry the group's row count in their text, a
read must not make psycopg drop what it prepared, and a kept plan made on a
new (small) table must still look rows up by index once the table has grown.
Checked on the real server, through the statements the log itself sends.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import psycopg
import pytest

from hub.messagelog import Accepted, accepting, combined, open_message_log, prepared
from tests.integration.sent_statements import SentStatements

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(new_postgres_database):
    return new_postgres_database()  # a new database each: the plans under test are made on small tables


def pair(n: int) -> tuple[Accepted, Accepted]:
    """A push's record and the hub's receipt for it."""
    now = datetime.now(timezone.utc)
    record = Accepted(
        message_id=f"msg-{n}", message_type="WorkerArrived", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrived.police", raw=f"<push n='{n}'/>".encode(),
        envelope=f"<Envelope n='{n}'/>".encode(), correlation_id=f"msg-{n}", source_system="border",
        source_message_id=f"police-{n}", created_at=now, search_terms=("rajesh", f"{n:08d}"))
    receipt = Accepted(
        message_id=f"rcpt-{n}", message_type="Receipt", source_agency="hub", destination="police",
        routing_key="police.Receipt.hub", raw=b"<Receipt/>", envelope=f"<Receipt n='{n}'/>".encode(),
        correlation_id=record.message_id, created_at=now, search_terms=())
    return record, receipt


def write_groups(log, sizes, written: int = 0) -> int:
    """Each size a group of pushes in one accept_many, as a group commit's leader writes them; pushes written."""
    for size in sizes:
        pairs = [pair(written + k) for k in range(size)]
        result = log.accept_many([record for record, _ in pairs],
                                 answers={record.message_id: receipt for record, receipt in pairs})
        assert len(result.stored) == 2 * size and not result.duplicates
        written += size
    return written


def parts_inserting(text: str, table: str) -> list[str]:
    """The inserts into ``table`` in a statement's text: the text itself, or its parts (see hub.messagelog.combined)."""
    return re.findall(rf"INSERT INTO {table} .*?(?=\), w\d+ AS \(|\) (?:INSERT|UPDATE) |$)", text)


def test_groups_of_any_size_insert_through_power_of_two_shapes_and_no_padding_row_is_stored(url):
    with open_message_log(url) as log:
        with SentStatements(log.engine) as sent:
            written = write_groups(log.holding(), [1, 2, 3, 5, 6, 7, 9, 3, 5])
            inserts = {part for statement in sent.take() for part in parts_inserting(statement.text or "", "messages")}
        # two messages a push: 2, 4, 6, 10, 12, 14 and 18 rows in 2, 4, 8, 16 and 32-row shapes
        assert {statement.count("), (") + 1 for statement in inserts} == {2, 4, 8, 16, 32}
        with log.engine.connect() as conn:
            [(messages, terms, queued)] = prepared.fetch(conn, "SELECT (SELECT count(*) FROM messages), "
                                                               "(SELECT count(*) FROM search_terms), "
                                                               "(SELECT count(*) FROM outbox)")
        assert (messages, terms, queued) == (2 * written, 2 * written, written)
        assert log.verify_chain().records == 3 * written
        assert [p.message_id for p in log.unpublished(3)] == ["msg-0", "msg-1", "msg-2"]


def test_the_relays_reads_leave_its_connections_statements_prepared(url):
    with open_message_log(url) as log:
        writer = log.holding()
        for n in range(8):  # a round of the relay per push: read the outbox, mark what it read
            write_groups(writer, [1], n)
            log.mark_published([pending.message_id for pending in log.unpublished(10)])
        with log.engine.connect() as conn:  # the pool's one connection, the relay's
            kept = [text for (text,) in prepared.fetch(conn, "SELECT statement FROM pg_prepared_statements")]
    # before, every read ended in a rollback, on which psycopg drops all it prepared: nothing was kept
    assert any(text.startswith("SELECT m.message_id, m.routing_key") for text in kept), kept
    assert any(text.startswith("INSERT INTO audit_chain") for text in kept), kept


@pytest.mark.parametrize("statement, arguments", [
    (accepting._BY_SOURCE_ONE, "'police', 'police-7'"),
    (accepting._BY_SOURCE_EACH, "'{police-7,police-8}', 'police'"),
], ids=["one id", "several ids"])
def test_the_duplicate_check_kept_from_a_small_table_still_looks_each_id_up_in_the_index(url, statement, arguments):
    with open_message_log(url) as log:
        write_groups(log.holding(), [1] * 3)
    with psycopg.connect(url) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")  # the plan kept for any ids, made now
        conn.execute(f"PREPARE check_ids AS {prepared._driver_statement(statement, 'pyformat')[0]}")
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN EXECUTE check_ids({arguments})"))
    conditions = " ".join(re.findall(r"Index Cond: (.*)", plan))
    # 'source_agency = ? AND source_message_id = ANY(?)' kept a plan with the agency alone in the index
    # condition and the ids in a filter: every push read its agency's whole history
    assert "source_agency" in conditions and "source_message_id" in conditions, plan
    assert "Filter" not in plan, plan


def test_payloads_are_compressed_with_lz4_also_after_a_rollback(url):
    with open_message_log(url) as log:
        record, receipt = pair(1)
        log.accept(dataclasses.replace(record, envelope=b"<Envelope>" + b"signed " * 1000 + b"</Envelope>"))
        with log.engine.connect() as conn:  # a read: the pool rolls the connection back after it
            prepared.fetch(conn, "SELECT 1")
        with log.engine.connect() as conn:
            [(setting,)] = prepared.fetch(conn, "SHOW default_toast_compression")
            [(method,)] = prepared.fetch(conn, "SELECT pg_column_compression(envelope) FROM payloads")
    # pglz, the server's default, cost about twice lz4's CPU per envelope stored
    assert (setting, method) == ("lz4", "lz4")


def test_a_pushs_writes_go_as_one_statement_after_its_reads(url):
    with open_message_log(url) as log, SentStatements(log.engine) as sent:
        writer = log.holding()
        write_groups(writer, [1])  # the lane registered
        sent.take()
        write_groups(writer, [1], 1)
        texts = [statement.text for statement in sent.take() if statement.text]
    writes = [text for text in texts if not text.startswith(("SELECT", "BEGIN", "COMMIT"))]
    # the chain records, the lane's head, the header rows, the payloads, the search terms, the outbox row
    assert len(writes) == 1 and writes[0].startswith("WITH w1 AS (INSERT INTO audit_chain"), texts
    assert [table for table in ("audit_chain", "lanes", "messages", "payloads", "search_terms", "outbox")
            if f"INSERT INTO {table} " in writes[0] or f"UPDATE {table} " in writes[0]] == [
        "audit_chain", "lanes", "messages", "payloads", "search_terms", "outbox"]


def test_writes_beyond_a_statements_parameters_go_in_several_statements_in_their_order(url, monkeypatch):
    monkeypatch.setattr(combined, "MAX_PARAMETERS", 100)  # a group of 9 pushes sends about 900
    with open_message_log(url) as log:
        with SentStatements(log.engine) as sent:
            writer = log.holding()
            write_groups(writer, [1])  # the lane registered
            sent.take()
            written = write_groups(writer, [9], 1)
            writes = [s.text for s in sent.take() if s.text and not s.text.startswith(("SELECT", "BEGIN", "COMMIT"))]
        with log.engine.connect() as conn:
            [(messages, payloads, terms, queued)] = prepared.fetch(
                conn, "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM payloads), "
                      "(SELECT count(*) FROM search_terms), (SELECT count(*) FROM outbox)")
        assert (messages, payloads, terms, queued) == (2 * written, 2 * written, 2 * written, written)
        assert log.verify_chain().records == 3 * written
    assert len(writes) > 1 and all(len(re.findall(r"\?|\$\d+", text)) for text in writes)
    tables = [table for text in writes for table in re.findall(r"(?:INSERT INTO|UPDATE) (\w+)", text)]
    assert tables == ["audit_chain", "lanes", "messages", "payloads", "search_terms", "outbox"]
