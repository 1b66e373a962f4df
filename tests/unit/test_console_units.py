"""Console pieces without a server: users and roles, metrics, the management API
figures, rates, the action log, labels, and the ``rabt console`` access commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hub import metrics
from hub.cli import main
from hub.console.actions import ActionLog
from hub.console.broker import ManagementApi, figures_from
from hub.console.i18n import LABELS, translator
from hub.console.overview import DepthTracker
from hub.console.users import Users, new_token, role_allows, token_digest, users_path
from hub.errors import ConfigError, TransportError
from werkzeug.security import generate_password_hash


def test_roles_are_ordered():
    assert role_allows("admin", "operator") and role_allows("operator", "operator")
    assert not role_allows("viewer", "operator") and not role_allows("operator", "admin")


def test_the_ledger_role_stands_apart_from_the_order():
    assert all(not role_allows("ledger", needed) for needed in ("viewer", "operator", "admin"))
    assert role_allows("ledger", "ledger") and role_allows("operator", "ledger") and role_allows("admin", "ledger")
    assert not role_allows("viewer", "ledger")
    token, digest = new_token()
    users = Users.from_dict({"tokens": {"citizen-portal": {"role": "ledger", "sha256": digest}}})
    assert users.check_token(token).role == "ledger"
    with pytest.raises(ConfigError, match="ledger"):
        Users.from_dict({"tokens": {"x": {"role": "citizen", "sha256": digest}}})


def test_users_file_round_trip_and_checks(tmp_path):
    token, digest = new_token()
    path = tmp_path / "users.toml"
    path.write_text(f'[users.amal]\nrole = "operator"\npassword = "{generate_password_hash("pw-123456789", method="pbkdf2:sha256:1000")}"\n'
                    f'[tokens.prom]\nrole = "viewer"\nsha256 = "{digest}"\n', encoding="utf-8")
    users = Users.load(path)
    assert users.check_password("amal", "pw-123456789").role == "operator"
    assert users.check_password("amal", "wrong") is None and users.check_password("nobody", "x") is None
    principal = users.check_token(token)
    assert (principal.name, principal.role, principal.method) == ("prom", "viewer", "bearer")
    assert users.check_token(token + "x") is None
    assert token_digest(token) == digest and len(token) >= 40


@pytest.mark.parametrize("text,match", [
    ('[users.a]\nrole = "root"\npassword = "x"\n', "role 'root'"),
    ('[users.a]\nrole = "viewer"\n', "non-empty password"),
    ('[tokens.t]\nrole = "viewer"\nsha256 = "abc"\n', "64 hex digits"),
    ("users = 3\n", "must be tables"),
    ("not toml [", "cannot read"),
])
def test_malformed_users_file_is_a_config_error(tmp_path, text, match):
    path = tmp_path / "users.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        Users.load(path)


def test_missing_users_file_lets_nobody_in(tmp_path):
    users = Users.load(tmp_path / "absent.toml")
    assert users.passwords == {} and users.tokens == {}
    assert users_path(tmp_path) == tmp_path / "console-users.toml"
    assert users_path(tmp_path, Path("/etc/rabt/u.toml")).as_posix() == "/etc/rabt/u.toml"


def test_cli_adds_users_and_tokens_hashed(tmp_path):
    runner = CliRunner()
    env = {"RABT_HOME": str(tmp_path)}
    result = runner.invoke(main, ["console", "user", "أمل", "--role", "admin"], env=env,
                           input="long enough password\nlong enough password\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["console", "token", "prometheus", "--role", "viewer"], env=env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    text = (tmp_path / "console-users.toml").read_text(encoding="utf-8")
    assert "long enough password" not in text and token not in text
    users = Users.load(tmp_path / "console-users.toml")
    assert users.check_password("أمل", "long enough password").role == "admin"
    assert users.check_token(token).role == "viewer"
    short = runner.invoke(main, ["console", "user", "x", "--role", "viewer", "--password", "short"], env=env)
    assert short.exit_code == 1 and "12 characters" in short.output


def test_metric_names_units_and_labels():
    metrics.record_received("courts", "LabourCaseUpdate", 2)
    metrics.record_published("courts", "LabourCaseUpdate")
    metrics.record_delivered("courts", "LabourCaseUpdate")
    metrics.record_failed("courts", "LabourCaseUpdate", "agency-unavailable")
    metrics.record_refused("courts", "parse")
    metrics.observe_confirm_latency(0.004)
    metrics.observe_end_to_end_latency(1.5)
    metrics.set_outbox_backlog(7)
    text = metrics.exposition().decode()
    assert 'rabt_messages_received_total{agency="courts",message_type="LabourCaseUpdate"}' in text
    assert 'rabt_messages_failed_total{agency="courts",code="agency-unavailable",message_type="LabourCaseUpdate"}' in text
    assert 'rabt_publish_confirm_latency_seconds_bucket{le="0.005"}' in text
    assert "rabt_outbox_backlog 7.0" in text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert all(name.startswith("rabt_") for name in names)
    counters = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE") and line.endswith("counter")}
    assert counters and all(name.endswith("_total") for name in counters)


def test_last_processed_only_moves_forward():
    metrics.mark_processed(4_000_000_000.0)
    metrics.mark_processed(1.0)
    assert "rabt_last_processed_timestamp_seconds 4e+09" in metrics.exposition().decode()


def test_management_listing_becomes_figures():
    listing = [
        {"name": "licensing", "messages_ready": 12, "messages_unacknowledged": 3, "consumers": 2,
         "message_stats": {"publish_details": {"rate": 40.5}, "deliver_get_details": {"rate": 38.0}}},
        {"name": "licensing.dlq", "messages": 4},
        {"name": "police", "messages_ready": 0, "messages_unacknowledged": 0, "consumers": 1},
    ]
    licensing, police = figures_from(listing, ["licensing", "police", "absent"])
    assert (licensing.stats.ready, licensing.stats.unacked, licensing.stats.consumers,
            licensing.stats.dead_letters) == (12, 3, 2, 4)
    assert (licensing.publish_rate, licensing.deliver_rate) == (40.5, 38.0)
    assert (police.publish_rate, police.stats.dead_letters) == (None, 0)


def test_management_api_refuses_bad_urls_and_reports_unreachable():
    with pytest.raises(TransportError, match="must be http"):
        ManagementApi("amqp://guest@localhost/")
    api = ManagementApi("http://guest:guest@127.0.0.1:1/", timeout=1)
    with pytest.raises(TransportError, match="management API"):
        api.queues()


def test_depth_rate_from_successive_samples():
    tracker = DepthTracker(horizon=10)
    assert tracker.add("q", 0, 100.0) is None
    assert tracker.add("q", 10, 102.0) == pytest.approx(5.0)
    assert tracker.add("q", 4, 111.0) == pytest.approx((4 - 10) / 9)  # the first sample aged out


def test_action_log_appends_and_survives_a_torn_line(tmp_path):
    log = ActionLog(tmp_path / "actions.jsonl")
    log.record("amal", "operator", "replay", "17", "ok", "message m-1")
    with (tmp_path / "actions.jsonl").open("a") as out:
        out.write('{"torn": ')
    log.record("amal", "operator", "discard", "18", "ok")
    entries = log.recent()
    assert [e["target"] for e in entries] == ["18", "17"]
    assert entries[0]["at"].endswith("Z") and json.loads(json.dumps(entries[0])) == entries[0]


def test_every_label_exists_in_both_languages():
    arabic, english = translator("ar"), translator("xx")
    assert english("dead_letters") == "Dead letters" and arabic("dead_letters") == "الرسائل الميتة"
    assert all(en and ar and en != ar for en, ar in LABELS.values())
    assert english("no-such-label") == "no-such-label"


def test_every_value_the_hub_names_has_words_in_both_languages():
    """A message's hops, the consumer commands, the console's actions and outcomes, and the chain's operator
    records read in the page's language (the trail once showed "called" and "failed" in English on an Arabic page)."""
    from hub.console import value_labels
    from hub.console.i18n import action_translator, value_translator
    from hub.messagelog.controls import COMMANDS
    from hub.messagelog.records import STATUSES

    arabic, english = value_translator("ar"), value_translator("en")
    named = ([("status", s) for s in STATUSES] + [("command", c) for c in COMMANDS]
             + [("action", a) for a in value_labels.CONSOLE_ACTIONS] + [("outcome", o) for o in value_labels.OUTCOMES])
    for kind, value in named:
        assert f"{kind}_{value}" in LABELS, (kind, value)
        assert arabic(kind, value) != english(kind, value), (kind, value)
    act = action_translator("ar")
    # chained operator records: an action's own word first, else the hop's
    assert act("purged") == LABELS["action_purged"][1] and act("replayed") == LABELS["status_replayed"][1]
    assert act("something-new") == "something-new"
