"""The master's exposition merged with its children's metric files (:mod:`hub.process_metrics`).

A "child" here is a real interpreter started with the environment
:func:`share_with_children` returns: it imports prometheus_client in
multiprocess mode and records through :mod:`hub.metrics`, as a gateway child does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics, process_metrics

CHILD = """
import os
from hub import metrics
metrics.record_received("border-probe", "ProbeArrival", 3)
metrics.mark_processed(4.5e9)
metrics.set_outbox_backlog(7)
print(os.getpid())
"""


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A directory shared with children, for this test only (the process shares none before or after)."""
    monkeypatch.setattr(process_metrics, "_shared", [None])
    return tmp_path / "children"


def run_child(environment: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD], env=environment, check=True, capture_output=True, text=True)
    return int(done.stdout)


def samples(text: bytes) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def probe(name: str) -> tuple[str, frozenset]:
    return name, frozenset({"agency": "border-probe", "message_type": "ProbeArrival"}.items())


def test_without_children_the_exposition_is_this_process_alone(shared):
    assert process_metrics.shared_directory() is None
    assert metrics.exposition() == metrics.exposition(metrics.REGISTRY)


def test_two_children_and_the_master_add_up_and_a_dead_childs_counts_stay(shared, monkeypatch):
    (shared / "stale").mkdir(parents=True)
    environment = {**os.environ, **process_metrics.share_with_children(shared)}
    assert not (shared / "stale").exists() and oct(shared.stat().st_mode & 0o777) == "0o700"
    before = samples(metrics.exposition()).get(probe("rabt_messages_received_total"), 0.0)
    pids = [run_child(environment), run_child(environment)]
    metrics.record_received("border-probe", "ProbeArrival")
    metrics.set_outbox_backlog(2)  # the master's relay: the children's level is the larger one
    merged = samples(metrics.exposition())
    assert merged[probe("rabt_messages_received_total")] == before + 3 + 3 + 1
    assert merged[("rabt_last_processed_timestamp_seconds", frozenset())] == 4.5e9  # the latest, one sample
    assert merged[("rabt_outbox_backlog", frozenset())] == 7
    for pid in pids:  # both exited: their levels leave, their counts stay
        process_metrics.process_ended(pid)
    after = samples(metrics.exposition())
    assert after[probe("rabt_messages_received_total")] == before + 7
    assert after[("rabt_outbox_backlog", frozenset())] == 2
    assert after[("rabt_last_processed_timestamp_seconds", frozenset())] == 4.5e9


def test_merge_adds_counters_and_buckets_keeps_the_larger_gauge_and_the_earliest_creation():
    def family(kind: str, name: str, values: dict[str, float]) -> Metric:
        made = Metric(name, "probe", kind)
        for sample, value in values.items():
            made.add_sample(sample, {"le": "1.0"} if sample.endswith("_bucket") else {}, value)
        return made

    merged = {f.name: {s.name: s.value for s in f.samples} for f in process_metrics.merged([
        family("counter", "c", {"c_total": 2, "c_created": 100}), family("counter", "c", {"c_total": 5}),
        family("counter", "c", {"c_created": 50}),
        family("gauge", "g", {"g": 3}), family("gauge", "g", {"g": 9}),
        family("histogram", "h", {"h_bucket": 1, "h_count": 1, "h_sum": 0.5}),
        family("histogram", "h", {"h_bucket": 2, "h_count": 2, "h_sum": 0.25}),
    ])}
    assert merged == {"c": {"c_total": 7, "c_created": 50}, "g": {"g": 9},
                      "h": {"h_bucket": 3, "h_count": 3, "h_sum": 0.75}}
