"""The message log on the real PostgreSQL: the CLI, URL forms, larger chains, relay to consumer.

(The shared storage/tamper/concurrency suite runs on PostgreSQL too, through
``tests/unit/test_messagelog.py``'s parametrised fixture.) A uniquely named
database is created per session and dropped afterwards; when the server is
unreachable these tests skip, or fail with RABT_REQUIRE_BROKER=1.
"""

from __future__ import annotations

import multiprocessing

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from hub.cli import main
from hub.errors import MessageLogError
from hub.idempotency import IdempotentConsumer
from hub.messagelog import Accepted, open_message_log
from hub.messagelog.anchors import AnchorPolicy
from hub.messagelog.schema import metadata
from hub.outbox import OutboxRelay, to_message

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server_url(postgres_database_url):
    return postgres_database_url


@pytest.fixture
def url(server_url):
    engine = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS processed_messages, kept_dead_letters, licences, "
                             "rabt_messagelog_version"))
    engine.dispose()
    return server_url


def record(n: int) -> Accepted:
    return Accepted(
        message_id=f"msg-{n}", message_type="SalaryRecord", source_agency="centralbank",
        destination="licensing", routing_key="licensing.SalaryRecord.centralbank",
        raw=f"EMP{n:07d},SAR,4500.00".encode(), envelope=f"<Envelope n='{n}'/>".encode(),
        source_message_id=f"sif-2024-05-{n}")


def verify_cli(*args):
    return CliRunner().invoke(main, ["audit", "verify", *args], env={"RABT_DATABASE_URL": ""})


def test_cli_verifies_postgres_and_names_a_tampered_record(url):
    with open_message_log(url) as log:
        log.accept_many([record(n) for n in range(5)])
    result = verify_cli("--database-url", url)
    assert result.exit_code == 0 and result.stdout.startswith("chain intact: 5 records in 1 lanes")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE audit_chain SET detail = replace(detail, 'licensing', 'courts') WHERE lane_seq = 4")
        [lane] = conn.execute("SELECT lane_id FROM lanes").fetchone()
    result = verify_cli("--database-url", url)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"rabt: lane {lane} record 4 was altered: its contents do not match its hash"


def write_in_a_process(url: str, first: int, count: int) -> None:
    """One writing process: its own lane, anchoring every 50 of its records."""
    with open_message_log(url, anchoring=AnchorPolicy(every_records=50)) as log:
        for n in range(first, first + count):
            log.accept(record(n))
        log.mark_published([f"msg-{n}" for n in range(first, first + count)])


def test_processes_writing_at_once_each_keep_a_lane_and_anchors_bind_them_all(url):
    open_message_log(url).close()  # migrated once, before the writers start
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=write_in_a_process, args=(url, start, 150)) for start in (0, 1000, 2000)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]
    with open_message_log(url) as log:
        by_writers = log.verify_chain().anchors
        log.anchor()  # binds what moved after the writers' own last anchors, if anything did
        report = log.verify_chain()
        with log.engine.connect() as conn:
            newest = conn.execute(sa.text("SELECT * FROM anchors ORDER BY anchor_seq DESC LIMIT 1")).one()
    # Each writer asks for 4 anchors (3 while accepting, 1 after publishing); one finding every head
    # already bound by another writer's anchor writes none, so only the first is certain.
    assert by_writers >= 1
    assert (report.records, report.lanes) == (900, 3)
    assert (newest.lanes, newest.records) == (3, 900) and report.head_hash == newest.root


def test_url_forms_and_database_without_a_log(url):
    with pytest.raises(MessageLogError, match="not a message log"):
        open_message_log(url, create=False)
    for form in (url, url.replace("postgresql://", "postgres://"),
                 url.replace("postgresql://", "postgresql+psycopg://")):
        with open_message_log(form) as log:
            assert log.engine.dialect.driver == "psycopg"
    with pytest.raises(MessageLogError, match="could not|cannot open"):
        open_message_log(url + "_does_not_exist")


def test_a_chain_longer_than_one_page_verifies_in_pages(url):
    with open_message_log(url) as log:
        for start in range(0, 2500, 500):
            log.accept_many([record(n) for n in range(start, start + 500)])
        log.mark_published([f"msg-{n}" for n in range(2500)])
        progress = []
        report = log.verify_chain(lambda done, total: progress.append(done), every=1000)
        assert report.records == 5000 and progress == [1000, 2000, 3000, 4000, 5000]
        with log.engine.begin() as conn:
            conn.execute(sa.text("UPDATE payloads SET envelope = 'x' WHERE message_id = 'msg-2222'"))
        report = log.verify_chain(raise_on_error=False)
        assert not report.ok and report.record_id == 2223 and "msg-2222" in report.reason


class InMemoryBroker:
    """A transport that hands what it publishes straight to a consumer callback."""

    connection_errors = ()

    def __init__(self, deliver) -> None:
        self.deliver = deliver

    def publish(self, messages) -> None:
        for message in messages:
            self.deliver(message)


def test_relay_redelivery_reaches_an_idempotent_postgres_consumer_once(url):
    open_message_log(url).close()  # its migrations create the marks' table the consumer uses
    consumer = IdempotentConsumer(url, "licensing")
    with consumer.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE licences (message_id VARCHAR(64) PRIMARY KEY)"))

    def handle(message) -> None:
        consumer.apply_once(message.message_id, lambda conn: conn.execute(
            sa.text("INSERT INTO licences VALUES (:m)"), {"m": message.message_id}))
    with open_message_log(url) as log:
        log.accept_many([record(n) for n in range(4)])
        broker = InMemoryBroker(handle)
        for pending in log.unpublished(10):  # a relay that crashed after publishing, before marking
            handle(to_message(pending))
        assert OutboxRelay(log, broker).drain() == 4  # publishes all four again
        assert log.stats().by_status == {"published": 4}
    with consumer.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM licences")).scalar_one() == 4
