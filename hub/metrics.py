"""Prometheus metrics: one registry, the metric objects, and one-line recorders.

Every part of the hub records through the small functions below
(``record_received("police", "WorkerArrival")``) rather than touching the
metric objects, so names and labels are decided here once:

* prefix ``rabt_``, base units (seconds), counters end in ``_total``;
* labels are ``agency`` and ``message_type`` (bounded: agencies and canonical
  types are configuration, never free input), plus ``code`` for failures and
  ``queue`` for sampled queue figures. ``agency`` is the partner on the hub's
  side of the step: the sender for received / refused / published, the
  destination a delivery was handed to for delivered / failed / dead-lettered
  (for an outbound worker: the agency it calls).

Deliveries are recorded in one place, :func:`instrument`, a wrapper around a
transport handler: the handler returning is a delivery (the transport acks),
its exception a failure classified exactly as the transport will settle it
(retry, or dead letter after ``max_attempts``). A handler may return the
verified canonical :class:`~hub.envelope.Header`; its ``received_at`` then
gives the end-to-end latency.

Circuit states (``rabt_circuit_state``) are read at scrape time from the
outbound workers consuming in this process (they register with
:func:`watch_circuits` while they run).

The registry is per process. In ``rabt serve`` with every role in one
process, ``/metrics`` shows them all; with several gateway processes the
master's ``/metrics`` adds what its children counted (:mod:`hub.process_metrics`);
when roles run as separate commands each serves the counters of its own role
(``rabt worker --metrics-port``).
Gauges that describe shared state (queue depths, dead letters, outbox
backlog, last processed) are sampled at scrape time by the console
(:func:`hub.console.health.sample_gauges`), so any console instance reports
them correctly.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub import process_metrics
from hub.transports.base import Delivery, Handler, classify

__all__ = [
    "CIRCUIT_VALUES", "CONTENT_TYPE_LATEST", "REGISTRY", "delivery_labels", "exposition", "instrument", "mark_processed",
    "observe_confirm_latency", "observe_end_to_end_latency", "record_dead_lettered", "record_delivered",
    "record_failed", "record_published", "record_received", "record_refused", "record_stamp",
    "record_stamp_failure", "set_outbox_backlog", "set_stamp_backlog",
    "set_queue_stats", "unwatch_circuits", "watch_certificates", "watch_circuits", "watched_circuits",
]

#: the hub's own registry (not prometheus_client's global one, so tests and
#: embedding applications do not collide with other libraries' metrics)
REGISTRY = CollectorRegistry(auto_describe=True)

#: seconds; broker confirms are milliseconds, end-to-end spans a consumer's work
_CONFIRM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_E2E_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_LABELS = ("agency", "message_type")

RECEIVED = Counter("rabt_messages_received_total", "Agency messages accepted into the message log.",
                   _LABELS, registry=REGISTRY)
REFUSED = Counter("rabt_messages_refused_total", "Agency input refused (parse, signature, schema, access…).",
                  ("agency", "code"), registry=REGISTRY)
PUBLISHED = Counter("rabt_messages_published_total", "Messages confirmed by the broker (outbox relay).",
                    _LABELS, registry=REGISTRY)
DELIVERED = Counter("rabt_messages_delivered_total", "Messages handled successfully by a consumer or agency.",
                    _LABELS, registry=REGISTRY)
FAILED = Counter("rabt_messages_failed_total", "Deliveries whose handler or agency call failed.",
                 (*_LABELS, "code"), registry=REGISTRY)
DEAD_LETTERED = Counter("rabt_messages_dead_lettered_total",
                        "Deliveries given up on: moved to a dead-letter queue for an operator.",
                        (*_LABELS, "code"), registry=REGISTRY)
CONFIRM_LATENCY = Histogram("rabt_publish_confirm_latency_seconds",
                            "Time from publishing a batch to the broker's confirm.",
                            buckets=_CONFIRM_BUCKETS, registry=REGISTRY)
END_TO_END_LATENCY = Histogram("rabt_end_to_end_latency_seconds",
                               "Time from a message's receipt at the hub (header ReceivedAt) to its delivery.",
                               buckets=_E2E_BUCKETS, registry=REGISTRY)
# multiprocess_mode: how prometheus_client combines a gauge across the gateway children of ``rabt serve``
# (:mod:`hub.process_metrics`); levels sampled now leave with a dead process, a last time stays true.
OUTBOX_BACKLOG = Gauge("rabt_outbox_backlog", "Messages stored but not yet confirmed by the broker.",
                       multiprocess_mode="livemax", registry=REGISTRY)
LAST_PROCESSED = Gauge("rabt_last_processed_timestamp_seconds",
                       "Unix time the hub last received, published or delivered a message.",
                       multiprocess_mode="max", registry=REGISTRY)
QUEUE_READY = Gauge("rabt_queue_ready_messages", "Messages ready for delivery, per work queue.",
                    ("queue",), multiprocess_mode="livemax", registry=REGISTRY)
QUEUE_UNACKED = Gauge("rabt_queue_unacked_messages", "Messages delivered but not yet acknowledged.",
                      ("queue",), multiprocess_mode="livemax", registry=REGISTRY)
QUEUE_CONSUMERS = Gauge("rabt_queue_consumers", "Consumers attached, per work queue.", ("queue",),
                        multiprocess_mode="livemax", registry=REGISTRY)
DEAD_LETTERS = Gauge("rabt_dead_letters", "Messages waiting in a dead-letter queue.", ("queue",),
                     multiprocess_mode="livemax", registry=REGISTRY)


def _label(value: object) -> str:
    # a label is never empty or unbounded: unknowns collapse to one value
    text = str(value or "unknown")
    return text[:64]


_last_processed = [0.0]
_last_lock = threading.Lock()


def mark_processed(at: float | None = None) -> None:
    """Move the last-processed time forward to ``at`` (now by default); never back."""
    value = time.time() if at is None else float(at)
    with _last_lock:
        if value > _last_processed[0]:
            _last_processed[0] = value
            LAST_PROCESSED.set(value)


def record_received(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` agency messages were accepted (stored in the message log)."""
    RECEIVED.labels(_label(agency), _label(message_type)).inc(count)
    mark_processed()


def record_refused(agency: str, code: str) -> None:
    """An agency's input was refused with error ``code`` (``RabtError.code``)."""
    REFUSED.labels(_label(agency), _label(code)).inc()


def record_published(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` messages were confirmed by the broker."""
    PUBLISHED.labels(_label(agency), _label(message_type)).inc(count)
    mark_processed()


def record_delivered(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` messages were handled successfully at their destination."""
    DELIVERED.labels(_label(agency), _label(message_type)).inc(count)
    mark_processed()


def record_failed(agency: str, message_type: str, code: str) -> None:
    """One delivery failed with error ``code`` (it may still be retried)."""
    FAILED.labels(_label(agency), _label(message_type), _label(code)).inc()


def record_dead_lettered(agency: str, message_type: str, code: str) -> None:
    """One delivery failed for the last time (error ``code``) and went to the dead letters."""
    DEAD_LETTERED.labels(_label(agency), _label(message_type), _label(code)).inc()


def observe_confirm_latency(seconds: float) -> None:
    """One publish batch took ``seconds`` from first send to the broker's confirm."""
    CONFIRM_LATENCY.observe(max(0.0, seconds))


def observe_end_to_end_latency(seconds: float) -> None:
    """One message took ``seconds`` from receipt at the hub to delivery."""
    END_TO_END_LATENCY.observe(max(0.0, seconds))


def set_outbox_backlog(count: int) -> None:
    """The outbox holds ``count`` unpublished messages (the relay may set this each round)."""
    OUTBOX_BACKLOG.set(count)


def set_queue_stats(stats) -> None:
    """Publish sampled :class:`~hub.transports.base.QueueStats` as the queue gauges."""
    for entry in stats:
        QUEUE_READY.labels(entry.name).set(entry.ready)
        if entry.unacked is not None:
            QUEUE_UNACKED.labels(entry.name).set(entry.unacked)
        QUEUE_CONSUMERS.labels(entry.name).set(entry.consumers)
        DEAD_LETTERS.labels(entry.name).set(entry.dead_letters)


def delivery_labels(delivery: Delivery) -> tuple[str, str]:
    """``(destination, message type)`` from the routing key ``<destination>.<type>.<source>``."""
    destination, _, rest = delivery.message.routing_key.partition(".")
    return destination, rest.partition(".")[0]


def instrument(handler: Handler, *, max_attempts: int, connection_errors: tuple[type[BaseException], ...] = (),
               agency: str | None = None) -> Handler:
    """``handler``, recording each delivery's outcome as the transport settles it.

    Returned → delivered (and the end-to-end latency when it returns a header
    with ``received_at``); raised → failed with the error's code, and dead-
    lettered too when the transport will not retry it (not recoverable, or
    ``max_attempts`` reached: the same rule as :func:`~hub.transports.base.classify`
    and the consume loops). ``agency`` fixes the agency label (a worker knows
    whose queue it consumes); by default it is the routing key's destination.
    """
    def observed(delivery: Delivery):
        destination, message_type = delivery_labels(delivery)
        label = agency or destination
        try:
            outcome = handler(delivery)
        except Exception as exc:
            failure = classify(exc, connection_errors)
            record_failed(label, message_type, failure.code)
            if not (failure.retry and delivery.attempt < max_attempts):
                record_dead_lettered(label, message_type, failure.code)
            raise
        record_delivered(label, message_type)
        received_at = getattr(outcome, "received_at", None)
        if received_at is not None:
            observe_end_to_end_latency(time.time() - received_at.timestamp())
        return outcome

    return observed


#: ``rabt_circuit_state`` values; higher is worse
CIRCUIT_VALUES = {"closed": 0, "half-open": 1, "open": 2}


class _Circuits:
    """The ``rabt_circuit_state`` gauge, read at scrape time from the watched breakers."""

    def __init__(self) -> None:
        # weak: a worker's breakers (tests build many) leave the gauge when nothing uses them
        self.sources: weakref.WeakSet = weakref.WeakSet()

    def states(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for source in list(self.sources):
            for key, state in source.service_states().items():
                # two sources for one service (two workers of one agency): the worse state is the truth
                if CIRCUIT_VALUES.get(state, 2) >= CIRCUIT_VALUES.get(merged.get(key, "closed"), 2):
                    merged[key] = state
        return merged

    def describe(self):
        return [self._family()]

    def collect(self):
        family = self._family()
        for key, state in sorted(self.states().items()):
            agency, _, service = key.partition("/")
            family.add_metric([_label(agency), _label(service)], CIRCUIT_VALUES.get(state, 2))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("rabt_circuit_state",
                                 "Circuit breaker of an agency service in this process: 0 closed, 1 half-open, 2 open.",
                                 labels=("agency", "service"))


_CIRCUITS = _Circuits()
REGISTRY.register(_CIRCUITS)


class CircuitSource(Protocol):
    """What :func:`watch_circuits` accepts (an outbound worker, or its :class:`~hub.outbound.resilience.Breakers`)."""

    def service_states(self) -> Mapping[str, str]:
        """``"agency/service"`` → ``closed``, ``half-open`` or ``open``."""


def watch_circuits(source: CircuitSource) -> None:
    """Report ``source``'s circuits as ``rabt_circuit_state`` until :func:`unwatch_circuits` (held weakly)."""
    _CIRCUITS.sources.add(source)


def unwatch_circuits(source: CircuitSource) -> None:
    """Stop reporting ``source``'s circuits (a worker that stopped consuming)."""
    _CIRCUITS.sources.discard(source)


def watched_circuits() -> dict[str, str]:
    """``"agency/service"`` → state, over every watched source of this process."""
    return _CIRCUITS.states()


STAMPS = Counter("rabt_anchor_stamps_total", "Message-log anchors stamped by the TSA, token verified and stored.",
                 registry=REGISTRY)
STAMP_FAILURES = Counter("rabt_anchor_stamp_failures_total",
                         "Requests to the TSA that gave no usable token, by error code (unreachable, rejected…).",
                         ("code",), registry=REGISTRY)
UNSTAMPED_ANCHORS = Gauge("rabt_anchors_unstamped", "Message-log anchors still waiting for a timestamp token.",
                          multiprocess_mode="livemax", registry=REGISTRY)
UNSTAMPED_AGE = Gauge("rabt_anchor_unstamped_oldest_age_seconds",
                      "Seconds since the oldest anchor without a timestamp token was taken (0: none waits).",
                      multiprocess_mode="livemax", registry=REGISTRY)


def record_stamp(count: int = 1) -> None:
    """``count`` anchors got a verified token."""
    STAMPS.inc(count)


def record_stamp_failure(code: str) -> None:
    """A request to the TSA failed with error ``code`` (``RabtError.code``)."""
    STAMP_FAILURES.labels(_label(code)).inc()


def set_stamp_backlog(count: int, oldest_age: float) -> None:
    """``count`` anchors wait for a token, the oldest for ``oldest_age`` seconds."""
    UNSTAMPED_ANCHORS.set(count)
    UNSTAMPED_AGE.set(oldest_age)


RETENTION_ARCHIVES = Counter("rabt_retention_archives_total", "Periods archived (and verified) by the retention role.",
                             registry=REGISTRY)
RETENTION_ARCHIVED_RECORDS = Counter("rabt_retention_archived_records_total",
                                     "Chain records written into the retention role's archives.", registry=REGISTRY)
RETENTION_PURGED = Counter("rabt_retention_purged_messages_total",
                           "Messages whose payloads the retention role purged from the log (archived).",
                           registry=REGISTRY)
RETENTION_FAILURES = Counter("rabt_retention_failures_total", "Retention rounds that failed (archive or purge).",
                             registry=REGISTRY)
RETENTION_PREVIOUS_MISSING = Counter("rabt_retention_previous_missing_total",
                                     "Archives written whose previous archive (the one they continue) was no longer "
                                     "in the retention folder.", registry=REGISTRY)
RETENTION_OVERDUE = Gauge("rabt_retention_overdue_seconds",
                          "Seconds past the round that should have archived the newest closed period (0: archived); "
                          "sampled by the console where retention is configured.",
                          multiprocess_mode="livemax", registry=REGISTRY)


def record_retention_archive(records: int) -> None:
    """A period was archived: ``records`` chain records in it."""
    RETENTION_ARCHIVES.inc()
    RETENTION_ARCHIVED_RECORDS.inc(records)


def record_retention_purge(messages: int) -> None:
    """The payloads of ``messages`` messages were purged."""
    RETENTION_PURGED.inc(messages)


def record_retention_failure() -> None:
    """A retention round failed."""
    RETENTION_FAILURES.inc()


def record_retention_previous_missing() -> None:
    """An archive was written whose previous archive's file is gone from the folder."""
    RETENTION_PREVIOUS_MISSING.inc()


def set_retention_overdue(seconds: float) -> None:
    """The newest closed period's archive is ``seconds`` overdue (0: it is archived)."""
    RETENTION_OVERDUE.set(seconds)


def exposition(registry: CollectorRegistry | None = None) -> bytes:
    """The text exposition format of ``registry``; by default the hub's, with its gateway children's counts.

    Only a ``rabt serve`` master with several gateway processes has children
    sharing their metrics (:mod:`hub.process_metrics`); elsewhere the default
    is :data:`REGISTRY` alone.
    """
    if registry is not None:
        return generate_latest(registry)
    children = process_metrics.shared_directory()
    return generate_latest(REGISTRY if children is None else process_metrics.AllProcesses(REGISTRY, children))


ROLE_RESTARTS = Counter("rabt_role_restarts_total",
                        "Times a role of this process crashed and was started again by its supervisor.",
                        ("role",), registry=REGISTRY)


def record_role_restart(role: str) -> None:
    """A role loop crashed and its supervisor is starting it again."""
    ROLE_RESTARTS.labels(_label(role)).inc()


class _CertificateExpiry:
    """``rabt_certificate_expiry_timestamp_seconds``, read at scrape time from the watched trust stores.

    Read, not set: a store reloads when a partner's certificate is renewed, and
    a certificate whose overlap has ended must leave the gauge with it.
    """

    def __init__(self) -> None:
        self.stores: weakref.WeakSet = weakref.WeakSet()

    def describe(self):
        return [self._family()]

    def collect(self):
        family, seen = self._family(), set()
        for store in list(self.stores):
            for party, pinned in store.pinned():
                labels = (_label(party), format(pinned.certificate.serial_number, "x"))
                if labels not in seen:
                    seen.add(labels)
                    family.add_metric(list(labels), pinned.certificate.not_valid_after_utc.timestamp())
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("rabt_certificate_expiry_timestamp_seconds",
                                 "Unix time a pinned signing certificate expires (every certificate accepted now, "
                                 "an earlier one during its overlap too).", labels=("party", "serial"))


_CERTIFICATES = _CertificateExpiry()
REGISTRY.register(_CERTIFICATES)


def watch_certificates(store) -> None:
    """Report the certificates of ``store`` (a :class:`~hub.truststore.TrustStore`, held weakly) at each scrape."""
    _CERTIFICATES.stores.add(store)
