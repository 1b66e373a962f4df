"""What is wrong now, worst first: the band at the top of every console page.

The conditions and their thresholds are one table, :data:`CONDITIONS`; the
same conditions are Prometheus alerting rules in ``deploy/prometheus/rules.yml``
(each rule's ``alert`` is a condition's ``name``; a unit test keeps the two in
step). Each condition has a check below that reads a :class:`Snapshot` of the
hub and returns the subjects that are in trouble (a queue, an agency, a
certificate…). Nothing here knows HTTP: a link is a page name plus
arguments, which the pages and the API turn into a URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hub.console.figures import chain_counts

#: severities, worst first (the band's order)
SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Condition:
    """One alarm: when it fires, how bad it is, what the operator should do, where to look."""

    name: str
    severity: str
    threshold: float
    """The figure beyond which it fires (its unit is in ``unit``)."""
    unit: str
    page: str
    """The console page that shows the trouble (``overview``, ``dead_letters``…)."""
    window_seconds: int = 0
    """How long a trend must last before it counts (growth conditions)."""


CONDITIONS: tuple[Condition, ...] = (
    Condition("RabtNotReady", "critical", 0, "failed checks", "readyz"),
    Condition("RabtQueueWithoutConsumer", "critical", 0, "messages ready", "overview"),
    Condition("RabtCircuitOpen", "critical", 0, "open circuits", "overview"),
    Condition("RabtCertificateExpired", "critical", 0, "days left", "overview"),
    Condition("RabtOutboxLagging", "critical", 60, "seconds", "overview"),
    # the TSA's default grace period (300 s) and one stamp interval (60 s)
    Condition("RabtAnchorsUnstamped", "critical", 360, "seconds", "overview"),
    # an hour past the round that should have archived the newest closed period
    Condition("RabtRetentionOverdue", "critical", 3600, "seconds", "overview"),
    Condition("RabtDeadLettersGrowing", "warning", 0, "new dead letters", "dead_letters", 600),
    Condition("RabtDeadLetters", "warning", 0, "dead letters", "dead_letters"),
    Condition("RabtBacklogGrowing", "warning", 0, "messages", "overview", 300),
    Condition("RabtCertificateExpiring", "warning", 30, "days left", "overview"),
    Condition("RabtRefusalsSpiking", "warning", 10, "refusals per minute", "trail"),
    Condition("RabtConsumptionPaused", "warning", 0, "paused destinations", "overview"),
)
BY_NAME = {c.name: c for c in CONDITIONS}


@dataclass
class Snapshot:
    """The hub's state the checks read, gathered once per evaluation."""

    overview: dict
    readiness: dict
    oldest_unpublished_age: float | None
    refusals_last_minute: dict[str, int]
    #: queue → [(unix time, value)] of the last hour, per metric ("depth", "dead_letters")
    history: dict[str, dict[str, list]] = field(default_factory=dict)
    now: float = field(default_factory=time.time)
    oldest_unstamped_age: float | None = None
    """Seconds the oldest log anchor has waited for its timestamp; None when no TSA is configured."""
    retention_overdue: float | None = None
    """Seconds the newest closed period's archive is overdue; None when no retention role is configured."""


def gather(console, overview: dict | None = None) -> Snapshot:
    """A :class:`Snapshot` from the console's parts (``overview`` reused when the caller has it)."""
    now = time.time()
    overview = overview or console.overview()
    end = datetime.fromtimestamp(now, timezone.utc)
    refusals: dict[str, int] = {}
    oldest = unstamped = overdue = None
    if overview["database"]["reachable"]:
        for row in chain_counts(console.log.engine, end - timedelta(seconds=60), end):
            if row.kind == "refused":
                refusals[row.agency or "unknown"] = refusals.get(row.agency or "unknown", 0) + row.count
        oldest = console.oldest_unpublished_age()
        waiting = console.unstamped_anchors()
        unstamped = None if waiting is None else waiting.oldest_age()
        overdue = console.retention_overdue()
    return Snapshot(overview, console.readiness(), oldest, refusals,
                    console.history.series("queue", "hour", now), now, unstamped, overdue)


def evaluate(snapshot: Snapshot) -> list[dict]:
    """Every alarm firing now, worst first: ``{name, severity, subject, value, threshold, unit, page, args}``."""
    alarms = []
    for condition in CONDITIONS:
        for subject, value, args in CHECKS[condition.name](snapshot, condition):
            alarms.append({"name": condition.name, "severity": condition.severity, "subject": subject,
                           "value": value, "threshold": condition.threshold, "unit": condition.unit,
                           "page": condition.page, "args": args})
    rank = {name: i for i, name in enumerate(SEVERITIES)}
    return sorted(alarms, key=lambda a: rank[a["severity"]])  # stable: table order within a severity


Found = list[tuple[str, float, dict]]


def _not_ready(s: Snapshot, c: Condition) -> Found:
    return [(name, 1, {}) for name, check in s.readiness["checks"].items() if not check["ok"]]


def _without_consumer(s: Snapshot, c: Condition) -> Found:
    paused = {p["queue"] for p in s.overview.get("paused", ())}  # an operator's pause is its own alarm
    return [(q["name"], q["ready"], {"queue": q["name"]}) for q in s.overview["queues"]
            if q["ready"] > c.threshold and q["consumers"] == 0 and q["name"] not in paused]


def _consumption_paused(s: Snapshot, c: Condition) -> Found:
    return [(p["destination"], 1, {"agency": p["destination"]}) for p in s.overview.get("paused", ())]


def _circuit_open(s: Snapshot, c: Condition) -> Found:
    return [(a["name"], 1, {"agency": a["name"]}) for a in s.overview["adapters"] if a["circuit"] == "open"]


def _certificates(expired: bool) -> Callable[[Snapshot, Condition], Found]:
    def check(s: Snapshot, c: Condition) -> Found:
        return [(f"{row['party']} {row['serial']}", row["days_left"], {"party": row["party"]})
                for row in s.overview["certificates"]
                if (row["days_left"] < 0) == expired and row["days_left"] < c.threshold]
    return check


def _figure_over(subject: str, figure: Callable[[Snapshot], float | None]) -> Callable[[Snapshot, Condition], Found]:
    """Fires for ``subject`` when the snapshot's ``figure`` is known (not None) and above the threshold."""
    def check(s: Snapshot, c: Condition) -> Found:
        value = figure(s)
        return [(subject, round(value, 1), {})] if value is not None and value > c.threshold else []
    return check


def _dead_letters(s: Snapshot, c: Condition) -> Found:
    return [(q["name"], q["dead_letters"], {"queue": q["name"]}) for q in s.overview["queues"]
            if q["dead_letters"] > c.threshold]


def _growth(metric: str, current: str) -> Callable[[Snapshot, Condition], Found]:
    """Fires for a queue whose ``metric`` rose over the condition's window and never fell within it."""
    def check(s: Snapshot, c: Condition) -> Found:
        found = []
        for q in s.overview["queues"]:
            series = s.history.get(q["name"], {}).get(metric, [])
            points = [v for at, v in series if at >= s.now - c.window_seconds - 60]
            covers = bool(points) and len(points) >= max(2, c.window_seconds // 60 - 1)
            rising = covers and all(b >= a for a, b in zip(points, points[1:])) and points[-1] > points[0]
            if rising and q[current] > c.threshold:
                found.append((q["name"], points[-1] - points[0], {"queue": q["name"]}))
        return found
    return check


def _refusals_spiking(s: Snapshot, c: Condition) -> Found:
    return [(agency, n, {"agency": agency}) for agency, n in sorted(s.refusals_last_minute.items()) if n > c.threshold]


CHECKS: dict[str, Callable[[Snapshot, Condition], Found]] = {
    "RabtNotReady": _not_ready,
    "RabtQueueWithoutConsumer": _without_consumer,
    "RabtCircuitOpen": _circuit_open,
    "RabtCertificateExpired": _certificates(expired=True),
    "RabtOutboxLagging": _figure_over("outbox", lambda s: s.oldest_unpublished_age),
    "RabtAnchorsUnstamped": _figure_over("tsa", lambda s: s.oldest_unstamped_age),
    "RabtRetentionOverdue": _figure_over("retention", lambda s: s.retention_overdue),
    "RabtDeadLettersGrowing": _growth("dead_letters", "dead_letters"),
    "RabtDeadLetters": _dead_letters,
    "RabtBacklogGrowing": _growth("depth", "ready"),
    "RabtCertificateExpiring": _certificates(expired=False),
    "RabtRefusalsSpiking": _refusals_spiking,
    "RabtConsumptionPaused": _consumption_paused,
}
