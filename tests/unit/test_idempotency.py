"""Idempotent consumption on SQLite and on the real PostgreSQL, with racing worker processes."""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hub.errors import MessageLogError
from hub.idempotency import IdempotentConsumer
from hub.messagelog.db import make_engine
from simulators.licensing.migrations import LICENSING


@pytest.fixture
def db_url(database_url):
    """The consumer's own database (licensing's, migrated), with business tables and nothing processed yet."""
    url = database_url
    engine = make_engine(url)
    LICENSING.upgrade(engine)  # its revisions create the marks' table
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (message_id VARCHAR(64), holder VARCHAR(100))"))
        conn.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO counter VALUES (1, 0)"))
    engine.dispose()
    return url


def grant(message_id: str):
    """The consumer's work: insert a licence and bump a counter (two writes)."""
    def apply(conn) -> None:
        conn.execute(sa.text("INSERT INTO licences VALUES (:m, 'Fatima')"), {"m": message_id})
        conn.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
    return apply


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM licences")).scalar_one(),
                conn.execute(sa.text("SELECT n FROM counter")).scalar_one())


def test_second_delivery_changes_nothing(db_url):
    consumer = IdempotentConsumer(db_url, "licensing")
    assert consumer.apply_once("msg-1", grant("msg-1")) is True
    called = []
    assert consumer.apply_once("msg-1", lambda conn: called.append(conn)) is False
    assert called == [] and counts(consumer.engine) == (1, 1)
    assert consumer.is_applied("msg-1") and not consumer.is_applied("msg-2")
    # another consumer of the same database keeps its own record
    assert IdempotentConsumer(consumer.engine, "statistics").apply_once("msg-1", lambda conn: None)


def test_failed_work_rolls_back_the_mark_too(db_url):
    consumer = IdempotentConsumer(db_url, "licensing")

    def half_then_fail(conn):
        grant("msg-1")(conn)
        raise RuntimeError("licensing rule crashed")
    with pytest.raises(RuntimeError):
        consumer.apply_once("msg-1", half_then_fail)
    assert counts(consumer.engine) == (0, 0) and not consumer.is_applied("msg-1")
    assert consumer.apply_once("msg-1", grant("msg-1")) is True
    assert counts(consumer.engine) == (1, 1)


def _die_mid_transaction(url: str) -> None:
    consumer = IdempotentConsumer(url, "licensing")

    def work_then_die(conn):
        grant("msg-9")(conn)
        os._exit(3)  # killed after the work, before the commit
    consumer.apply_once("msg-9", work_then_die)


def test_crash_between_apply_and_mark_cannot_double_apply(db_url):
    process = multiprocessing.get_context("fork").Process(target=_die_mid_transaction, args=(db_url,))
    process.start()
    process.join(30)
    assert process.exitcode == 3
    consumer = IdempotentConsumer(db_url, "licensing")
    assert counts(consumer.engine) == (0, 0) and not consumer.is_applied("msg-9")
    assert consumer.apply_once("msg-9", grant("msg-9")) is True  # the redelivery
    assert consumer.apply_once("msg-9", grant("msg-9")) is False
    assert counts(consumer.engine) == (1, 1)


def _race(url: str, ids: list[str], start, results) -> None:
    consumer = IdempotentConsumer(url, "licensing")
    start.wait(10)
    results.put(sum(consumer.apply_once(mid, grant(mid)) for mid in ids))


def test_two_workers_racing_on_the_same_ids_apply_each_once(db_url):
    ids = [f"msg-{n}" for n in range(60)]
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_race, args=(db_url, ids, start, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    start.set()
    applied = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    assert sum(applied) == len(ids)
    engine = make_engine(db_url)
    assert counts(engine) == (len(ids), len(ids))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(DISTINCT message_id) FROM licences")).scalar_one() == len(ids)


def test_forget_older_than_prunes_old_marks(db_url):
    consumer = IdempotentConsumer(db_url, "licensing")
    consumer.apply_once("msg-1", lambda conn: None)
    assert consumer.forget_older_than(timedelta(days=1)) == 0
    assert consumer.forget_older_than(timedelta(seconds=-1)) == 1
    assert not consumer.is_applied("msg-1")


@pytest.mark.parametrize("name", ["", "  ", None])
def test_consumer_needs_a_name(db_url, name):
    with pytest.raises(MessageLogError, match="consumer name"):
        IdempotentConsumer(db_url, name)


def test_message_id_must_be_given(db_url):
    with pytest.raises(MessageLogError, match="message id"):
        IdempotentConsumer(db_url, "licensing").apply_once("", lambda conn: None)


def test_a_database_without_the_marks_table_is_refused_not_changed(database_url):
    """The table is the migrations' to create: a consumer on an unmigrated database says so and writes nothing."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (message_id VARCHAR(64))"))
    with pytest.raises(MessageLogError, match="has no table processed_messages: .*run rabt db upgrade"):
        IdempotentConsumer(engine, "licensing")
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["licences"]
    engine.dispose()
