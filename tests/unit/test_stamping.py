"""The stamper and the token checks of ``rabt audit verify``, on SQLite and the real PostgreSQL.

The TSA is the simulator served over real HTTP on a local port; "down" is
nothing listening on that port. The stamper's clock is a fake one, so the
grace period passes without waiting for it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from asn1crypto import cms
from click.testing import CliRunner
from werkzeug.serving import make_server

from hub import metrics
from hub.cli import main
from hub.config_roles import TimestampSettings
from hub.messagelog import open_message_log, stamps
from hub.outage import Outages
from hub.stamping import Stamper
from hub.timestamps import verify_token
from simulators.demo.ports import free_port
from simulators.tsa.app import create_app
from tests.unit.test_lanes import record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Tsa:
    """The TSA simulator on ``port`` (started and stopped at will, same identity)."""

    def __init__(self, folder, port: int) -> None:
        self.app, self.port, self.server = create_app({"tsa_dir": folder}), port, None
        self.certificate = self.app.extensions["rabt_simulator"]["authority"].identity.certificate
        self.pem = self.app.extensions["rabt_simulator"]["authority"].identity.pem

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def tsa(tmp_path):
    server = Tsa(tmp_path / "tsa", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def log(database_url):
    opened = open_message_log(database_url)
    yield opened
    opened.close()


def settings_for(tsa: Tsa, tmp_path, **changes) -> TimestampSettings:
    (tmp_path / "tsa.pem").write_bytes(tsa.pem)
    values = {"url": f"http://127.0.0.1:{tsa.port}/", "certificate": tmp_path / "tsa.pem", "interval": 1.0,
              "grace": 30.0, "timeout": 2.0, **changes}
    return TimestampSettings(**values)


def write_and_anchor(log, start: int, count: int = 2):
    for n in range(start, start + count):
        log.accept(record(n))
    return log.anchor()


def tokens(log) -> list:
    with log.engine.connect() as conn:
        return conn.execute(sa.text("SELECT anchor_seq, hash, timestamp_token FROM anchors ORDER BY anchor_seq")).all()


def stamped_count() -> float:
    return metrics.REGISTRY.get_sample_value("rabt_anchor_stamps_total") or 0.0


def test_a_round_stamps_every_anchor_oldest_first_and_each_token_verifies(log, tsa, tmp_path):
    for start in (1, 10):
        write_and_anchor(log, start)
    log.accept(record(20))  # not anchored yet: the round anchors it (the newest anchor is older than the interval)
    before = stamped_count()
    stamper = Stamper(log.engine, settings_for(tsa, tmp_path, interval=0.001), tsa.certificate, outages=Outages())
    assert stamper.round() == 0.001
    rows = tokens(log)
    assert [row.anchor_seq for row in rows] == [1, 2, 3] and stamped_count() - before == 3
    serials = [verify_token(bytes(row.timestamp_token), row.hash, tsa.certificate).serial for row in rows]
    assert serials == sorted(serials)  # the oldest anchor was stamped first
    assert stamps.backlog(log.engine).count == 0
    assert metrics.REGISTRY.get_sample_value("rabt_anchors_unstamped") == 0
    report = stamps.check_tokens(log.engine, tsa.certificate, grace=60)
    assert report.ok and report.stamped == 3


def test_a_token_is_kept_once_stored(log, tsa, tmp_path):
    anchor = write_and_anchor(log, 1)
    stamper = Stamper(log.engine, settings_for(tsa, tmp_path), tsa.certificate, outages=Outages())
    stamper.round()
    [first] = tokens(log)
    assert not stamps.attach(log.engine, anchor.anchor_seq, anchor.hash, b"another stamper's token")
    assert tokens(log)[0].timestamp_token == first.timestamp_token


def test_tsa_down_the_log_keeps_taking_records_readiness_waits_for_the_grace_then_catch_up(log, tsa, tmp_path):
    clock, outages = Clock(), Outages()
    stamper = Stamper(log.engine, settings_for(tsa, tmp_path, grace=30.0), tsa.certificate, outages=outages,
                      clock=clock)
    tsa.stop()
    failures = metrics.REGISTRY.get_sample_value("rabt_anchor_stamp_failures_total",
                                                 {"code": "timestamp-unavailable"}) or 0
    for start in (1, 10, 20):
        write_and_anchor(log, start)  # accepting goes on while the TSA is away
        assert 0 < stamper.round() <= 1.0
        clock.now += 10
    assert outages.current() == {}  # 20 s of failure: within the grace
    clock.now += 15
    stamper.round()
    assert "tsa" in outages.current() and "unreachable" in outages.current()["tsa"]
    assert metrics.REGISTRY.get_sample_value("rabt_anchor_stamp_failures_total",
                                             {"code": "timestamp-unavailable"}) - failures == 4
    assert metrics.REGISTRY.get_sample_value("rabt_anchors_unstamped") == 3
    assert metrics.REGISTRY.get_sample_value("rabt_anchor_unstamped_oldest_age_seconds") >= 0
    assert all(row.timestamp_token is None for row in tokens(log))
    tsa.start()
    assert stamper.round() == 1.0
    assert outages.current() == {}
    rows = tokens(log)
    serials = [verify_token(bytes(row.timestamp_token), row.hash, tsa.certificate).serial for row in rows]
    assert len(rows) == 3 and serials == sorted(serials)


def test_swapped_and_tampered_tokens_are_named_by_anchor(log, tsa, tmp_path):
    for start in (1, 10, 20):
        write_and_anchor(log, start)
    Stamper(log.engine, settings_for(tsa, tmp_path), tsa.certificate, outages=Outages()).round()
    one, two, three = tokens(log)
    broken = bytearray(three.timestamp_token)
    signed_content = cms.ContentInfo.load(bytes(broken))["content"]["encap_content_info"]["content"].contents
    broken[bytes(broken).index(signed_content) + len(signed_content) - 3] ^= 0xFF  # inside the TSTInfo
    with log.engine.begin() as conn:
        update = sa.text("UPDATE anchors SET timestamp_token = :t WHERE anchor_seq = :s")
        conn.execute(update, [{"t": two.timestamp_token, "s": 1}, {"t": one.timestamp_token, "s": 2},
                              {"t": bytes(broken), "s": 3}])
    report = stamps.check_tokens(log.engine, tsa.certificate, grace=60)
    assert not report.ok and report.stamped == 0
    assert [finding.split(":")[0] for finding in report.findings] == ["anchor 1", "anchor 2", "anchor 3"]
    assert "another digest" in report.findings[0] and "another digest" in report.findings[1]
    assert "content was altered" in report.findings[2]


def test_an_anchor_unstamped_past_the_grace_is_a_finding_and_an_implausible_time_too(log, tsa, tmp_path):
    anchor = write_and_anchor(log, 1)
    taken = datetime.fromisoformat(anchor.at.replace("Z", "+00:00"))
    waiting = stamps.check_tokens(log.engine, tsa.certificate, grace=60, now=taken + timedelta(seconds=30))
    assert waiting.ok and waiting.waiting == 1
    late = stamps.check_tokens(log.engine, tsa.certificate, grace=60, now=taken + timedelta(seconds=61))
    assert late.findings == [f"anchor 1 (taken {anchor.at}) has no timestamp token after the 60 s grace period"]
    Stamper(log.engine, settings_for(tsa, tmp_path), tsa.certificate, outages=Outages()).round()
    earlier = stamps.check_tokens(log.engine, tsa.certificate, grace=60, now=taken - timedelta(minutes=5))
    assert len(earlier.findings) == 1 and "implausible" in earlier.findings[0]


def test_audit_verify_checks_the_tokens_and_names_a_bad_one(database_url, log, tsa, tmp_path):
    for start in (1, 10):
        write_and_anchor(log, start)
    settings = settings_for(tsa, tmp_path)
    Stamper(log.engine, settings, tsa.certificate, outages=Outages()).round()
    env = {"RABT_HOME": str(tmp_path), "RABT_DATABASE_URL": database_url,
           "RABT_TSA_CERTIFICATE": str(settings.certificate)}
    good = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert good.exit_code == 0, good.output
    assert "timestamps verified: 2 anchors stamped by the pinned TSA, 0 waiting" in good.output
    one, two = tokens(log)
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE anchors SET timestamp_token = :t WHERE anchor_seq = 2"), {"t": one.timestamp_token})
    bad = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "anchor 2: its timestamp token does not hold: the token stamps another digest" in bad.output
    unchecked = CliRunner().invoke(main, ["audit", "verify"], env={**env, "RABT_TSA_CERTIFICATE": ""})
    assert unchecked.exit_code == 0 and "timestamps not checked" in unchecked.output
