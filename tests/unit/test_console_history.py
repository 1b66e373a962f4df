"""The console's history store (levels and counts per step), its alarm checks on a snapshot,
and the i18n helpers for digits, zones and values."""

from __future__ import annotations

import pytest

from hub.console.alarms import CONDITIONS, Snapshot, evaluate
from hub.console.figures import percentile, target_for
from hub.console.history import HistoryStore
from hub.console.i18n import local_time, translator, value_translator, with_digits

HOUR = 1_800_000_000  # a whole hour in unix seconds


def test_levels_keep_the_last_value_and_counts_become_rates_per_step():
    store = HistoryStore(None)
    # six points, each ending an interval of 10 s, fill the minute that ends at HOUR + 60
    for n, at in enumerate(range(HOUR + 10, HOUR + 70, 10), start=1):
        store.write(at, [("queue", "q", "depth", n * 10), ("queue", "q", "published", 3)])
    series = store.series("queue", "hour", now=HOUR + 120)["q"]
    assert series["depth"] == [[HOUR + 60, 60.0]]
    assert series["published"] == [[HOUR + 60, pytest.approx(18 / 60, abs=1e-6)]]
    assert store.rates("queue", "published", 60, now=HOUR + 60) == {"q": pytest.approx(18 / 60)}


def test_a_point_written_twice_is_replaced_not_doubled():
    store = HistoryStore(None)
    store.write(HOUR, [("agency", "police", "received", 5)])
    store.write(HOUR, [("agency", "police", "received", 5)])  # a second console process, same interval
    received = store.series("agency", "day", now=HOUR + 60)["police"]["received"]
    assert received == [[HOUR, pytest.approx(5 / 900, abs=1e-6)]]


def test_points_older_than_a_day_are_forgotten():
    store = HistoryStore(None)
    store.write(HOUR, [("queue", "q", "depth", 1)])
    store.write(HOUR + 2 * 86400, [("queue", "q", "depth", 2)])
    assert store.value_at(HOUR, "queue", "q", "depth") is None
    assert store.value_at(HOUR + 2 * 86400, "queue", "q", "depth") == 2


def snapshot(**parts) -> Snapshot:
    base = {"overview": {"queues": [], "adapters": [], "certificates": []}, "readiness": {"checks": {}},
            "oldest_unpublished_age": None, "refusals_last_minute": {}}
    return Snapshot(**{**base, **parts})


def test_nothing_wrong_is_no_alarm_and_thresholds_are_not_crossed_by_equality():
    assert evaluate(snapshot()) == []
    assert evaluate(snapshot(oldest_unpublished_age=60.0, refusals_last_minute={"police": 10})) == []
    found = evaluate(snapshot(oldest_unpublished_age=61.0, refusals_last_minute={"police": 11}))
    assert [(a["name"], a["severity"]) for a in found] == [("RabtOutboxLagging", "critical"),
                                                           ("RabtRefusalsSpiking", "warning")]


def test_every_condition_has_a_check_and_both_languages():
    english, arabic = translator("en"), translator("ar")
    for condition in CONDITIONS:
        for key in (f"alarm_{condition.name}", f"todo_{condition.name}"):
            assert english(key) != key and arabic(key) != english(key)
        assert "{subject}" in english(f"alarm_{condition.name}") or condition.name == "RabtOutboxLagging"


def test_digits_times_and_values():
    assert with_digits("12.5%", "arabic") == "١٢٫٥٪" and with_digits("12.5%", "latin") == "12.5%"
    shown = local_time("2026-12-06T05:45:38.123Z", "Asia/Muscat")
    assert ">2026-12-06 09:45:38</time>" in shown and 'title="2026-12-06 05:45:38 UTC"' in shown
    assert local_time("not a time <b>", "Asia/Muscat") == "not a time &lt;b&gt;"  # shown as it is, escaped
    assert local_time(None, "Asia/Muscat") == "—"
    value = value_translator("ar")
    assert value("circuit", "open") == "مفتوحة" and value("status", "no-such-status") == "no-such-status"


def test_percentiles_and_targets():
    values = sorted(float(n) for n in range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([7.0], 0.99)) == (50.0, 99.0, 7.0)
    assert target_for("police", "VisaCheck").p99 == 2.0 and target_for("police", "WorkerArrival").p99 == 5.0
    assert target_for("courts", "CaseUpdate").p99 == 30.0


def test_the_console_zone_and_sample_period_are_settings_and_a_wrong_zone_is_refused(tmp_path):
    from hub.config import load_settings
    from hub.errors import ConfigError

    env = {"RABT_HOME": str(tmp_path), "RABT_CONSOLE_TIMEZONE": "Asia/Dubai", "RABT_CONSOLE_SAMPLE_SECONDS": "2.5"}
    console = load_settings(env).console
    assert (console.timezone, console.sample_seconds) == ("Asia/Dubai", 2.5)
    assert load_settings({"RABT_HOME": str(tmp_path)}).console.timezone == "Asia/Muscat"
    with pytest.raises(ConfigError, match="not an IANA zone"):
        load_settings({**env, "RABT_CONSOLE_TIMEZONE": "Asia/Nowhere"})
    with pytest.raises(ConfigError, match="sample_seconds"):
        load_settings({**env, "RABT_CONSOLE_SAMPLE_SECONDS": "0"})
