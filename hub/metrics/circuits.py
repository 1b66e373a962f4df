"""``rabt_circuit_state``: the circuit breakers of the outbound workers consuming in this process.

The states are read at scrape time from the outbound workers consuming in
this process (they register with :func:`watch_circuits` while they run), not
set when they change. Separate from the message flow's counters because it is
a collector of its own over objects that come and go.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily

from hub.metrics.registry import REGISTRY, label

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
            family.add_metric([label(agency), label(service)], CIRCUIT_VALUES.get(state, 2))
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
