"""The console's overview, as plain data: queues, agencies, broker and database health, log counts.

Every figure comes from the hub's own parts: the transport (queue depths, dead
letters), the message log (statuses, recent activity) and the circuit
breakers of the outbound workers. Breakers live in the worker's memory: those
of this process are read directly, those of workers in other processes from
the states they report to the message log's database
(:mod:`hub.messagelog.circuits`); an agency no live worker reports says
``unknown`` with the reason instead of guessing.

Separate from :class:`hub.console.service.Console`, which serves it with the
rest, because building these rows (rates, error rates, circuits) is most of
the console's arithmetic and has parts of its own (the depth samples, the
adapters found once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hub import metrics
from hub.adapter import Adapter
from hub.console import queries
from hub.console.broker import BrokerView, ManagementApi, QueueFigures
from hub.console.controls import ConsumerControls
from hub.console.history import HistoryStore
from hub.console.moments import iso
from hub.console.operations import Operations
from hub.console.parts import ConsoleParts
from hub.errors import MessageLogError, RabtError
from hub.messagelog.circuits import FRESH_FOR, CircuitReports
from hub.routing import Routes
from hub.truststore import expiring

#: seconds of history behind the publish / deliver rates taken from the message log
RATE_WINDOW = 60.0
#: the log's counts by status are of the messages the newest this many chain records name (bounded work per
#: refresh, however long the log)
STATUS_WINDOW = 20_000
#: a pinned certificate expiring within this many days is shown as a warning
CERTIFICATE_WARNING_DAYS = 30


class DepthTracker:
    """Net change of each queue's depth per second, from successive samples."""

    def __init__(self, horizon: float = 30.0) -> None:
        self.horizon = horizon
        self._samples: dict[str, list[tuple[float, int]]] = {}

    def add(self, queue: str, depth: int, at: float) -> float | None:
        """Record a sample; the rate over the oldest sample within the horizon, or None."""
        samples = [s for s in self._samples.get(queue, []) if at - s[0] <= self.horizon] + [(at, depth)]
        self._samples[queue] = samples
        first = samples[0]
        return (depth - first[1]) / (at - first[0]) if at - first[0] >= 0.5 else None


class Overview:
    """The overview's figures, built afresh at each call from the parts the console holds."""

    def __init__(self, parts: ConsoleParts, broker: BrokerView, history: HistoryStore, operations: Operations,
                 controls: ConsumerControls, management: ManagementApi | None = None) -> None:
        self.parts = parts
        self.log = parts.log
        self.broker = broker
        self.history = history
        self.operations = operations
        self.controls = controls
        self.management = management
        self.breaker_states = parts.breaker_states or default_breaker_states
        self.depths = DepthTracker()
        self._calling_adapters: set[str] | None = None  # adapters with outbound services, found once

    def build(self) -> dict:
        """Queues, adapters, broker and database health, message-log counts."""
        database_error = queries.ping(self.log.engine)
        # collected before the broker is counted, so no letter is counted on both sides
        kept = {} if database_error else self.operations.dead_letter_counts()
        broker, figures = self._queue_figures()
        activity = [] if database_error else self._activity()
        stats = None if database_error else replace(
            self.log.stats(by_status=False), by_status=queries.by_status(self.log.engine, STATUS_WINDOW))
        rows = self._queue_rows(figures, activity, kept)
        return {
            "generated_at": iso(time.time()),
            "broker": broker,
            "database": {"reachable": database_error is None, "error": database_error},
            "queues": rows,
            "adapters": self._adapter_rows(activity, rows),
            "log": None if stats is None else {
                "by_status": stats.by_status, "by_status_window": STATUS_WINDOW,
                "outbox_backlog": stats.outbox_backlog, "refused": stats.refused,
                "chain_records": stats.chain_records, "last_processed_at": iso(stats.last_processed_at)},
            "dead_letters_total": sum(row["dead_letters"] for row in rows),
            "certificates": self.certificates(),
            "paused": [] if database_error else self.controls.paused(),
        }

    def certificates(self) -> list[dict]:
        """Every signing certificate the hub accepts now, soonest expiry first, with days left and a state."""
        rows = expiring(self.parts.verifier.trust_store.pinned())
        for row in rows:
            row["state"] = ("expired" if row["days_left"] < 0 else
                            "expiring" if row["days_left"] < CERTIFICATE_WARNING_DAYS else "ok")
            row["not_after"], row["accepted_until"] = iso(row["not_after"]), iso(row["accepted_until"])
        return sorted(rows, key=lambda row: (row["not_after"], row["party"]))

    def _queue_figures(self) -> tuple[dict, list[QueueFigures]]:
        kind = self.parts.broker_kind
        if self.management is not None:
            try:
                figures = self.management.figures([q.name for q in self.parts.routes.queues])
                return {"reachable": True, "error": None, "kind": kind, "source": "management"}, figures
            except RabtError:
                pass  # the plugin may be off; the transport still knows the depths
        try:
            stats = self.broker.run(lambda t: t.queue_stats())
        except RabtError as exc:
            return {"reachable": False, "error": str(exc), "kind": kind, "source": "transport"}, []
        metrics.set_queue_stats(stats)
        return {"reachable": True, "error": None, "kind": kind, "source": "transport"}, [QueueFigures(s) for s in stats]

    def _activity(self) -> list[queries.ActivityRow]:
        since = datetime.now(timezone.utc) - timedelta(seconds=RATE_WINDOW)
        return queries.activity(self.log.engine, since)

    def _queue_rows(self, figures: list[QueueFigures], activity: list[queries.ActivityRow],
                    kept: dict[str, int]) -> list[dict]:
        destinations = {q.name: q.binding.removesuffix(".#") for q in self.parts.routes.queues}
        now, rows = time.time(), []
        delivered = self._delivered_rates()
        for figure in figures:
            s, destination = figure.stats, destinations.get(figure.stats.name)
            logged = {status: sum(a.recent for a in activity if a.destination == destination and a.status == status)
                      for status in ("published", "delivered")}
            rows.append({
                "name": s.name, "ready": s.ready, "unacked": s.unacked, "consumers": s.consumers,
                # kept in the hub's table; the broker's count covers letters not collected yet
                "dead_letters": s.dead_letters + kept.get(s.name, 0),
                "publish_rate": _first(figure.publish_rate, logged["published"] / RATE_WINDOW),
                "deliver_rate": _first(figure.deliver_rate, delivered.get(s.name), logged["delivered"] / RATE_WINDOW),
                "net_rate": self.depths.add(s.name, s.ready + (s.unacked or 0), now),
            })
        return rows

    def _delivered_rates(self) -> dict[str, float]:
        """Queue → deliveries per second over the newest history minute (see hub.console.history)."""
        return self.history.rates("queue", "delivered", RATE_WINDOW)

    def _adapter_rows(self, activity: list[queries.ActivityRow], queue_rows: list[dict]) -> list[dict]:
        try:
            states = dict(self.breaker_states() or {})
        except Exception:  # noqa: BLE001 - the console must render even if the workers' module breaks
            states = {}
        reported = self._reported_circuits()
        names = sorted(set(_adapter_names()) | {a.agency for a in activity if a.agency} | set(states))
        dead = _dead_letters_by_destination(self.parts.routes, queue_rows)
        names = sorted(set(names) | set(dead))
        return [_adapter_row(name, [a for a in activity if a.agency == name or a.destination == name],
                             *self._circuit(name, states, reported), dead_letters=dead.get(name, 0))
                for name in names]

    def _reported_circuits(self) -> dict[str, dict]:
        """Agency → the worst circuit state workers in other processes reported lately ({} if unreadable)."""
        try:
            return CircuitReports(self.log.engine).worst()
        except MessageLogError:
            return {}

    def _circuit(self, name: str, states: dict[str, str], reported: dict[str, dict]) -> tuple[str, str | None]:
        """(state, why) — this process's breaker, else the workers' reports; the rest says why there is none."""
        if name in states:
            return states[name], None
        if name in reported:
            r = reported[name]
            return r["state"], (f"reported by {r['processes']} worker process(es); the worst by {r['process']} "
                                f"at {r['reported_at']:%H:%M:%S} UTC")
        if self._calling_adapters is None:
            self._calling_adapters = _calling_adapters(self.parts.adapters)
        if name not in self._calling_adapters:
            return "none", "calls no agency service"
        return "unknown", (f"no {name} outbound worker runs in this console's process and none reported "
                           f"its circuit in the last {FRESH_FOR:.0f} s: see rabt_circuit_state on the workers' /metrics")


def _first(*values):
    return next((v for v in values if v is not None), None)


def _adapter_row(name: str, rows: list[queries.ActivityRow], circuit: str, circuit_detail: str | None,
                 dead_letters: int = 0) -> dict:
    """One agency's health. Its error rate is (refused + failed) over everything the hub handled with
    it: what it sent (received or refused) and what was published to it. Failed are its messages (sent
    by it or to it) logged as dead-lettered or, when more, those waiting in the dead-letter queue of its
    own queue now — or, when more again, the messages its consumer reported failing (delivery receipts:
    a message that failed and was dead-lettered counts once). Applied: messages to it its consumer
    reported applied."""
    own = [r for r in rows if r.agency == name]
    received = sum(r.total for r in own if r.kind == "accepted")
    refused = sum(r.total for r in own if r.kind == "refused")
    to_it = [r for r in rows if r.destination == name]
    sent_to = sum(r.total for r in to_it if r.status == "published")
    applied = sum(r.messages for r in to_it if r.status == "applied")
    failed_at_consumer = sum(r.messages for r in to_it if r.status == "failed")
    dead = max(sum(r.total for r in rows if r.status == "dead-lettered"), dead_letters)
    failed = max(dead, failed_at_consumer)
    last = max((r.last_at for r in own if r.kind == "accepted" and r.last_at), default=None)
    attempts = max(received + refused + sent_to, failed)
    return {"name": name, "last_success": iso(last), "received": received, "refused": refused,
            "dead_lettered": dead, "applied": applied, "failed_at_consumer": failed_at_consumer,
            "error_rate": None if attempts == 0 else round((refused + failed) / attempts, 4),
            "circuit": circuit, "circuit_detail": circuit_detail}


def _dead_letters_by_destination(routes: Routes, queue_rows: list[dict]) -> dict[str, int]:
    destinations = {q.name: q.binding.removesuffix(".#") for q in routes.queues}
    found: dict[str, int] = {}
    for row in queue_rows:
        destination = destinations.get(row["name"], row["name"])
        found[destination] = found.get(destination, 0) + row["dead_letters"]
    return {name: count for name, count in found.items() if count}


def _adapter_names() -> list[str]:
    from hub.registry import adapter_names

    try:
        return list(adapter_names())
    except RabtError:
        return []


def _calling_adapters(adapters: Callable[[], Mapping[str, Adapter]]) -> set[str]:
    """Names of the adapters that call agency services (have a circuit)."""
    try:
        return {name for name, adapter in adapters().items() if adapter.outbound}
    except RabtError:
        return set()


def default_breaker_states() -> dict[str, str]:
    """Agency → circuit state of the outbound workers running in this process.

    Only this process's breakers are known here; an agency whose worker runs
    elsewhere is absent (the overview says so), never reported ``closed``.
    """
    try:
        from hub.outbound import breaker_states
    except ImportError:
        return {}
    return breaker_states()
