"""The hub's one metrics registry, the label rule every metric shares, and the exposition of it all.

Separate from the metric groups so that each of them (:mod:`hub.metrics.messages`,
:mod:`hub.metrics.circuits`, :mod:`hub.metrics.roles`, :mod:`hub.metrics.certificates`)
registers into the same registry without importing the others.

The registry is per process. In ``rabt serve`` with every role in one
process, ``/metrics`` shows them all; with several gateway processes the
master's ``/metrics`` adds what its children counted (:mod:`hub.process_metrics`);
when roles run as separate commands each serves the counters of its own role
(``rabt worker --metrics-port``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub import process_metrics

__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "exposition", "label"]

#: the hub's own registry (not prometheus_client's global one, so tests and
#: embedding applications do not collide with other libraries' metrics)
REGISTRY = CollectorRegistry(auto_describe=True)


def label(value: object) -> str:
    """``value`` as a label value: never empty or unbounded (unknowns collapse to one value)."""
    text = str(value or "unknown")
    return text[:64]


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
