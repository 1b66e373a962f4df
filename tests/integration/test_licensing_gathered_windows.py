"""A settled window's writes gathered (a few statements per window), with the outcomes of one message at a time.

Arrivals, renewals, temporary exits and records are gathered
(:mod:`simulators.licensing.window_writes`); a final exit, which reads what
it frees, runs as it comes, after the writes gathered before it. On SQLite
and the real PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.integration.test_licensing_consumer import (  # noqa: F401 - any_state and pki are fixtures
    NOW, any_state, approved_licence, later, pki, sample, signed, vacancy_use,
)

from simulators.licensing import tables, window_apply
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.window_writes import GuardedUpdate, WindowWrites, WritesMovedError


def one_pass_only(monkeypatch) -> list:
    """Calls of the per-message road (a savepoint each), recorded: a clean window never takes it."""
    taken: list = []
    each = window_apply.apply_each
    monkeypatch.setattr(window_apply, "apply_each", lambda *args: taken.append(args) or each(*args))
    monkeypatch.setattr("simulators.licensing.batches.apply_each", window_apply.apply_each)
    return taken


def issued_visa(state, consumer, pki) -> str:
    licence = approved_licence(state)
    consumer.handle(later(*signed(pki.hub, sample("VisaIssued", LicenceNumber=licence))))
    consumer.settle()
    return licence


def test_one_window_moves_a_visa_once_and_keeps_every_outcome_in_message_order(any_state, pki, monkeypatch):
    consumer = LicensingConsumer(any_state, pki.verify, now=lambda: NOW)
    issued_visa(any_state, consumer, pki)
    taken, commits = one_pass_only(monkeypatch), any_state.windows.commits
    first = signed(pki.hub, sample("WorkerArrival", VisaNumber="EV-2024-0601942", Worker__PassportNumber="P6621904B"))
    work = [first,
            signed(pki.hub, sample("WorkerArrival", VisaNumber="EV-2024-0601942", Worker__PassportNumber="P6621904B")),
            signed(pki.hub, sample("ResidenceRenewal")),
            first,  # twice in the window: applied once
            signed(pki.hub, sample("WorkerArrival", VisaNumber="EV-2024-0000404", Worker__PassportNumber="P0000404C"))]
    for item in work:
        consumer.handle(later(*item))
    consumer.settle()
    assert any_state.windows.commits == commits + 1 and taken == []
    assert [e["outcome"] for e in reversed(any_state.events())] == [
        "vacancy-consumed", "visa-used", "recorded-visa-unknown", "recorded", "recorded-visa-unknown"]
    assert [e["message_id"] for e in reversed(any_state.events())][1:] == [
        header.message_id for header, _ in work[:3] + work[4:]]
    assert [v["status"] for v in any_state.rows(tables.visas)] == ["arrived"]
    rows = sorted(any_state.rows(tables.worker_events), key=lambda row: row["id"])
    assert [row["message_id"] for row in rows] == [header.message_id for header, _ in work[:3] + work[4:]]


def test_a_final_exit_in_the_window_reads_what_the_arrival_before_it_wrote(any_state, pki, monkeypatch):
    consumer = LicensingConsumer(any_state, pki.verify, now=lambda: NOW)
    licence = issued_visa(any_state, consumer, pki)
    taken = one_pass_only(monkeypatch)
    for body in (sample("WorkerArrival", VisaNumber="EV-2024-0601942", Worker__PassportNumber="P6621904B"),
                 sample("WorkerDeparture", Worker__PassportNumber="P6621904B"),
                 sample("WorkerDeparture", DepartureKind="temporary", Worker__PassportNumber="P6621904B")):
        consumer.handle(later(*signed(pki.hub, body)))
    consumer.settle()
    assert taken == []
    # the arrival's visa moved before the exit looked at it, as if each had committed on its own
    assert [e["outcome"] for e in reversed(any_state.events())][1:] == ["visa-used", "vacancy-released", "recorded"]
    assert vacancy_use(any_state, licence) == [0]
    assert [v["status"] for v in any_state.rows(tables.visas)] == ["released"]


def test_a_redelivered_window_changes_nothing_and_writes_nothing_twice(any_state, pki, monkeypatch):
    consumer = LicensingConsumer(any_state, pki.verify, now=lambda: NOW)
    issued_visa(any_state, consumer, pki)
    work = [signed(pki.hub, sample("WorkerArrival", VisaNumber="EV-2024-0601942", Worker__PassportNumber=p))
            for p in ("P6621904B", "P6621904C")]
    for item in work:
        consumer.handle(later(*item))
    consumer.settle()
    taken = one_pass_only(monkeypatch)
    for item in reversed(work):  # the same deliveries again (as after a lost ack), with one new
        consumer.handle(later(*item))
    fresh = signed(pki.hub, sample("ResidenceRenewal"))
    consumer.handle(later(*fresh))
    consumer.settle()
    assert taken == []
    assert [e["outcome"] for e in reversed(any_state.events())][1:] == [
        "visa-used", "recorded-visa-unknown", "recorded"]
    assert len(any_state.rows(tables.worker_events)) == 3


def test_a_guarded_update_that_changes_other_rows_than_it_found_fails_the_gathered_writes(any_state):
    with any_state.engine.begin() as conn:  # two rows of one key: the update changes more than one per key
        conn.execute(tables.worker_events.insert(), [
            {"message_id": f"m-{n}", "kind": "WorkerArrival", "occurred_at": "2024-05-20", "detail": "{}",
             "civil_number": "120339847"} for n in range(2)])
    loose = GuardedUpdate(tables.worker_events.name, "civil_number", "kind = 'seen'", "kind = 'WorkerArrival'")
    writes = WindowWrites()
    writes.update(loose, "120339847")
    with any_state.engine.connect() as conn, pytest.raises(WritesMovedError):
        writes.run(conn)  # the window applier then applies each message on its own (window_apply)
