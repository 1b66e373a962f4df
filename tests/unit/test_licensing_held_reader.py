"""Licensing's held read connection (the visa check's licence read) on SQLite and the real PostgreSQL.

It keeps one pooled connection between reads, so each read must still see
every commit made before it, hold no transaction between reads, survive a
failed read, and serve several threads at once.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from threads import failures_in_threads

from hub.messagelog.db import make_engine, write_transaction
from simulators.licensing.held_reader import HeldReader


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (number VARCHAR(20) PRIMARY KEY, used INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO licences VALUES ('L-1', 0)"))
    yield engine
    engine.dispose()


def used(reader: HeldReader) -> int:
    return reader.fetch("SELECT used FROM licences WHERE number = ?", ("L-1",))[0][0]


def test_each_read_sees_what_other_connections_committed_before_it(engine):
    reader = HeldReader(engine)
    for n in range(1, 4):
        with write_transaction(engine) as conn:
            conn.execute(sa.text("UPDATE licences SET used = used + 1"))
        assert used(reader) == n
    reader.close()


@pytest.mark.postgres
def test_no_transaction_is_left_open_between_reads_on_postgresql(request):
    engine = make_engine(request.getfixturevalue("new_postgres_database")())
    try:
        reader = HeldReader(engine)
        backend = reader.fetch("SELECT pg_backend_pid()")[0][0]
        with engine.connect() as conn:
            state = conn.execute(sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": backend}).scalar_one()
        assert state == "idle"  # not "idle in transaction": no snapshot kept, vacuum not held back
        assert reader.fetch("SELECT pg_backend_pid()")[0][0] == backend  # and the connection was kept
        reader.close()
    finally:
        engine.dispose()


def test_a_failed_read_raises_and_the_next_one_works(engine):
    reader = HeldReader(engine)
    assert used(reader) == 0
    with pytest.raises(sa.exc.SQLAlchemyError):
        reader.fetch("SELECT no_such_column FROM licences")
    assert used(reader) == 0
    reader.close()


def test_threads_read_through_it_at_once(engine):
    reader = HeldReader(engine)
    seen: list[int] = []

    def read() -> None:
        for _ in range(50):
            seen.append(used(reader))

    assert failures_in_threads(read, 6) == [] and seen == [0] * 300
    reader.close()
