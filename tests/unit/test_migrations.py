"""Schema migrations of the message log and licensing's database, on SQLite and the real PostgreSQL.

The fixtures under ``tests/fixtures`` are logs written by the code of earlier
versions (``make_old_message_log.py`` says how): ``messagelog-ccea8df.sql``
has the baseline's layout, ``messagelog-8aaa029.sql`` the first layout, with
payloads inside ``messages``. Both hold 6 messages, 8 status events and
2 refusals: 16 chain records.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from threads import failures_in_threads

from hub import deadletters, idempotency
from hub.cli import main
from hub.errors import MessageLogError, MessageLogUnavailableError
from hub.messagelog import Accepted, open_message_log, search
from hub.messagelog.db import make_engine
from hub.messagelog.lanes import LEGACY_LANE, genesis
from hub.messagelog.schema import metadata as log_tables
from hub.migrations import open_schema
from hub.migrations.messagelog import MESSAGE_LOG
from simulators.licensing.migrations import (
    BASELINE_TABLES,
    LICENSING,
    open_licensing_database,
)
from simulators.licensing.state import LicensingState
from simulators.licensing.tables import metadata as licensing_tables

FIXTURES = Path(__file__).parent.parent / "fixtures"
OLD_RECORDS = 16
#: the tables of a log in the order their foreign keys allow rows to be copied
COPY_ORDER = ("messages", "payloads", "outbox", "refused", "audit_chain", "audit_head")


def old_log(tmp_path: Path, commit: str) -> str:
    """A SQLite log written by the code of ``commit``; its URL."""
    path = tmp_path / f"old-{commit}.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / f"messagelog-{commit}.sql").read_text())
    return f"sqlite:///{path}"


def record(n: int) -> Accepted:
    return Accepted(
        message_id=f"new-{n}", message_type="WorkerArrived", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrived.police", raw=f"<arrival n='{n}'/>".encode(),
        envelope=f"<Envelope n='{n}'/>".encode(), source_message_id=f"police-new-{n}",
        created_at=datetime(2026, 12, 7, tzinfo=timezone.utc))


def layout(url: str) -> dict:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return {table: {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted((tuple(k["constrained_columns"]), k["referred_table"])
                                       for k in inspector.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in inspector.get_indexes(table)),
                "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            } for table in inspector.get_table_names() if not table.startswith("rabt_")}
    finally:
        engine.dispose()


def differences(url: str, metadata: sa.MetaData, history=MESSAGE_LOG) -> list:
    """What Alembic's comparison finds between the database and ``metadata`` (empty: the same layout)."""
    engine = make_engine(url)
    options = {"version_table": history.version_table, "compare_type": True}
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    finally:
        engine.dispose()


#: tables a later revision created (0003: the console's search terms; 0004: lanes and anchors;
#: 0005: commands for the consumers; 0006: the archives a purge emptied payloads into;
#: 0008: the workers' circuit states; 0009: archives written)
TABLES_ADDED_SINCE_THE_BASELINE = {"search_terms", "lanes", "anchors", "anchored_lanes", "consumer_controls",
                                   "archives", "circuit_reports", "written_archives"}
#: tables of the log's database declared outside hub.messagelog.schema, by the code that reads them (0007)
LOG_DATABASE_TABLES = (log_tables, deadletters.metadata, idempotency.metadata)
LICENSING_DATABASE_TABLES = (licensing_tables, idempotency.metadata)


def declared(*metadatas: sa.MetaData) -> sa.MetaData:
    """One MetaData holding every table of ``metadatas``: the layout a database's code expects."""
    combined = sa.MetaData()
    for metadata in metadatas:
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


#: tables a later revision dropped (0004: the single chain's head, now each lane's row)
TABLES_DROPPED_SINCE_THE_BASELINE = {"audit_head"}


def chain_rows(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT seq, prev_hash, hash FROM audit_chain ORDER BY seq")).all()
    finally:
        engine.dispose()


def lane_heads(url: str) -> dict[str, tuple[int, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {row.lane_id: (row.seq, row.hash) for row in conn.execute(sa.text("SELECT * FROM lanes"))}
    finally:
        engine.dispose()


def db_cli(*args: str):
    return CliRunner().invoke(main, ["db", *args], env={"RABT_DATABASE_URL": ""})


def test_the_baseline_creates_the_layout_the_code_of_ccea8df_made(tmp_path):
    baseline = f"sqlite:///{tmp_path / 'baseline.sqlite3'}"
    MESSAGE_LOG.upgrade(make_engine(baseline), "0001")
    assert layout(baseline) == layout(old_log(tmp_path, "ccea8df"))
    assert set(layout(baseline)) == (
        set(log_tables.tables) - TABLES_ADDED_SINCE_THE_BASELINE | TABLES_DROPPED_SINCE_THE_BASELINE)


def test_the_newest_revision_is_the_layout_the_code_declares(database_url):
    """A change to a table of the log's database without a revision (or the reverse) fails here."""
    with open_message_log(database_url):
        pass
    assert differences(database_url, declared(*LOG_DATABASE_TABLES)) == []
    assert MESSAGE_LOG.current(make_engine(database_url)) == MESSAGE_LOG.head() == "0013"


def test_licensing_newest_revision_is_the_layout_its_tables_declare(database_url):
    engine = make_engine(database_url)
    open_licensing_database(engine)
    engine.dispose()
    assert differences(database_url, declared(*LICENSING_DATABASE_TABLES), LICENSING) == []
    assert LICENSING.current(make_engine(database_url)) == LICENSING.head()


@pytest.mark.parametrize("commit", ["ccea8df", "8aaa029"])
def test_a_sqlite_log_of_an_earlier_layout_is_migrated_on_open_and_its_chain_goes_on(tmp_path, commit):
    url = old_log(tmp_path, commit)
    old_rows = chain_rows(url)
    with open_message_log(url) as log:
        assert log.verify_chain().records == OLD_RECORDS
        first = log.get("00000000-0000-4000-8000-000000000001")
        assert first.raw == "<arrival n='1'>عمان</arrival>".encode() and first.status == "delivered"
        assert [e.status for e in log.events("00000000-0000-4000-8000-000000000002")] == [
            "received", "published", "dead-lettered", "replayed"]
        assert [(r.reason, r.input_size) for r in log.refusals("police")] == [
            ("Client.Parse: unclosed element", None)]
        log.accept(record(1))
        log.refuse(b"<new", "police", "Client.Parse: a refusal after the upgrade")
        assert log.verify_chain().records == OLD_RECORDS + 2
        assert log.refusals("police")[0].input_size == len(b"<new")
    after = chain_rows(url)
    assert after[:OLD_RECORDS] == old_rows  # the migration rewrote no chain record
    assert lane_heads(url)[LEGACY_LANE] == (OLD_RECORDS, old_rows[-1].hash)  # the old chain is the legacy lane
    # what came after is this process's own lane, numbered on after the old records
    [new_lane] = set(lane_heads(url)) - {LEGACY_LANE}
    assert after[OLD_RECORDS].prev_hash == genesis(new_lane) and after[OLD_RECORDS].seq == old_rows[-1].seq + 1
    new_url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    open_message_log(new_url).close()
    assert layout(url) == layout(new_url)
    result = CliRunner().invoke(main, ["audit", "verify", "--database-url", url], env={"RABT_DATABASE_URL": ""})
    assert result.exit_code == 0 and result.stdout.startswith(f"chain intact: {OLD_RECORDS + 2} records")


def test_a_postgres_log_behind_is_refused_until_rabt_db_upgrade_then_its_chain_goes_on(tmp_path,
                                                                                      new_postgres_database):
    url = new_postgres_database()
    engine = make_engine(url)
    MESSAGE_LOG.upgrade(engine, "0001")
    copy_rows(old_log(tmp_path, "ccea8df"), engine)
    for create in (True, False):
        with pytest.raises(MessageLogError, match=r"earlier layout \(revision 0001, .*0013\): run rabt db upgrade"):
            open_message_log(url, create=create)
    assert db_cli("current", "--url", url).exit_code == 1
    result = db_cli("upgrade", "--url", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"upgraded from revision 0001 to {MESSAGE_LOG.head()}")
    assert "nothing to do" in db_cli("upgrade", "--url", url).stdout
    assert db_cli("current", "--url", url).exit_code == 0
    old_rows = chain_rows(url)
    with open_message_log(url) as log:
        log.accept(record(1))
        assert log.anchor().lanes == 2  # the legacy lane and this process's
        assert log.verify_chain().records == OLD_RECORDS + 1
    assert chain_rows(url)[:OLD_RECORDS] == old_rows
    assert lane_heads(url)[LEGACY_LANE] == (OLD_RECORDS, old_rows[-1].hash)
    assert differences(url, declared(*LOG_DATABASE_TABLES)) == []
    engine.dispose()


def search_terms_sql(url: str) -> str:
    """How SQLite holds ``search_terms``: its CREATE TABLE statement."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'search_terms'").fetchone()[0]


def test_sqlite_search_terms_become_one_b_tree_and_keep_every_term(tmp_path):
    """Revision 0010: a term is written once (WITHOUT ROWID), and the terms indexed before are still found."""
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    engine = make_engine(url)
    MESSAGE_LOG.upgrade(engine, "0009")
    with open_message_log(f"sqlite:///{tmp_path / 'scratch.sqlite3'}") as scratch:
        scratch.accept(replace(record(1), search_terms=("rajesh", "kumar", "p0001234")))
        with scratch.engine.connect() as conn:
            rows = {name: [dict(row._mapping) for row in conn.execute(sa.text(f"SELECT * FROM {name}"))]
                    for name in ("messages", "search_terms")}
    with engine.begin() as conn:
        for name, table_rows in rows.items():
            conn.execute(sa.table(name, *(sa.column(key) for key in table_rows[0])).insert(), table_rows)
    engine.dispose()
    assert "WITHOUT ROWID" not in search_terms_sql(url)
    with open_message_log(url) as log:
        log.accept(replace(record(2), search_terms=("rajesh", "p0005678")))
        with log.engine.connect() as conn:
            found = {word: sorted(conn.execute(sa.select(search.matching(word))).scalars())
                     for word in ("raj", "kumar", "p000")}
    assert found == {"raj": ["new-1", "new-2"], "kumar": ["new-1"], "p000": ["new-1", "new-2"]}
    assert "WITHOUT ROWID" in search_terms_sql(url)
    assert "WITHOUT ROWID" in search_terms_sql(f"sqlite:///{tmp_path / 'scratch.sqlite3'}")  # a new log too
    assert layout(url) == layout(f"sqlite:///{tmp_path / 'scratch.sqlite3'}")


def copy_rows(source_url: str, target) -> None:
    """Every row of a SQLite log into ``target``'s tables of the same layout."""
    source = make_engine(source_url)
    tables = sa.MetaData()
    tables.reflect(target, only=list(COPY_ORDER))
    with source.connect() as reading, target.begin() as writing:
        for name in COPY_ORDER:
            rows = [dict(row._mapping) for row in reading.execute(sa.text(f"SELECT * FROM {name}"))]
            if rows:
                writing.execute(sa.insert(tables.tables[name]), rows)
    source.dispose()


def test_processes_opening_an_empty_database_at_once_create_it_once(database_url):
    assert failures_in_threads(lambda: open_message_log(database_url).close(), 6, timeout=60) == []
    with open_message_log(database_url) as log:
        log.accept(record(1))
        assert log.verify_chain().records == 1
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rabt_messagelog_version")).scalar() == 1
    engine.dispose()


def test_a_log_written_by_a_newer_version_is_refused_and_left_alone(database_url):
    open_message_log(database_url).close()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE rabt_messagelog_version SET version_num = '0099'"))
    with pytest.raises(MessageLogError, match="revision 0099, which this version of rabt does not know"):
        open_message_log(database_url)
    assert MESSAGE_LOG.current(engine) == "0099"
    engine.dispose()


def test_a_licensing_database_from_before_versions_is_adopted_with_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'licensing.sqlite3'}"
    engine = make_engine(url)
    # as LicensingState made it before versions: the baseline's tables only
    licensing_tables.create_all(engine, tables=[licensing_tables.tables[name] for name in BASELINE_TABLES])
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO lic_labour_cases VALUES ('LC-1', '1234567', 'opened', '2026-01-02', "
                             "NULL, 0)"))
    state = LicensingState(url)
    with state.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT case_number FROM lic_labour_cases")).scalars().all() == ["LC-1"]
    assert LICENSING.current(engine) == LICENSING.head()
    state.engine.dispose()
    engine.dispose()


def test_rabt_db_names_the_revisions_and_each_database(tmp_path):
    history = db_cli("history")
    assert history.exit_code == 0
    assert [line.split()[0] for line in history.stdout.splitlines()] == [
        "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011", "0012", "0013"]
    url = f"sqlite:///{tmp_path / 'licensing.sqlite3'}"
    assert db_cli("upgrade", "--database", "licensing", "--url", url).stdout.strip().endswith(
        "upgraded from revision none to 0005")
    assert LICENSING.current(make_engine(url)) == "0005"
    unknown = db_cli("current", "--database", "ledger")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == ("rabt: no database named 'ledger' "
                                      "(entry points rabt.databases: licensing, messagelog)")
    missing = db_cli("current", "--url", f"sqlite:///{tmp_path / 'none.sqlite3'}")
    assert missing.exit_code == 1 and not (tmp_path / "none.sqlite3").exists()


def test_a_password_in_the_url_is_never_printed(new_postgres_database):
    url = new_postgres_database().replace("postgres@", "postgres:s3cret-pw@")
    result = db_cli("upgrade", "--url", url)
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output and ":***@" in result.stdout


class LockedAtFirst(type(MESSAGE_LOG)):
    """The log's history whose first reads of the revision fail as SQLite fails them during another's DDL."""

    def __init__(self, *args, failure: str, failures: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "reads", [])
        object.__setattr__(self, "failure", failure)
        object.__setattr__(self, "failures", failures)

    def current(self, engine):
        self.reads.append(engine.url)
        if len(self.reads) <= self.failures:
            raise MessageLogUnavailableError(f"message log could not read its schema version: {self.failure}")
        return super().current(engine)


def history_failing(failure: str, failures: int) -> LockedAtFirst:
    return LockedAtFirst(**{f.name: getattr(MESSAGE_LOG, f.name) for f in fields(MESSAGE_LOG)},
                         failure=failure, failures=failures)


def test_a_new_sqlite_log_locked_by_another_opener_is_read_again_then_created(tmp_path):
    engine, history = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}"), history_failing("database is locked", 2)
    open_schema(engine, history, create=True, upgrade=False)
    assert len(history.reads) == 3 and MESSAGE_LOG.current(engine) == MESSAGE_LOG.head()
    engine.dispose()


def test_a_log_that_stays_unavailable_is_reported_not_waited_on_forever(tmp_path, monkeypatch):
    engine, slept = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}"), []
    monkeypatch.setattr("hub.migrations.time.sleep", slept.append)  # the backoff's 12.7 s recorded, not waited
    with pytest.raises(MessageLogUnavailableError, match="disk I/O error"):
        open_schema(engine, history_failing("disk I/O error", 99), create=True, upgrade=False)
    history = history_failing("database is locked", 99)
    with pytest.raises(MessageLogUnavailableError, match="database is locked"):
        open_schema(engine, history, create=True, upgrade=False)
    assert len(history.reads) == 8 and slept == [0.05 * 2 ** n for n in range(1, 8)]  # a growing backoff, then the error
    engine.dispose()
