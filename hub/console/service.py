"""What the console shows and does, as plain data; the API and the pages both render it.

Every figure comes from the hub's own parts (:class:`~hub.console.parts.ConsoleParts`):
the transport (queue depths, dead letters), the message log (statuses, the
audit chain, payloads) and the circuit breakers of the outbound workers. The
overview's rows are built by :mod:`hub.console.overview`; this module serves
them with the rest. Nothing here knows HTTP.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from hub.console import alarms, figures, queries
from hub.console.actions import ActionLog
from hub.console.controls import ConsumerControls
from hub.console.broker import BrokerView, ManagementApi
from hub.console.moments import iso
from hub.console.operations import Operations
from hub.console.overview import Overview
from hub.console.history import SPANS, HistoryStore
from hub.console.parts import ConsoleParts
from hub.console.trail import message_trail, unstored_ids, unstored_trail
from hub.deadletters import LetterFilter
from hub.console.users import Principal
from hub.errors import InputError, MessageLogError, RabtError
from hub.messagelog import stamps
from hub.messagelog.search import normalize
from hub.messagelog.stamps import Backlog
from hub.retention import overdue_seconds
from hub.transports.base import DeadLetter

#: what a search compares its term with (see hub.console.queries.search)
SEARCHED = ("message id", "correlation id", "civil number", "passport number", "worker name")


class Console:
    """The operator console's behaviour, independent of Flask."""

    def __init__(self, parts: ConsoleParts, broker: BrokerView, actions: ActionLog, *,
                 management: ManagementApi | None = None) -> None:
        self.parts = parts
        self.log = parts.log
        self.broker = broker
        self.actions = actions
        self.operations = Operations(parts.log, broker, actions, parts.routes)
        self.controls = ConsumerControls(parts.log, actions, parts.routes)
        self.history = HistoryStore(parts.history_file)
        self._overview = Overview(parts, broker, self.history, self.operations, self.controls, management)
        self._alarms: tuple[float, list[dict]] = (0.0, [])  # (when evaluated, alarms): pages share one evaluation

    # -- overview (hub.console.overview) --------------------------------------------------------

    def overview(self) -> dict:
        """Queues, adapters, broker and database health, message-log counts."""
        return self._overview.build()

    def certificates(self) -> list[dict]:
        """Every signing certificate the hub accepts now, soonest expiry first, with days left and a state."""
        return self._overview.certificates()

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
