"""Worker processes' circuit states in the log's database: the console's view of breakers it does not hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.messagelog import open_message_log
from hub.messagelog.circuits import FRESH_FOR, CircuitReports
from hub.messagelog.controls import ControlBoard
from hub.outbound.controls import Switchboard
from hub.outbound.resilience import Breakers

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc)


def test_the_worst_fresh_state_wins_and_silent_processes_drop_out(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        reports = CircuitReports(log.engine)
        reports.report("a:1", {"police": "closed", "courts": "open"}, T0)
        reports.report("b:2", {"police": "half-open", "courts": "closed"}, T0 + timedelta(seconds=5))
        worst = reports.worst(T0 + timedelta(seconds=10))
        assert {k: (v["state"], v["process"], v["processes"]) for k, v in worst.items()} == {
            "police": ("half-open", "b:2", 2), "courts": ("open", "a:1", 2)}
        # a:1 stops reporting; b:2 goes on and its courts stays closed
        reports.report("b:2", {"police": "closed", "courts": "closed"}, T0 + timedelta(seconds=FRESH_FOR))
        later = reports.worst(T0 + timedelta(seconds=FRESH_FOR + 1))
        assert {k: (v["state"], v["processes"]) for k, v in later.items()} == {
            "police": ("closed", 1), "courts": ("closed", 1)}


def test_a_report_replaces_the_processes_rows_and_forgets_day_old_ones(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        reports = CircuitReports(log.engine)
        reports.report("gone:9", {"commerce": "open"}, T0)
        reports.report("a:1", {"police": "open", "courts": "closed"}, T0 + timedelta(days=1, seconds=1))
        reports.report("a:1", {"police": "closed"}, T0 + timedelta(days=1, seconds=2))
        with log.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT process, agency, state FROM circuit_reports").all()
        assert [tuple(r) for r in rows] == [("a:1", "police", "closed")]


def test_the_switchboard_reports_a_change_at_once_and_an_unchanged_state_every_so_often(tmp_path):
    now = [0.0]
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        breakers = Breakers()
        board = Switchboard(ControlBoard(log.engine), breakers, interval=0, clock=lambda: now[0])
        board.serve("police", "police")
        board.refresh(force=True)
        reports = CircuitReports(log.engine)
        first = reports.worst()["police"]
        assert first["state"] == "closed"  # a worker serves police and no call failed yet
        now[0] = 1.0
        board.refresh(force=True)
        assert reports.worst()["police"]["reported_at"] == first["reported_at"]  # unchanged, not due: no write
        _open_a_breaker(breakers)
        board.refresh(force=True)
        assert reports.worst()["police"]["state"] == "open"


def _open_a_breaker(breakers: Breakers) -> None:
    from hub.config import OutboundSettings

    breaker = breakers.get("police", "civil-registry", OutboundSettings(breaker_failures=1))
    breaker.open()


def test_a_state_the_console_cannot_rank_is_refused_not_dropped(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        reports = CircuitReports(log.engine)
        reports.report("a:1", {"police": "open"}, T0)
        with pytest.raises(ValueError, match="unknown circuit state ajar"):
            reports.report("a:1", {"police": "closed", "courts": "ajar"}, T0 + timedelta(seconds=1))
        assert reports.worst(T0 + timedelta(seconds=2))["police"]["state"] == "open"  # the earlier report stands
