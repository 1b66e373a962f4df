"""Refusal records: a bounded digest of the input, and a per-source budget so a flood cannot grow the log."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.messagelog import open_message_log
from hub.metrics import REGISTRY
from hub.refusals import RefusalBook, RefusalBudget

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        yield log


def refused(agency: str, code: str) -> float:
    return REGISTRY.get_sample_value("rabt_messages_refused_total", {"agency": agency, "code": code}) or 0.0


def test_a_refusal_keeps_the_digest_size_and_first_bytes_never_the_whole_input(log):
    big = b"<x>" + b"A" * 100_000 + b"</x>"
    log.refuse(big, "police", "parse: too big to keep")
    [refusal] = log.refusals("police")
    assert refusal.raw == big[:512]
    assert (refusal.input_sha256, refusal.input_size) == (hashlib.sha256(big).hexdigest(), len(big))
    assert log.verify_chain().ok


def test_a_caller_holding_only_part_of_the_input_gives_its_size_and_no_false_digest(log):
    log.refuse(b"", "police", "Client.Parse: over the limit", input_size=50_000_000)
    [refusal] = log.refusals("police")
    assert (refusal.raw, refusal.input_sha256, refusal.input_size) == (b"", None, 50_000_000)


def test_a_log_from_before_refusal_digests_gets_the_columns_and_stays_verifiable(tmp_path):
    path = tmp_path / "old.sqlite3"  # written by the code of ccea8df, before refusals kept a digest
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "messagelog-ccea8df.sql").read_text())
    with open_message_log(f"sqlite:///{path}") as log:
        log.refuse(b"<new/>", "courts", "parse: a new refusal")
        by_reason = {r.reason: r for r in log.refusals(None, 100)}
        assert by_reason["Client.Parse: unclosed element"].input_size is None
        assert by_reason["parse: a new refusal"].input_size == len(b"<new/>")
        assert log.verify_chain().ok


def test_beyond_its_budget_a_source_is_summarised_not_recorded_one_by_one(log):
    clock = Clock()
    book = RefusalBook(log, RefusalBudget(per_second=0.0, burst=5, summary_every=60.0), clock=clock)
    kept = [book.keep(b"<bad/>", agency="police", source="10.0.0.7", reason="parse: bad") for _ in range(1000)]
    assert sum(k is not None for k in kept) == 5 and len(log.refusals("police", 10_000)) == 5
    clock.now += 61
    book.keep(b"<bad again/>", agency="police", source="10.0.0.7", reason="parse: worse")
    summary = log.refusals("police", 10_000)[0]
    assert summary.reason.startswith("summary: 996 more refusal(s) from 10.0.0.7")
    assert summary.reason.endswith("the last: parse: worse") and summary.raw == b"<bad again/>"
    assert book.flush() == 0  # nothing untold left
    assert log.verify_chain().ok


def test_a_flooding_source_does_not_silence_another(log):
    book = RefusalBook(log, RefusalBudget(per_second=0.0, burst=2), clock=Clock())
    for _ in range(50):
        book.keep(b"x", agency="police", source="flooder", reason="parse: x")
    assert book.keep(b"y", agency="police", source="honest", reason="parse: y") is not None


def test_sources_tracked_are_bounded_and_the_forgotten_are_summarised(log):
    book = RefusalBook(log, RefusalBudget(per_second=0.0, burst=1, max_sources=3), clock=Clock())
    for source in ("a", "a", "b", "c", "d"):  # "a" has one untold refusal when "d" pushes it out
        book.keep(b"x", agency="police", source=source, reason="parse: x")
    assert len(book._sources) == 3
    assert any(r.reason.startswith("summary: 1 more refusal(s) from a") for r in log.refusals("police"))


def test_a_flood_at_the_gateway_is_counted_in_full_but_kept_bounded_in_the_log(tmp_path, trust_store):
    budget = RefusalBudget(per_second=1.0, burst=10, summary_every=0.5)
    hub = bootstrap(Settings(home=tmp_path), trust_store=trust_store, refusal_budget=budget)
    client = gateway_app(hub).test_client()
    before = refused("police", "Client.Parse")
    started = time.monotonic()
    for _ in range(300):
        client.post("/soap/police", data=b"not XML", content_type="text/xml")
    time.sleep(max(0.0, budget.summary_every + 0.1 - (time.monotonic() - started)))  # a summary is due
    client.post("/soap/police", data=b"not XML", content_type="text/xml")
    elapsed = time.monotonic() - started
    assert refused("police", "Client.Parse") == before + 301
    records = hub.log.refusals("police", 10_000)
    summaries = [r for r in records if r.reason.startswith("summary: ")]
    assert len(records) <= budget.burst + elapsed * budget.per_second + 1 + len(summaries)
    assert len(summaries) >= 1
    hub.close()  # writes what is still untold
    with open_message_log(hub.settings.effective_database_url) as log:
        records = log.refusals("police", 10_000)
        told = sum(int(r.reason.split()[1]) for r in records if r.reason.startswith("summary: "))
        one_by_one = sum(not r.reason.startswith("summary: ") for r in records)
        assert told + one_by_one == 301  # every refusal is in the log, one by one or in a summary
        assert log.verify_chain().ok
