"""The message counters keep each labelled child they look up, and still count under the labels exported."""

from __future__ import annotations

from hub import metrics
from hub.metrics import REGISTRY


def received(agency: str, message_type: str) -> float:
    return REGISTRY.get_sample_value("rabt_messages_received_total",
                                     {"agency": agency, "message_type": message_type}) or 0.0


def test_each_count_lands_on_the_same_child_under_its_bounded_labels():
    long_type = "T" * 70  # label() keeps 64 characters
    before, before_long = received("police", "ChildProbe"), received("police", "T" * 64)
    for _ in range(3):
        metrics.record_received("police", "ChildProbe")
    metrics.record_received("police", long_type, 2)
    assert received("police", "ChildProbe") == before + 3
    assert received("police", "T" * 64) == before_long + 2
    assert metrics.messages.RECEIVED.labels("police", "ChildProbe") is metrics.messages._labelled(
        metrics.messages.RECEIVED, "police", "ChildProbe")


def test_refusals_without_an_agency_count_as_unknown():
    before = REGISTRY.get_sample_value("rabt_messages_refused_total", {"agency": "unknown", "code": "child-probe"}) or 0
    metrics.record_refused(None, "child-probe")
    metrics.record_refused("", "child-probe")
    assert REGISTRY.get_sample_value("rabt_messages_refused_total", {"agency": "unknown", "code": "child-probe"}) == before + 2


def test_children_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(metrics.messages, "_KEPT_CHILDREN", 2)
    monkeypatch.setattr(metrics.messages, "_children", {})
    for i in range(5):
        metrics.record_failed("police", "ChildProbe", f"code-{i}")
    assert len(metrics.messages._children[metrics.messages.FAILED]) == 2
    assert REGISTRY.get_sample_value("rabt_messages_failed_total",
                                     {"agency": "police", "message_type": "ChildProbe", "code": "code-4"}) == 1
