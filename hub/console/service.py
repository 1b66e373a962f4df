"""What the console shows and does, as plain data; the API and the pages both render it.

Every figure comes from the hub's own parts: the transport (queue depths, dead
letters), the message log (statuses, the audit chain, payloads) and the
circuit breakers of the outbound workers. Breakers live in the worker's
memory: those of this process are read directly, those of workers in other
processes from the states they report to the message log's database
(:mod:`hub.messagelog.circuits`); an agency no live worker reports says
``unknown`` with the reason instead of guessing. Nothing here knows HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hub import metrics
from hub.adapter import Adapter
from hub.config import RetentionSettings
from hub.console import alarms, figures, queries
from hub.console.actions import ActionLog
from hub.console.controls import ConsumerControls
from hub.console.broker import BrokerView, ManagementApi, QueueFigures
from hub.console.operations import Operations
from hub.console.history import SPANS, HistoryStore
from hub.console.trail import message_trail, unstored_ids, unstored_trail
from hub.deadletters import LetterFilter
from hub.console.users import Principal, Users
from hub.errors import InputError, MessageLogError, RabtError
from hub.messagelog.circuits import FRESH_FOR, CircuitReports
from hub.ledger import DisclosureLedger
from hub.messagelog import MessageLog
from hub.messagelog import stamps
from hub.messagelog.search import normalize
from hub.messagelog.stamps import Backlog
from hub.retention import overdue_seconds
from hub.routing import Routes
from hub.signing import Verifier
from hub.truststore import expiring
from hub.transports.base import DeadLetter, Transport

#: seconds of history behind the publish / deliver rates taken from the message log
RATE_WINDOW = 60.0
#: what a search compares its term with (see hub.console.queries.search)
SEARCHED = ("message id", "correlation id", "civil number", "passport number", "worker name")
#: a pinned certificate expiring within this many days is shown as a warning
CERTIFICATE_WARNING_DAYS = 30


def iso(moment: datetime | float | None) -> str | None:
    """ISO-8601 UTC text for a datetime or unix time (None stays None)."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


@dataclass(frozen=True)
class ConsoleParts:
    """The hub's parts the console reads and acts on, handed in by whoever wires the hub.

    The console never builds or looks up a part itself, so a test can hand it
    fakes and the wiring stays in one place.
    """

    #: statuses, payloads, events and the audit chain
    log: MessageLog
    #: re-checks a stored envelope's signature for the trail
    verifier: Verifier
    #: the work queues whose depths the overview shows
    routes: Routes
    #: opens a new transport; the console keeps one behind a lock (see BrokerView)
    open_transport: Callable[[], Transport]
    #: the broker's kind as the overview names it ("amqp", "sqlite")
    broker_kind: str
    #: every installed adapter by name, loaded on first use (entry points may fail)
    adapters: Callable[[], Mapping[str, Adapter]]
    #: whether the hub's signing key is loaded (a readiness check)
    signing_key_loaded: bool
    #: who may sign in and which API tokens are valid
    users: Users
    #: the console's own append-only action log (JSON lines)
    actions_file: Path
    #: the server-side login sessions, shared by every console process on this home
    sessions_file: Path
    #: RabbitMQ's management API ``http://user:pass@host:15672/``; None: figures from the transport
    management_url: str | None = None
    #: agency → circuit state of this process's outbound workers (default: hub.outbound's)
    breaker_states: Callable[[], dict[str, str]] | None = None
    #: the console's own history of rates and depths (see hub.console.history); None keeps it in memory
    history_file: Path | None = None
    #: seconds between two history points (the sampler thread's period)
    sample_seconds: float = 10.0
    #: workers' signed disclosure reports (the ledger page and API); None: they answer 503
    ledger: DisclosureLedger | None = None
    #: whether a TSA stamps the log's anchors (RABT_TSA_URL): only then is an unstamped anchor news
    timestamps_expected: bool = False
    #: the file ``users`` came from, re-read when it changes (None: ``users`` stay as given)
    users_file: Path | None = None
    #: the retention role's settings where one is configured (``[retention] folder``): only then is a closed
    #: period without its archive news
    retention: RetentionSettings | None = None
    #: the calendar the retention periods are counted on (tests move it, as the retention role's own)
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


class Console:
    """The operator console's behaviour, independent of Flask."""

    def __init__(self, parts: ConsoleParts, broker: BrokerView, actions: ActionLog, *,
                 management: ManagementApi | None = None) -> None:
        self.parts = parts
        self.log = parts.log
        self.broker = broker
        self.actions = actions
        self.breaker_states = parts.breaker_states or default_breaker_states
        self.management = management
        self.depths = DepthTracker()
        self.operations = Operations(parts.log, broker, actions, parts.routes)
        self.controls = ConsumerControls(parts.log, actions, parts.routes)
        self.history = HistoryStore(parts.history_file)
        self._alarms: tuple[float, list[dict]] = (0.0, [])  # (when evaluated, alarms): pages share one evaluation
        self._calling_adapters: set[str] | None = None  # adapters with outbound services, found once

    # -- overview -------------------------------------------------------------------------------

    def overview(self) -> dict:
        """Queues, adapters, broker and database health, message-log counts."""
        database_error = queries.ping(self.log.engine)
        # collected before the broker is counted, so no letter is counted on both sides
        kept = {} if database_error else self.operations.dead_letter_counts()
        broker, figures = self._queue_figures()
        activity = [] if database_error else self._activity()
        stats = None if database_error else self.log.stats()
        rows = self._queue_rows(figures, activity, kept)
        return {
            "generated_at": iso(time.time()),
            "broker": broker,
            "database": {"reachable": database_error is None, "error": database_error},
            "queues": rows,
            "adapters": self._adapter_rows(activity, rows),
            "log": None if stats is None else {
                "by_status": stats.by_status, "outbox_backlog": stats.outbox_backlog, "refused": stats.refused,
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

    # -- alarms, history, figures ---------------------------------------------------------------

    def alarms(self, overview: dict | None = None, max_age: float = 1.0) -> list[dict]:
        """What is wrong now, worst first (see hub.console.alarms); one evaluation serves ``max_age`` s."""
        at, found = self._alarms
        if time.monotonic() - at > max_age:
            found = alarms.evaluate(alarms.gather(self, overview))
            self._alarms = (time.monotonic(), found)
        return found

    def oldest_unpublished_age(self) -> float | None:
        """Seconds the oldest message has waited in the outbox for the relay (None: nothing waits)."""
        oldest = figures.oldest_unpublished(self.log.engine)
        return None if oldest is None else max(0.0, time.time() - oldest.timestamp())

    def unstamped_anchors(self) -> Backlog | None:
        """Anchors waiting for their timestamp token (None: no TSA is configured, so none will get one)."""
        return stamps.backlog(self.log.engine) if self.parts.timestamps_expected else None

    def retention_overdue(self) -> float | None:
        """Seconds the newest closed period's archive is overdue (None: no retention role is configured)."""
        if self.parts.retention is None:
            return None
        return overdue_seconds(self.log, self.parts.retention, self.parts.now())

    def history_series(self, kind: str, span: str) -> dict:
        """Points per queue or agency over ``span`` (``hour``, ``day``); see HistoryStore.series."""
        if kind not in ("queue", "agency") or span not in SPANS:
            raise InputError(f"history is kept per queue or agency over an hour or a day, not {kind!r}/{span!r}")
        return {"kind": kind, "span": span, "step": SPANS[span][1], "series": self.history.series(kind, span)}

    def numbers(self, since_seconds: int = 3600) -> dict:
        """Latency percentiles against their targets and refusals by reason over the last ``since_seconds``."""
        since = datetime.now(timezone.utc) - timedelta(seconds=since_seconds)
        return {"since": iso(since), "latency": figures.latencies(self.log.engine, since),
                "refusals": figures.refusals_by_reason(self.log.engine, since)}

    # -- dead letters (hub.console.operations) -------------------------------------------------

    def dead_letters(self, queue: str | None = None, limit: int = 100, which: LetterFilter | None = None) -> list[dict]:
        """Dead letters with reason, attempts, and both payloads (from the hub's table, not the broker)."""
        which = which or LetterFilter(queue=queue)
        return [self._letter(d) for d in self.operations.dead_letters(which, limit)]

    def _letter(self, letter: DeadLetter) -> dict:
        try:
            stored = self.log.get(letter.message_id)
        except MessageLogError:
            stored = None
        return {
            "id": letter.id, "queue": letter.queue, "message_id": letter.message_id, "reason": letter.reason,
            "code": letter.code, "attempts": letter.attempts, "dead_lettered_at": iso(letter.dead_lettered_at),
            "routing_key": letter.message.routing_key, "correlation_id": letter.message.correlation_id,
            "canonical": letter.message.body.decode("utf-8", "replace"),
            "original": None if stored is None or stored.raw is None else stored.raw.decode("utf-8", "replace"),
            "status": None if stored is None else stored.status,
        }

    def replay(self, ids: list[str], who: Principal) -> list[dict]:
        """Put dead letters back on their queues; one result per id (each chained as ``replayed``)."""
        return self.operations.replay(ids, who)

    def discard(self, ids: list[str], who: Principal, reason: str = "") -> list[dict]:
        """Remove dead letters for good (each chained as ``discarded``)."""
        return self.operations.discard(ids, who, reason)

    # -- trail, audit, health -------------------------------------------------------------------

    def trail(self, term: str, limit: int = 10) -> dict:
        """Every message matching ``term`` with raw, canonical, signature check and events.

        ``searched`` names what was compared with the term, and ``normalized``
        the form names were compared in, so an empty result says what it covers.
        """
        self.operations.collect_quietly()
        ids = queries.search(self.log.engine, term, limit=limit)
        ids += [i for i in unstored_ids(self.log, self.operations.desk.store, term) if i not in ids]
        return {"term": term.strip(), "normalized": normalize(term), "searched": list(SEARCHED),
                "messages": [self.message(mid) for mid in ids]}

    def message(self, message_id: str) -> dict:
        """One message's trail (``found: false`` when the log does not hold it)."""
        self.operations.collect_quietly()
        found = message_trail(self.log, self.parts.verifier, message_id)
        if found["found"]:
            return found
        return unstored_trail(self.log, self.operations.desk.store, message_id, self.parts.verifier)

    def verify_chain(self, who: Principal) -> dict:
        """Re-check the whole audit chain; the report (also kept in the action log)."""
        started = time.monotonic()
        report = self.log.verify_chain(raise_on_error=False)
        result = {**asdict(report), "seconds": round(time.monotonic() - started, 3), "checked_by": who.name}
        self.actions.record(who.name, who.role, "verify-chain", "audit-chain", "ok" if report.ok else "broken",
                            report.reason or f"{report.records} records, head {report.head_hash}")
        return result

    def readiness(self) -> dict:
        """``{"ready": bool, "checks": {broker, database, keys}}`` with a reason for each failure."""
        checks = {"database": queries.ping(self.log.engine)}
        try:
            self.broker.run(lambda t: t.queue_stats())
            checks["broker"] = None
        except RabtError as exc:
            checks["broker"] = str(exc)
        checks["keys"] = None if self.parts.signing_key_loaded else "hub signing key not loaded"
        return {"ready": all(v is None for v in checks.values()),
                "checks": {name: {"ok": err is None, "error": err} for name, err in checks.items()}}


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
