"""``hub.metrics.instrument`` counts what the real embedded transport does with each outcome:
a return is a delivery, every raised attempt a failure with its code, and a dead letter is
counted exactly when the transport dead-letters (compared with its own dead-letter table)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta

from hub import metrics
from hub.envelope import new_header, utc_now
from hub.errors import AgencyUnavailableError, InputError
from hub.metrics import REGISTRY
from hub.transports import Delivery, Message, open_transport
from hub.transports.testing import isolated_routes

KIND = "MetricsProbe"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, {"agency": "police", "message_type": KIND, **labels}) or 0.0


def snapshot() -> dict:
    codes = ("input", "agency-unavailable", "OperationalError")
    return {
        "delivered": value("rabt_messages_delivered_total"),
        **{f"failed/{c}": value("rabt_messages_failed_total", code=c) for c in codes},
        **{f"dead/{c}": value("rabt_messages_dead_lettered_total", code=c) for c in codes},
        "latency_count": REGISTRY.get_sample_value("rabt_end_to_end_latency_seconds_count") or 0.0,
        "latency_sum": REGISTRY.get_sample_value("rabt_end_to_end_latency_seconds_sum") or 0.0,
    }


def test_outcomes_are_counted_as_the_transport_settles_them(tmp_path):
    routes = isolated_routes(delays=(0.05,), max_attempts=3)
    queue = routes.queue_for("police")
    received = utc_now() - timedelta(seconds=5)

    def handler(delivery):
        kind = delivery.message.message_id.split("-")[0]
        if kind == "bad":
            raise InputError("refused for good")  # not recoverable: dead letter at once
        if kind == "down":
            raise AgencyUnavailableError("503")  # recoverable: retried, dead letter after 3 attempts
        if kind == "conn" and delivery.attempt == 1:
            raise sqlite3.OperationalError("database is locked")  # a connection error: retried, then fine
        return new_header(message_type=KIND, source_agency="licensing", source_system="licensing",
                          destination="police", raw_payload=b"x", received_at=received)

    before = snapshot()
    with open_transport(f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes=routes) as transport:
        transport.declare(routes)
        transport.publish([Message(b"<x/>", f"police.{KIND}.licensing", f"{kind}-1")
                           for kind in ("ok", "bad", "down", "conn")])
        observed = metrics.instrument(handler, max_attempts=3, connection_errors=transport.connection_errors)
        transport.consume(queue, observed, idle_timeout=1.0)
        letters = Counter(d.code for d in transport.dead_letters(queue))
    after = snapshot()
    grew = {key: after[key] - before[key] for key in before}
    assert letters == {"input": 1, "agency-unavailable": 1}
    assert grew["dead/input"] == letters["input"] and grew["dead/agency-unavailable"] == letters["agency-unavailable"]
    assert grew["dead/OperationalError"] == 0  # retried and then delivered
    assert (grew["failed/input"], grew["failed/agency-unavailable"], grew["failed/OperationalError"]) == (1, 3, 1)
    assert grew["delivered"] == 2  # "ok", and "conn" on its second attempt
    assert grew["latency_count"] == 2 and grew["latency_sum"] >= 10  # two deliveries, each 5 s after ReceivedAt


def test_a_handler_returning_nothing_is_delivered_without_latency():
    before = snapshot()
    observed = metrics.instrument(lambda delivery: None, max_attempts=3, agency="police")
    observed(Delivery(Message(b"<x/>", f"elsewhere.{KIND}.licensing", "m-1"), "q", 1, False))
    after = snapshot()
    assert after["delivered"] - before["delivered"] == 1  # labelled with the fixed agency, not the key
    assert after["latency_count"] == before["latency_count"]


def test_circuit_sources_are_held_weakly():
    class Source:
        def service_states(self):
            return {"probe/one": "half-open"}

    source = Source()
    metrics.watch_circuits(source)
    assert REGISTRY.get_sample_value("rabt_circuit_state", {"agency": "probe", "service": "one"}) == 1
    del source
    assert REGISTRY.get_sample_value("rabt_circuit_state", {"agency": "probe", "service": "one"}) is None
