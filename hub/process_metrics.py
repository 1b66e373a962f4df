"""One ``/metrics`` for every process of a ``rabt serve``: the master's counters plus its gateway children's.

Since the gateway runs as N child processes (:mod:`hub.prefork`), each child
counts what it received and refused in its own memory, which the master's
console never sees. prometheus_client's multiprocess mode solves exactly
this: a process started with ``PROMETHEUS_MULTIPROC_DIR`` in its environment
keeps every counter, histogram and gauge in memory-mapped files there, and
:class:`prometheus_client.multiprocess.MultiProcessCollector` sums them.

The master hands that variable to its children only (:func:`share_with_children`);
the master itself keeps counting in memory, because prometheus_client picks its
mode once, when it is imported, and the master has imported it long before it
knows it will have children. So the master's exposition is its own registry
merged with the children's files (:class:`AllProcesses`): counters and
histograms added, gauges taking the larger value (every hub gauge is a level
sampled in one place, or the last time something happened). The process-local
collectors of the master's registry (circuit states of the outbound workers,
certificate expiry of the trust store) pass through unchanged: the workers and
the trust store the console reports on live in the master.

A child's files outlive it: what a killed child counted stays counted, and the
child started in its place adds to the same totals. The directory is emptied
when the master starts (a new master starts the counters from zero, as a
restarted single process would).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["ENVIRONMENT_VARIABLE", "AllProcesses", "process_ended", "share_with_children", "shared_directory"]

#: how prometheus_client itself is told where a process keeps its metric files
ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

#: the directory this process's children write their metrics to; None: no children share theirs
_shared: list[Path | None] = [None]


def share_with_children(directory: Path) -> dict[str, str]:
    """Make ``directory`` the (empty, private) home of the children's metrics; the environment they need.

    From now on this process's exposition includes what the children count there.
    """
    if directory.exists():
        shutil.rmtree(directory)  # a previous master's children: their counts are not this run's
    directory.mkdir(parents=True, mode=0o700)
    _shared[0] = directory
    return {ENVIRONMENT_VARIABLE: str(directory)}


def shared_directory() -> Path | None:
    """Where this process's children keep their metrics, if they share them."""
    return _shared[0]


def process_ended(pid: int) -> None:
    """A child has exited: its ``live*`` gauges leave the exposition (its counters stay counted)."""
    directory = _shared[0]
    if directory is not None:
        mark_process_dead(pid, str(directory))


class AllProcesses:
    """A collector: ``local`` (a registry) merged with the metric files of the children in ``directory``."""

    def __init__(self, local, directory: Path) -> None:
        self.local = local
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        children = MultiProcessCollector(None, path=str(self.directory)).collect()
        return merged([*self.local.collect(), *children])


def merged(families: Iterable[Metric]) -> list[Metric]:
    """Families of the same name made one, each sample combined with its twin (same name and labels).

    Counter totals, histogram buckets, sums and counts add up; gauges take the
    larger value; a counter's ``_created`` time keeps the earliest.
    """
    combined: dict[str, tuple[Metric, dict]] = {}
    for family in families:
        if family.name not in combined:
            combined[family.name] = (Metric(family.name, family.documentation, family.type, family.unit), {})
        target, samples = combined[family.name]
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            twin = samples.get(key)
            samples[key] = sample if twin is None else twin._replace(
                value=_combine(target.type, sample.name, twin.value, sample.value))
    result = []
    for target, samples in combined.values():
        target.samples = list(samples.values())
        result.append(target)
    return result


def _combine(kind: str, sample_name: str, first: float, second: float) -> float:
    if kind == "gauge":
        return max(first, second)
    if sample_name.endswith("_created"):
        return min(first, second)
    return first + second

