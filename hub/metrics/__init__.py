"""Prometheus metrics: one registry, the metric objects, and one-line recorders.

Every part of the hub records through the small functions named here
(``record_received("police", "WorkerArrival")``) rather than touching the
metric objects, so names and labels are decided in this package once:

* prefix ``rabt_``, base units (seconds), counters end in ``_total``;
* labels are ``agency`` and ``message_type`` (bounded: agencies and canonical
  types are configuration, never free input), plus ``code`` for failures and
  ``queue`` for sampled queue figures. ``agency`` is the partner on the hub's
  side of the step: the sender for received / refused / published, the
  destination a delivery was handed to for delivered / failed / dead-lettered
  (for an outbound worker: the agency it calls).

Callers use ``hub.metrics`` alone; the metrics are kept by group:

* :mod:`hub.metrics.registry` — the registry, the label rule, the exposition;
* :mod:`hub.metrics.messages` — the message flow, and :func:`instrument` for deliveries;
* :mod:`hub.metrics.circuits` — ``rabt_circuit_state``, read at scrape time;
* :mod:`hub.metrics.roles` — TSA stamps, retention, role restarts;
* :mod:`hub.metrics.certificates` — certificate expiry, read at scrape time.

The groups register their metrics as they are imported, in the order below,
which is the order ``/metrics`` lists them in. Only the names other parts use
are repeated here; the metric objects themselves stay in their group.
"""

from __future__ import annotations

# Not sorted: each module registers its metrics as it is imported, in this order (see above).
from hub.metrics.registry import CONTENT_TYPE_LATEST, REGISTRY, exposition
from hub.metrics.messages import (
    delivery_labels, instrument, mark_processed, observe_confirm_latency, observe_end_to_end_latency,
    record_dead_lettered, record_delivered, record_failed, record_published, record_received, record_refused,
    set_outbox_backlog, set_queue_stats,
)
from hub.metrics.circuits import CIRCUIT_VALUES, unwatch_circuits, watch_circuits, watched_circuits
from hub.metrics.roles import (
    ROLE_RESTARTS, record_retention_archive, record_retention_failure, record_retention_previous_missing,
    record_retention_purge, record_role_restart, record_stamp, record_stamp_failure, set_retention_overdue,
    set_stamp_backlog,
)
from hub.metrics.certificates import watch_certificates

__all__ = [
    "CIRCUIT_VALUES", "CONTENT_TYPE_LATEST", "REGISTRY", "ROLE_RESTARTS", "delivery_labels", "exposition", "instrument",
    "mark_processed", "observe_confirm_latency", "observe_end_to_end_latency", "record_dead_lettered",
    "record_delivered", "record_failed", "record_published", "record_received", "record_refused",
    "record_retention_archive", "record_retention_failure", "record_retention_previous_missing",
    "record_retention_purge", "record_role_restart", "record_stamp", "record_stamp_failure", "set_outbox_backlog",
    "set_queue_stats", "set_retention_overdue", "set_stamp_backlog", "unwatch_circuits", "watch_certificates",
    "watch_circuits", "watched_circuits",
]
