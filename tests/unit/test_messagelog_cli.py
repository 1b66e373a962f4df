"""``rabt audit verify`` on the default SQLite message log under RABT_HOME."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from hub.cli import main
from hub.messagelog import Accepted, open_message_log


def fill(url: str, count: int = 3) -> None:
    with open_message_log(url) as log:
        for n in range(count):
            log.accept(Accepted(
                message_id=f"msg-{n}", message_type="CommercialRegistration", source_agency="commerce",
                destination="licensing", routing_key="licensing.CommercialRegistration.commerce",
                raw=f"<cr n='{n}'/>".encode(), envelope=f"<Envelope n='{n}'/>".encode()))
        log.record_event("msg-0", "delivered", "applied")


def run(home, *args):
    return CliRunner().invoke(main, ["audit", "verify", *args], env={"RABT_HOME": str(home), "RABT_DATABASE_URL": ""})


def test_intact_chain_exits_zero(tmp_path):
    fill(f"sqlite:///{tmp_path / 'messages.sqlite3'}")
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("chain intact: 4 records in 1 lanes, 0 anchors")


def test_anchor_binds_the_lanes_then_verify_counts_it(tmp_path):
    fill(f"sqlite:///{tmp_path / 'messages.sqlite3'}")
    anchor = CliRunner().invoke(main, ["audit", "anchor"], env={"RABT_HOME": str(tmp_path), "RABT_DATABASE_URL": ""})
    assert anchor.exit_code == 0 and anchor.stdout.startswith("anchor 1: 4 records in 1 lanes (root ")
    again = CliRunner().invoke(main, ["audit", "anchor"], env={"RABT_HOME": str(tmp_path), "RABT_DATABASE_URL": ""})
    assert again.stdout.startswith("nothing to anchor")
    assert run(tmp_path).stdout.startswith("chain intact: 4 records in 1 lanes, 1 anchors")


def test_tampered_payload_exits_one_naming_the_record(tmp_path):
    path = tmp_path / "messages.sqlite3"
    fill(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE payloads SET raw = x'3c782f3e' WHERE message_id = 'msg-1'")
        [lane] = conn.execute("SELECT lane_id FROM lanes").fetchone()
    result = run(tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"rabt: lane {lane} record 2: the raw payload of message msg-1 does not match the digest in the chain"]
    assert "chain intact" not in result.stdout


def test_database_url_option_and_progress(tmp_path):
    other = tmp_path / "elsewhere.sqlite3"
    fill(f"sqlite:///{other}", count=5)
    result = run(tmp_path / "empty-home", "--database-url", f"sqlite:///{other}", "--progress")
    assert result.exit_code == 0 and "chain intact: 6 records" in result.stdout
    assert "checked 6 of 6 records" in result.stderr


def test_missing_log_is_an_error_not_a_new_empty_log(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 1 and "no message log" in result.stderr
    assert not (tmp_path / "messages.sqlite3").exists()


def test_bad_url_is_one_line(tmp_path):
    result = run(tmp_path, "--database-url", "mysql://db/log")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "unsupported database URL" in result.stderr
