"""The message log on SQLite and on the real PostgreSQL: storage, outbox, events, hash chain.

Every test here runs twice through the ``log_url`` fixture. PostgreSQL gets a
uniquely named database per session (dropped afterwards); when the server is
unreachable those runs skip, or fail with RABT_REQUIRE_BROKER=1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from hub.errors import AuditChainError, DuplicateMessageError, MessageLogError
from hub.messagelog import Accepted, open_message_log
from hub.messagelog.chain import ChainEntry, entry_hash, fields_detail


@pytest.fixture
def log_url(database_url):
    return database_url


@pytest.fixture
def log(log_url):
    with open_message_log(log_url) as opened:
        yield opened


def record(n: int | str, **changes) -> Accepted:
    values = dict(
        message_id=f"msg-{n}", message_type="MaritalStatusResponse", source_agency="police",
        destination="licensing", routing_key="licensing.MaritalStatusResponse.police",
        raw=f"<civil id='{n}'>married</civil>".encode(), envelope=f"<Envelope n='{n}'/>".encode(),
        correlation_id="corr-1", source_system="civil-registry", source_message_id=f"police-{n}",
        created_at=datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc),
    )
    return Accepted(**{**values, **changes})


def execute(log, sql: str, **params) -> int:
    """Tamper behind the log's back, with plain SQL."""
    with log.engine.begin() as conn:
        return conn.execute(sa.text(sql), params).rowcount


def broken(log) -> AuditChainError:
    with pytest.raises(AuditChainError) as caught:
        log.verify_chain()
    report = log.verify_chain(raise_on_error=False)
    assert not report.ok and report.record_id == caught.value.record_id
    return caught.value


# --- storing ---------------------------------------------------------------

def test_accept_stores_everything_and_queues_it(log):
    assert log.accept(record(1)) == "msg-1"
    stored = log.get("msg-1")
    assert stored.raw == b"<civil id='1'>married</civil>" and stored.envelope == b"<Envelope n='1'/>"
    assert stored.status == "received" and stored.published_at is None
    assert stored.created_at == datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)
    assert stored.received_at.tzinfo is not None
    assert len(stored.raw_sha256) == 64 and stored.raw_sha256 != stored.envelope_sha256
    [pending] = log.unpublished(10)
    assert (pending.message_id, pending.routing_key, pending.envelope) == (
        "msg-1", "licensing.MaritalStatusResponse.police", b"<Envelope n='1'/>")
    assert [e.status for e in log.events("msg-1")] == ["received"]
    assert log.get("unknown") is None


def test_a_message_sent_directly_is_logged_but_never_queued(log):
    # request/reply: the sender delivers it itself, so a relay must not publish it too
    log.accept(record(1), enqueue=False)
    assert log.get("msg-1").status == "received" and log.unpublished(10) == []
    assert log.mark_published(["msg-1"]) == 1
    assert log.get("msg-1").status == "published" and log.get("msg-1").published_at is not None
    assert log.mark_published(["msg-1"]) == 0 and log.enqueue("msg-1") is False
    assert [e.status for e in log.events("msg-1")] == ["received", "published"]


def test_a_direct_message_nobody_took_goes_to_the_relay_once(log):
    log.accept(record(2), enqueue=False)
    assert log.enqueue("msg-2") is True and log.enqueue("msg-2") is False
    assert [p.message_id for p in log.unpublished(10)] == ["msg-2"]
    with pytest.raises(MessageLogError, match="no such message"):
        log.enqueue("msg-unknown")


def test_duplicate_agency_message_is_refused_and_stores_nothing(log):
    log.accept(record(1))
    with pytest.raises(DuplicateMessageError) as caught:
        log.accept(record(2, source_message_id="police-1", raw=record(1).raw))  # the same content again
    assert caught.value.first_message_id == "msg-1" and caught.value.agency == "police"
    assert log.get("msg-2") is None and len(log.unpublished(10)) == 1
    assert log.stats().chain_records == 1
    # the same agency id from another agency is not a duplicate; no agency id never is
    log.accept(record(3, source_agency="commerce", source_message_id="police-1"))
    log.accept(record(4, source_message_id=None))
    log.accept(record(5, source_message_id=None))
    log.verify_chain()


def test_reused_hub_message_id_is_an_error(log):
    log.accept(record(1))
    with pytest.raises(MessageLogError, match="already stored"):
        log.accept(record(1, source_message_id="police-other"))


@pytest.mark.parametrize("changes, complaint", [
    ({"message_id": ""}, "message_id"),
    ({"destination": None}, "destination"),
    ({"raw": "text, not bytes"}, "raw must be bytes"),
    ({"received_at": datetime(2024, 1, 1)}, "time zone"),
    ({"raw_sha256": "ABC"}, "raw_sha256 must be 64 lower-case hex digits"),
    ({"raw_sha256": b"a" * 64}, "raw_sha256 must be 64 lower-case hex digits"),  # not text: refused, no TypeError
    ({"envelope_sha256": "ABC"}, "envelope_sha256 must be 64 lower-case hex digits"),
])
def test_malformed_records_are_refused_with_a_reason(log, changes, complaint):
    with pytest.raises(MessageLogError, match=complaint):
        log.accept(record(1, **changes))
    assert log.stats().chain_records == 0


def test_events_outbox_and_operator_actions(log):
    for n in range(1, 4):
        log.accept(record(n))
    assert [p.message_id for p in log.unpublished(2)] == ["msg-1", "msg-2"]
    assert log.mark_published(["msg-1", "msg-2", "msg-1"]) == 2
    assert log.mark_published(["msg-1"]) == 0  # already marked: no second history entry
    log.record_event("msg-1", "delivered", "licensing applied it")
    log.record_event("msg-2", "dead-lettered", "schema rejected by consumer")
    log.replay("msg-2", actor="operator.amina", detail="fixed consumer")
    log.discard("msg-3", actor="operator.amina", detail="test message")
    assert [p.message_id for p in log.unpublished(10)] == ["msg-2"]
    history = log.events("msg-2")
    assert [e.status for e in history] == ["received", "published", "dead-lettered", "replayed"]
    assert history[-1].actor == "operator.amina" and history[-1].detail == "fixed consumer"
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    assert log.get("msg-1").published_at is not None and log.get("msg-3").status == "discarded"
    stats = log.stats()
    assert stats.by_status == {"delivered": 1, "replayed": 1, "discarded": 1}
    assert stats.outbox_backlog == 1 and stats.chain_records == 9
    assert stats.last_processed_at == history[-1].at or stats.last_processed_at >= history[-1].at
    # the metrics' gauges sample the rest every scrape without counting every message by status
    assert log.stats(by_status=False) == dataclasses.replace(stats, by_status={})
    assert log.verify_chain().records == 9


def test_bad_events_are_refused(log):
    log.accept(record(1))
    with pytest.raises(MessageLogError, match="unknown message status 'lost'"):
        log.record_event("msg-1", "lost")
    with pytest.raises(MessageLogError, match="no such message"):
        log.record_event("msg-404", "delivered")
    with pytest.raises(MessageLogError, match="actor"):
        log.replay("msg-1", actor=" ")
    assert log.stats().chain_records == 1


def test_find_filters_newest_first(log):
    log.accept(record(1, received_at=datetime(2024, 5, 1, 9, tzinfo=timezone.utc)))
    log.accept(record(2, received_at=datetime(2024, 5, 1, 10, tzinfo=timezone.utc)))
    log.accept(record(3, correlation_id="corr-2", message_type="BorderArrival"))
    assert [m.message_id for m in log.find(correlation_id="corr-1")] == ["msg-2", "msg-1"]
    assert [m.message_id for m in log.find(message_type="BorderArrival")] == ["msg-3"]
    assert len(log.find(source_agency="police", limit=2)) == 2
    assert log.find(status="published") == []


def test_refused_input_is_kept_and_chained(log):
    refusal = log.refuse(b"<not-xml", "courts", "line 1: not well-formed")
    log.refuse("unicode text ✓", None, "no agency")
    [newest, first] = log.refusals()
    assert first.refusal_id == refusal and first.raw == b"<not-xml" and first.agency == "courts"
    assert newest.agency == "unknown"
    assert log.stats().refused == 2 and log.verify_chain().records == 2


# --- the chain -------------------------------------------------------------

def populate(log, n: int = 4) -> None:
    for i in range(1, n + 1):
        log.accept(record(i))
    log.mark_published([f"msg-{i}" for i in range(1, n + 1)])
    log.record_event("msg-2", "delivered", "applied")


def chain_seq(log, message_id: str, status: str = "received") -> int:
    return next(e.seq for e in log.events(message_id) if e.status == status)


def test_intact_chain_verifies_and_reports_progress(log):
    populate(log, 12)  # 12 accepted + 12 published + 1 delivered
    calls = []
    report = log.verify_chain(lambda done, total: calls.append((done, total)), every=10)
    assert report.ok and report.records == 25 and len(report.head_hash) == 64
    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_edited_raw_payload_is_named(log):
    populate(log)
    execute(log, "UPDATE payloads SET raw = :raw WHERE message_id = 'msg-3'", raw=b"<civil>single</civil>")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-3") and "raw payload of message msg-3" in error.reason


def test_edited_payload_with_recomputed_digest_is_still_caught(log):
    populate(log)
    forged = b"<civil>single</civil>"
    execute(log, "UPDATE payloads SET raw = :raw WHERE message_id = 'msg-2'", raw=forged)
    execute(log, "UPDATE messages SET raw_sha256 = :d WHERE message_id = 'msg-2'", d=hashlib.sha256(forged).hexdigest())
    assert broken(log).record_id == chain_seq(log, "msg-2")


def test_edited_envelope_is_named(log):
    populate(log)
    execute(log, "UPDATE payloads SET envelope = :e WHERE message_id = 'msg-1'", e=b"<Envelope forged='1'/>")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-1") and "signed envelope of message msg-1" in error.reason


def test_edited_header_field_is_named(log):
    populate(log)
    execute(log, "UPDATE messages SET destination = 'courts' WHERE message_id = 'msg-4'")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-4") and "'destination'" in error.reason


def test_edited_event_detail_is_named(log):
    populate(log)
    seq = chain_seq(log, "msg-2", "delivered")
    execute(log, "UPDATE audit_chain SET detail = 'nothing happened' WHERE seq = :s", s=seq)
    error = broken(log)
    assert error.record_id == seq and "altered" in error.reason


def test_rewritten_record_with_fresh_hash_breaks_the_next_link(log):
    populate(log)
    seq = chain_seq(log, "msg-1", "published")
    with log.engine.begin() as conn:
        row = conn.execute(sa.text("SELECT * FROM audit_chain WHERE seq = :s"), {"s": seq}).mappings().one()
        entry = ChainEntry(**{**{k: row[k] for k in ChainEntry.__dataclass_fields__}, "status": "discarded"})
        conn.execute(sa.text("UPDATE audit_chain SET status = 'discarded', hash = :h WHERE seq = :s"),
                     {"h": entry_hash(row["prev_hash"], seq, entry), "s": seq})
    error = broken(log)
    assert error.record_id == seq + 1 and "does not follow" in error.reason


def test_deleted_chain_record_is_named(log):
    populate(log)
    seq = chain_seq(log, "msg-3", "published")
    assert execute(log, "DELETE FROM audit_chain WHERE seq = :s", s=seq) == 1
    error = broken(log)
    assert error.record_id == seq and "missing" in error.reason


def test_deleted_newest_record_is_caught_by_the_head(log):
    populate(log)
    last = log.stats().chain_records
    execute(log, "DELETE FROM audit_chain WHERE seq = :s", s=last)
    assert broken(log).record_id == last


def test_deleted_message_is_named(log):
    populate(log)
    execute(log, "DELETE FROM payloads WHERE message_id = 'msg-4'")
    execute(log, "DELETE FROM messages WHERE message_id = 'msg-4'")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-4") and "msg-4 is missing" in error.reason


def test_deleted_payloads_of_a_kept_message_are_named(log):
    populate(log)
    execute(log, "DELETE FROM payloads WHERE message_id = 'msg-2'")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-2") and "payloads of message msg-2 are missing and no archive" in error.reason


def test_reordered_records_are_named(log):
    populate(log)
    with log.engine.begin() as conn:
        for old, new in ((2, -2), (3, 2), (-2, 3)):
            conn.execute(sa.text("UPDATE audit_chain SET seq = :new WHERE seq = :old"), {"old": old, "new": new})
    assert broken(log).record_id == 2


def test_message_inserted_behind_the_logs_back_is_named(log):
    populate(log, 2)
    execute(log, "INSERT INTO messages SELECT 'forged', correlation_id, message_type, source_agency,"
                 " source_system, 'forged-src', destination, routing_key, raw_sha256,"
                 " envelope_sha256, status, created_at, received_at, published_at, updated_at, 999, NULL"
                 " FROM messages WHERE message_id = 'msg-1'")
    error = broken(log)
    assert error.record_id == 999 and "forged" in error.reason


def test_edited_refused_input_is_named(log):
    populate(log, 2)
    refusal = log.refuse(b"<evil/>", "police", "signature missing")
    seq = log.stats().chain_records
    log.accept(record(9))
    execute(log, "UPDATE refused SET reason = 'fine' WHERE refusal_id = :r", r=refusal)
    error = broken(log)
    assert error.record_id == seq and "'reason'" in error.reason


# --- concurrency -----------------------------------------------------------

def test_threads_appending_keep_one_chain(log):
    def work(t: int) -> None:
        for i in range(15):
            log.accept(record(f"t{t}-{i}"))
            log.record_event(f"msg-t{t}-{i}", "delivered")
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.verify_chain().records == 4 * 15 * 2
    assert log.stats().by_status == {"delivered": 60}


def _append_from_process(url: str, worker: int, count: int, start) -> None:
    start.wait(10)
    with open_message_log(url) as log:
        for i in range(count):
            log.accept(record(f"p{worker}-{i}"))
            if i % 2:
                log.mark_published([f"msg-p{worker}-{i}"])


def test_processes_appending_keep_one_chain(log, log_url):
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [context.Process(target=_append_from_process, args=(log_url, w, 20, start)) for w in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    report = log.verify_chain()
    assert report.records == 3 * (20 + 10)
    assert log.stats().outbox_backlog == 30


def test_opening_twice_is_idempotent_and_keeps_data(log, log_url):
    log.accept(record(1))
    with open_message_log(log_url) as again:
        assert again.get("msg-1") is not None and again.verify_chain().records == 1
    with open_message_log(log_url, create=False) as existing:
        assert existing.verify_chain().records == 1


def test_a_new_sqlite_log_makes_its_folder_but_a_read_only_open_does_not(tmp_path):
    url = f"sqlite:///{tmp_path / 'first-run' / 'var' / 'messages.sqlite3'}"
    with pytest.raises(MessageLogError):
        open_message_log(url, create=False)  # audit tools: a missing log is named, nothing made
    assert not (tmp_path / "first-run").exists()
    with open_message_log(url) as log:
        log.accept(record(1))
    with open_message_log(url, create=False) as existing:
        assert existing.get("msg-1") is not None


def test_a_read_only_open_of_an_earlier_layout_names_the_upgrade_and_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # payloads inside the messages table, as before they had their own
        conn.execute(sa.text("CREATE TABLE messages (message_id TEXT PRIMARY KEY, raw BLOB, envelope BLOB)"))
        conn.execute(sa.text("INSERT INTO messages VALUES ('kept', x'3c612f3e', x'3c622f3e')"))
    engine.dispose()
    with pytest.raises(MessageLogError, match="earlier layout .* run rabt db upgrade"):
        open_message_log(url, create=False)  # audit tools write nothing; tests/unit/test_migrations.py migrates
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM messages")).scalar() == 1
        assert not sa.inspect(conn).has_table("payloads")


def test_accept_many_stores_a_batch_and_reports_duplicates(log):
    log.accept(record(1))
    batch = [record(2), record(3, source_message_id="police-1", raw=record(1).raw), record(4),
             record(5, source_message_id="police-4", raw=record(4).raw)]
    result = log.accept_many(batch)
    assert result.stored == ["msg-2", "msg-4"]
    assert [d.first_message_id for d in result.duplicates] == ["msg-1", "msg-4"]
    assert [p.message_id for p in log.unpublished(10)] == ["msg-1", "msg-2", "msg-4"]
    assert log.verify_chain().records == 3
    assert log.accept_many([]).stored == []


def test_accept_many_with_a_reused_hub_id_stores_nothing(log):
    log.accept(record(1))
    with pytest.raises(MessageLogError, match="already stored"):
        log.accept_many([record(2), record(1, source_message_id="fresh")])
    with pytest.raises(MessageLogError, match="already stored"):
        log.accept_many([record(3), record(3, source_message_id="other")])
    assert log.get("msg-2") is None and log.get("msg-3") is None and log.stats().chain_records == 1


def test_store_sent_with_a_reused_hub_id_stores_nothing_and_a_duplicate_is_reported(log):
    # first written without the look-up for reused hub ids: the primary key refuses, the retry names it
    log.accept(record(1))
    with pytest.raises(MessageLogError, match="already stored"):
        log.store_sent([record(2), record(1, source_message_id="fresh")])
    assert log.get("msg-2") is None and log.stats().chain_records == 1
    result = log.store_sent([record(3), record(4, source_message_id="police-1", raw=record(1).raw)])
    assert result.stored == ["msg-3"] and [d.first_message_id for d in result.duplicates] == ["msg-1"]
    assert log.get("msg-3").status == "published"
    log.verify_chain()


def test_an_answer_logged_as_it_travelled_is_hashed_once_for_both_digests(log, monkeypatch):
    # raw and envelope the same document (a destination's answer, the hub's own): one SHA-256 serves both
    from hub.messagelog import accepting

    hashed = []
    monkeypatch.setattr(accepting, "sha256_hex", lambda data: hashed.append(data) or hashlib.sha256(data).hexdigest())
    answer = b"<Answer n='1'>signed</Answer>"
    log.store_sent([record(1, raw=answer, envelope=answer), record(2)])
    same, other = log.get("msg-1"), log.get("msg-2")
    assert same.raw_sha256 == same.envelope_sha256 == hashlib.sha256(answer).hexdigest()
    assert other.envelope_sha256 == hashlib.sha256(record(2).envelope).hexdigest() != other.raw_sha256
    assert hashed == [record(2).envelope]  # the raw payloads by the record's own digest, msg-2's envelope here
    log.verify_chain()


def stored_raw(log, message_id: str) -> bytes | None:
    """The ``raw`` column itself, as the database holds it (NULL: the envelope's bytes, stored once)."""
    with log.engine.connect() as conn:
        value = conn.execute(sa.text("SELECT raw FROM payloads WHERE message_id = :m"), {"m": message_id}).scalar()
    return None if value is None else bytes(value)


def test_an_answer_logged_as_it_travelled_is_stored_once_and_read_back_whole(log):
    answer, receipt = b"<Answer n='1'>signed</Answer>", b"<Receipt for='msg-3'>signed</Receipt>"
    log.store_sent([record(1, raw=answer, envelope=answer), record(2)])
    log.accept(record(3), answer=record("rcpt-3", raw=receipt, envelope=receipt, source_message_id=None))
    assert [stored_raw(log, mid) for mid in ("msg-1", "msg-rcpt-3")] == [None, None]  # one copy: the envelope
    assert stored_raw(log, "msg-2") == record(2).raw and stored_raw(log, "msg-3") == record(3).raw
    for mid, raw in (("msg-1", answer), ("msg-rcpt-3", receipt), ("msg-2", record(2).raw)):
        stored = log.get(mid)
        assert (stored.raw, stored.envelope) == (raw, raw if mid != "msg-2" else record(2).envelope)
    assert {m.message_id: m.raw for m in log.find(correlation_id="corr-1")}["msg-rcpt-3"] == receipt
    assert log.verify_chain().records == 7  # msg-1, msg-2 and the receipt received and published; msg-3


def test_an_edited_envelope_of_a_message_stored_once_is_named(log):
    answer = b"<Answer n='1'>signed</Answer>"
    log.store_sent([record(1, raw=answer, envelope=answer)])
    execute(log, "UPDATE payloads SET envelope = :e WHERE message_id = 'msg-1'", e=b"<Answer n='1'>forged</Answer>")
    error = broken(log)
    assert error.record_id == chain_seq(log, "msg-1") and "raw payload of message msg-1" in error.reason


def test_verification_pages_through_the_chain(log, monkeypatch):
    from hub.messagelog import verify

    monkeypatch.setattr(verify, "_BATCH", 4)  # many pages, so page edges are crossed
    populate(log, 9)
    assert log.verify_chain().records == 19
    seq = chain_seq(log, "msg-7")
    execute(log, "UPDATE payloads SET raw = :raw WHERE message_id = 'msg-7'", raw=b"<forged/>")
    assert broken(log).record_id == seq == 7
    execute(log, "DELETE FROM audit_chain WHERE seq = 4")  # exactly on a page edge
    assert broken(log).record_id == 4


def test_chain_records_hash_the_documented_json_form():
    # Logs written earlier must keep verifying: the hashed text is compact JSON, non-ASCII as is.
    entry = ChainEntry("accepted", "received", "2026-12-03T10:00:00.000Z", "m-1",
                       fields_detail({"b": "ع\"2", "a": None}, ["a", "b"]), actor="نور", raw_sha256="ab" * 32)
    assert entry.detail == '{"a": null, "b": "ع\\"2"}'
    text = json.dumps(["0" * 64, 7, "accepted", "m-1", "received", "2026-12-03T10:00:00.000Z", "نور",
                       entry.detail, "ab" * 32, None], ensure_ascii=False, separators=(",", ":"))
    assert entry_hash("0" * 64, 7, entry) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_report_stored_with_its_hops_and_a_late_confirm_does_not_set_the_status_back(log):
    log.accept(record(1))
    log.accept(record(2))
    report = record("r", message_type="DeliveryReceipt", source_agency="licensing", destination="hub",
                    routing_key="hub.DeliveryReceipt.licensing", source_message_id="licensing-r")
    hops = [("msg-1", "applied", "licensing applied it", None)]
    assert log.store_report(report, hops).stored == ["msg-r"]
    again = dataclasses.replace(report, message_id="msg-r2")  # the same receipt again, checked anew
    assert log.store_report(again, hops).duplicates  # nothing stored or chained twice
    # the relay's confirm batch is written after the receipt came back
    assert log.mark_published(["msg-1", "msg-2"]) == 2
    assert log.get("msg-1").status == "applied" and log.get("msg-1").published_at is not None
    assert log.get("msg-2").status == "published"
    assert [e.status for e in log.events("msg-1")] == ["received", "applied", "published"]
    assert log.verify_chain().ok


def test_hops_set_each_message_to_its_last_status_over_more_ids_than_one_update_takes(log, monkeypatch):
    # the statuses are set one UPDATE per status and per IDS_PER_UPDATE ids, not one per hop
    from hub.messagelog import statuses

    monkeypatch.setattr(statuses, "IDS_PER_UPDATE", 2)
    for n in range(1, 6):
        log.accept(record(n))
    hops = [("msg-1", "applied", "a", None), ("msg-2", "failed", "f", None), ("msg-3", "applied", "a", None),
            ("msg-4", "applied", "a", None), ("msg-5", "applied", "a", None), ("msg-2", "applied", "again", None),
            ("msg-4", "failed", "later", None), ("msg-none", "applied", "not stored here", None)]
    log.record_hops(hops)
    assert {n: log.get(f"msg-{n}").status for n in range(1, 6)} == {
        1: "applied", 2: "applied", 3: "applied", 4: "failed", 5: "applied"}
    assert [e.status for e in log.events("msg-4")][-2:] == ["applied", "failed"]
    report = record("r", message_type="DeliveryReceipt", source_agency="licensing", destination="hub",
                    routing_key="hub.DeliveryReceipt.licensing", source_message_id="licensing-r")
    log.store_report(report, [(f"msg-{n}", "failed", "f", None) for n in (1, 3, 5)] + [("msg-2", "failed", "f", None)])
    assert {n: log.get(f"msg-{n}").status for n in range(1, 6)} == {
        1: "failed", 2: "failed", 3: "failed", 4: "failed", 5: "failed"}
    assert log.get("msg-3").updated_at == log.get("msg-5").updated_at
