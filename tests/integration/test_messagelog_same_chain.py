"""SQLite and PostgreSQL write the same rows and the same hash chain for the same writes.

The write path runs its statements as SQL text on the driver's cursor
(:mod:`hub.messagelog.prepared`), pipelined on PostgreSQL. With the lane id
and the clock fixed, one sequence of writes — a batch with receipts, a
duplicate, a projection and a legal basis, records sent already, hops, a
confirm — must leave every table the write path touches identical on both
databases, and the chain identical to the one the SQLAlchemy Core writer
left before (its head hash, taken from that writer, is pinned below).

But for gaps: PostgreSQL takes a write's record numbers before its
duplicates are known, so a duplicate leaves numbers unused (they are not
hashed). The record numbers are therefore compared by rank, which is what
every row pointing at a record must agree on, and must still grow along a lane.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from hub.errors import ConflictingMessageError, DuplicateMessageError
from hub.messagelog import Accepted, accepting, history, lanes, open_message_log
from hub.messagelog import log as log_module
from hub.messagelog.anchors import AnchorPolicy
from hub.messagelog.schema import timestamp

#: the lane every run here writes to, so its genesis and every hash after it are the same
LANE = uuid.UUID("0123456789abcdef0123456789abcdef")
NOW = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=timezone.utc)
#: the lane's head after write_the_same_things(), as the SQLAlchemy Core writer left it (same lane, same clock)
CORE_WRITER_HEAD = (15, "08f970a2d3956b7dddf450c8db2e4f7931b8f1e95d3fa63be3c424e96ae14cef")
#: a record number as its rank among the log's record numbers (1, 2, 3… whatever gaps PostgreSQL left)
RANK = "(SELECT count(*) FROM audit_chain numbered WHERE numbered.seq <= {column})"
#: every table the write path fills, with the columns that must match (the lane's opening host, pid, time do not)
TABLES = {
    "audit_chain": RANK.format(column="audit_chain.seq") + ", kind, message_id, status, at, actor, detail, "
                   "raw_sha256, envelope_sha256, prev_hash, hash, lane, lane_seq",
    "messages": "message_id, correlation_id, message_type, source_agency, source_system, source_message_id, "
                "destination, routing_key, raw_sha256, envelope_sha256, status, created_at, received_at, "
                "published_at, updated_at, " + RANK.format(column="messages.chain_seq") + ", archived_in",
    "payloads": "*",
    "outbox": "message_id, enqueued_at",
    "search_terms": "*",
    "lanes": "lane_id, seq, hash",
}


def record(n: int, **changes) -> Accepted:
    values = dict(
        message_id=f"msg-{n}", message_type="WorkerArrived", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrived.police", raw=f"<arrival n='{n}'>راجيش</arrival>".encode(),
        envelope=f"<Envelope n='{n}'/>".encode(), correlation_id=f"corr-{n}", source_system="border",
        source_message_id=f"police-{n}", created_at=datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc),
        search_terms=("rajesh", f"{n:08d}"),
    )
    return Accepted(**{**values, **changes})


def receipt(n: int) -> Accepted:
    return record(1000 + n, message_type="Receipt", source_agency="hub", source_message_id=None,
                  routing_key="police.Receipt.hub", destination="police", search_terms=None)


def write_the_same_things(log) -> None:
    """One of every kind of write the hot path makes, with a duplicate and a conflict refused on the way."""
    batch = [record(1), record(2, projection="fields: name; withheld: passport"),
             record(3, legal_basis="Labour Law art. 12"), record(1, message_id="msg-1-again")]
    result = log.accept_many(batch, answers={"msg-1": receipt(1), "msg-2": receipt(2)})
    assert result.stored == ["msg-1", "msg-2", "msg-3", "msg-1001", "msg-1002"]
    assert [error.first_message_id for error in result.duplicates] == ["msg-1"]
    with pytest.raises(DuplicateMessageError):
        log.accept(record(1, message_id="msg-1-retry"))
    with pytest.raises(ConflictingMessageError):
        log.accept(record(9, source_message_id="police-2"))
    log.accept(record(4), enqueue=False)
    log.store_sent([record(5, source_agency="licensing", source_message_id=None)])
    assert log.mark_published(["msg-1", "msg-4", "msg-3", "msg-1", "msg-missing"]) == 3
    assert log.mark_published(["msg-1"]) == 0
    log.record_hops([("msg-2", "delivered", "licensing took it", None)])


def contents(log) -> dict[str, list[tuple]]:
    with log.engine.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY 1, 2"))]
                for table, columns in TABLES.items()}


@pytest.fixture
def fixed_lane_and_clock(monkeypatch):
    monkeypatch.setattr(lanes, "uuid", SimpleNamespace(uuid4=lambda: LANE))
    fixed = lambda moment=None: timestamp(moment or NOW)  # noqa: E731 - the clock of the writers under test
    monkeypatch.setattr(accepting, "timestamp", fixed)
    monkeypatch.setattr(log_module, "timestamp", fixed)
    monkeypatch.setattr(history, "timestamp", fixed)


@pytest.mark.postgres
def test_sqlite_and_postgresql_write_the_same_rows_and_chain(fixed_lane_and_clock, tmp_path, postgres_database_url):
    written = {}
    for name, url in (("sqlite", f"sqlite:///{tmp_path / 'log.sqlite3'}"), ("postgresql", postgres_database_url)):
        with open_message_log(url, anchoring=AnchorPolicy(every_records=10_000, every_seconds=3600)) as log:
            write_the_same_things(log)
            report = log.verify_chain()
            assert report.ok and report.records == CORE_WRITER_HEAD[0]
            written[name] = contents(log)
    assert written["sqlite"] == written["postgresql"]
    ranks = [row[0] for row in sorted(written["postgresql"]["audit_chain"], key=lambda row: row[-1])]
    assert ranks == sorted(ranks), "record numbers grow along the lane"
    assert written["sqlite"]["lanes"] == [(LANE.hex, *CORE_WRITER_HEAD)]
    statuses = {row[0]: row[10] for row in written["sqlite"]["messages"]}
    assert statuses == {"msg-1": "published", "msg-2": "delivered", "msg-3": "published", "msg-4": "published",
                        "msg-5": "published", "msg-1001": "published", "msg-1002": "published"}
    assert [row[0] for row in written["sqlite"]["outbox"]] == ["msg-2"]
    assert ("rajesh", "msg-3") in written["sqlite"]["search_terms"]
