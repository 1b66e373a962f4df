"""Tables older code created on first use, now made by the migrations: fresh, adopted, refused.

``kept_dead_letters`` and ``processed_messages`` in the message log's database
(revision 0007), ``processed_messages`` in licensing's (its 0004), on SQLite
and the real PostgreSQL. A live installation's database already holds them,
made by ``metadata.create_all`` as :func:`old_code_creates` does here; the
upgrade adopts them with their rows. A fresh one gets them from
``rabt db upgrade`` or from a role opening the log.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from hub import deadletters, idempotency
from hub.cli import main
from hub.deadletters import DeadLetterStore
from hub.idempotency import IdempotentConsumer
from hub.messagelog import open_message_log
from hub.messagelog.db import make_engine
from hub.migrations.messagelog import MESSAGE_LOG
from hub.transports.base import DeadLetter, Message
from simulators.licensing.migrations import LICENSING
from simulators.licensing.state import LicensingState

FIRST_USE_TABLES = {"kept_dead_letters", "processed_messages"}


def db_cli(*args: str):
    return CliRunner().invoke(main, ["db", *args], env={"RABT_DATABASE_URL": ""})


def letter(n: int) -> DeadLetter:
    message = Message(f"<m n='{n}'/>".encode(), "licensing.WorkerArrived.police", f"m-{n}", f"c-{n}",
                      headers={"source-agency": "police"})
    return DeadLetter(f"broker-{n}", "licensing.inbound", f"m-{n}", "cannot apply", "input", 5,
                      1_765_000_000.0 + n, message)


def old_code_creates(engine, *metadatas: sa.MetaData) -> None:
    """What hub.deadletters and hub.idempotency did when they first opened a database, up to revision 0007."""
    for metadata in metadatas:
        metadata.create_all(engine)


def tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_rabt_db_upgrade_of_an_empty_database_creates_them_and_current_shows_head(database_url, engine):
    result = db_cli("upgrade", "--url", database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"upgraded from revision none to {MESSAGE_LOG.head()}")
    assert FIRST_USE_TABLES <= tables(engine)
    current = db_cli("current", "--url", database_url)
    assert current.exit_code == 0 and current.stdout.strip().endswith(f"revision {MESSAGE_LOG.head()} (newest)")
    assert [d.message_id for d in DeadLetterStore(engine).keep([letter(1)])] == ["m-1"]
    assert IdempotentConsumer(engine, "outbound-police").apply_once("m-1", lambda conn: None)


def test_a_role_opening_a_fresh_home_gets_them_from_the_migrations(database_url):
    """The hub migrates an empty log when a role first opens it: no table is made on the side."""
    with open_message_log(database_url) as log:
        assert FIRST_USE_TABLES <= tables(log.engine)
        store = DeadLetterStore(log.engine)
        store.keep([letter(1), letter(2)])
        assert [d.message_id for d in store.list()] == ["m-1", "m-2"]
        marks = IdempotentConsumer(log.engine, "outbound-police")
        assert marks.apply_once("m-1", lambda conn: None) and not marks.apply_once("m-1", lambda conn: None)


def test_tables_the_old_code_made_are_adopted_with_their_rows(database_url, engine):
    MESSAGE_LOG.upgrade(engine, "0005")  # a live installation's log before this version
    old_code_creates(engine, deadletters.metadata, idempotency.metadata)
    kept = DeadLetterStore(engine).keep([letter(1), letter(2)])
    marks = IdempotentConsumer(engine, "outbound-police")
    assert marks.apply_once("m-1", lambda conn: None)

    result = db_cli("upgrade", "--url", database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"upgraded from revision 0005 to {MESSAGE_LOG.head()}")
    assert DeadLetterStore(engine).list() == kept
    assert marks.is_applied("m-1") and not marks.apply_once("m-1", lambda conn: None)
    assert db_cli("current", "--url", database_url).exit_code == 0
    with open_message_log(database_url) as log:  # and the roles open it as usual
        assert DeadLetterStore(log.engine).get(kept[0].id) == kept[0]


def test_licensing_marks_the_old_code_made_are_adopted_and_licensing_opens(database_url, engine):
    LICENSING.upgrade(engine, "0003")
    old_code_creates(engine, idempotency.metadata)
    assert IdempotentConsumer(engine, "licensing").apply_once("m-7", lambda conn: None)

    result = db_cli("upgrade", "--database", "licensing", "--url", database_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"upgraded from revision 0003 to {LICENSING.head()}")
    state = LicensingState(database_url)
    assert state.is_applied("m-7") and not state.apply_once("m-7", lambda conn: None)
    assert state.apply_once("m-8", lambda conn: None)
    state.engine.dispose()


def test_a_fresh_licensing_database_gets_the_marks_table_when_licensing_opens_it(database_url):
    state = LicensingState(database_url)
    assert "processed_messages" in tables(state.engine)
    assert state.apply_once("m-1", lambda conn: None) and state.is_applied("m-1")
    assert LICENSING.current(state.engine) == LICENSING.head()
    state.engine.dispose()


def test_a_foreign_table_of_that_name_stops_the_upgrade_naming_it_and_changes_nothing(database_url, engine):
    MESSAGE_LOG.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE processed_messages (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
        conn.execute(sa.text("INSERT INTO processed_messages VALUES (1, 'theirs')"))
    result = db_cli("upgrade", "--url", database_url)
    assert result.exit_code == 1
    assert "table processed_messages exists but lacks the column(s) consumer, message_id, processed_at" in (
        result.stderr)
    assert MESSAGE_LOG.current(engine) == "0005"
    assert "kept_dead_letters" not in tables(engine)  # the whole revision rolled back
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM processed_messages")).scalars().all() == ["theirs"]


def test_the_log_and_licensing_sharing_one_database_share_the_marks_table(database_url, engine):
    """Both histories bring processed_messages; whichever runs second adopts the first one's table."""
    MESSAGE_LOG.upgrade(engine)
    assert IdempotentConsumer(engine, "outbound-police").apply_once("m-1", lambda conn: None)
    LICENSING.upgrade(engine)
    assert (MESSAGE_LOG.current(engine), LICENSING.current(engine)) == (MESSAGE_LOG.head(), LICENSING.head())
    state = LicensingState(database_url)
    assert state.apply_once("m-1", lambda conn: None)  # each consumer keeps its own marks
    assert IdempotentConsumer(engine, "outbound-police").is_applied("m-1")
    state.engine.dispose()
