"""The message flow's metrics: received, refused, published, delivered, failed, dead-lettered, their
latencies, the outbox and queue gauges, and :func:`instrument`, which records deliveries.

Separate from the other groups because these are the figures every message
moves, recorded on the hot path by the pipeline, the relay and the consumers.

Deliveries are recorded in one place, :func:`instrument`, a wrapper around a
transport handler: the handler returning is a delivery (the transport acks),
its exception a failure classified exactly as the transport will settle it
(retry, or dead letter after ``max_attempts``). A handler may return the
verified canonical :class:`~hub.envelope.Header`; its ``received_at`` then
gives the end-to-end latency.

Gauges that describe shared state (queue depths, dead letters, outbox
backlog, last processed) are sampled at scrape time by the console
(:func:`hub.console.health.sample_gauges`), so any console instance reports
them correctly.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import Counter, Gauge, Histogram

from hub.metrics.registry import REGISTRY, label
from hub.transports.base import Delivery, Handler, classify

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


_last_processed = [0.0]
_last_lock = threading.Lock()


def mark_processed(at: float | None = None) -> None:
    """Move the last-processed time forward to ``at`` (now by default); never back."""
    value = time.time() if at is None else float(at)
    with _last_lock:
        if value > _last_processed[0]:
            _last_processed[0] = value
            LAST_PROCESSED.set(value)


def _labelled(metric, *values: str):
    """``metric``'s child for ``values`` (as :func:`label` bounds them), looked up by prometheus_client once.

    Its ``labels()`` checks, converts and locks on every call (~12k instructions, twice a
    child's ``inc``); the gateway counts every push, the relay and the consumers every message.
    A child lives as long as its metric (the hub never removes one), so it may be kept.
    """
    children = _children.setdefault(metric, {})
    child = children.get(values)
    if child is None:
        child = metric.labels(*(label(value) for value in values))
        if len(children) < _KEPT_CHILDREN:  # bounded, whatever values come (label() bounds what is exported)
            children[values] = child
    return child


_children: dict = {}
_KEPT_CHILDREN = 1024


def record_received(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` agency messages were accepted (stored in the message log)."""
    _labelled(RECEIVED, agency, message_type).inc(count)
    mark_processed()


def record_refused(agency: str, code: str) -> None:
    """An agency's input was refused with error ``code`` (``RabtError.code``)."""
    _labelled(REFUSED, agency, code).inc()


def record_published(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` messages were confirmed by the broker."""
    _labelled(PUBLISHED, agency, message_type).inc(count)
    mark_processed()


def record_delivered(agency: str, message_type: str, count: int = 1) -> None:
    """``count`` messages were handled successfully at their destination."""
    _labelled(DELIVERED, agency, message_type).inc(count)
    mark_processed()


def record_failed(agency: str, message_type: str, code: str) -> None:
    """One delivery failed with error ``code`` (it may still be retried)."""
    _labelled(FAILED, agency, message_type, code).inc()


def record_dead_lettered(agency: str, message_type: str, code: str) -> None:
    """One delivery failed for the last time (error ``code``) and went to the dead letters."""
    _labelled(DEAD_LETTERED, agency, message_type, code).inc()


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
