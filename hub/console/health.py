"""``/healthz`` (process alive), ``/readyz`` (broker, database, keys) and ``/metrics``.

``/readyz`` asks the broker and the database itself, and adds what this
process's role loops are waiting out right now (:data:`hub.outage.OUTAGES`):
a relay that cannot publish makes the process not ready, with the relay's
reason, even while the console's own connection still works.

``/healthz`` and ``/readyz`` need no credentials: load balancers and
orchestrators call them, and they reveal only which dependency is down.
``/metrics`` needs the viewer role (Prometheus sends a bearer token:
``authorization: {credentials: …}`` in its scrape config), because the
counters name agencies and message volumes.

Processes without the console (``rabt worker``, ``rabt serve`` without the
console role) serve their own counters and circuit states with
:func:`create_metrics_app`: ``/metrics`` behind the same viewer tokens, and
``/healthz``; no shared-state gauges, so summing targets never counts a
queue twice.

Both ``/metrics`` serve :func:`hub.metrics.exposition`: in a ``rabt serve``
master with several gateway processes that includes what the children
counted (:mod:`hub.process_metrics`), so an operator does not see zeros for
the gateway's received and refused messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, jsonify

from hub import metrics
from hub.console import queries
from hub.console.auth import require
from hub.console.broker import BrokerView
from hub.console.throttle import LoginThrottle
from hub.console.users import Users
from hub.console.users_watch import WatchedUsers
from hub.errors import RabtError
from hub.outage import OUTAGES, Outages
from hub.transports.base import Transport

health = Blueprint("health", __name__)
process = Blueprint("process_metrics", __name__)


@health.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


#: what a probe of one dependency returns: None when it answers, else why not
Probe = Callable[[], "str | None"]
#: the name a role loop's watch gives a dependency → the check /readyz reports it under
_CHECK_NAMES = {"message log": "database"}


def with_outages(result: dict, outages: Outages = OUTAGES) -> dict:
    """``result`` (``{"ready", "checks"}``) with every outage a role loop of this process is waiting out."""
    checks = result["checks"]
    for dependency, reason in outages.current().items():
        name = _CHECK_NAMES.get(dependency, dependency)
        if checks.get(name, {"ok": True})["ok"]:
            checks[name] = {"ok": False, "error": reason}
    return {**result, "ready": all(check["ok"] for check in checks.values())}


def probed(probes: Mapping[str, Probe]) -> dict:
    """``{"ready", "checks"}`` from running each probe, then the role loops' outages."""
    errors = {name: probe() for name, probe in probes.items()}
    checks = {name: {"ok": error is None, "error": error} for name, error in errors.items()}
    return with_outages({"ready": True, "checks": checks})


def dependency_probes(engine, open_transport: Callable[[], Transport]) -> dict[str, Probe]:
    """Probes of the message-log database and the broker (one transport kept, reopened after a failure).

    ``open_transport`` should give up within seconds: a probe answers a load balancer.
    """
    broker = BrokerView(open_transport)

    def broker_probe() -> str | None:
        try:
            broker.run(lambda transport: transport.connect())
        except RabtError as exc:
            return exc.reason
        return None

    return {"database": lambda: queries.ping(engine), "broker": broker_probe}


@health.get("/readyz")
def readyz():
    result = with_outages(current_app.extensions["rabt_console"].console.readiness())
    return jsonify(result), 200 if result["ready"] else 503


def sample_gauges(console) -> None:
    """Refresh the gauges that describe shared state (queues, outbox, last activity, unstamped anchors,
    the retention archive's delay)."""
    try:
        stats = console.log.stats(by_status=False)  # on every scrape: the counts by status read every message
        metrics.set_outbox_backlog(stats.outbox_backlog)
        if stats.last_processed_at is not None:
            metrics.mark_processed(stats.last_processed_at.timestamp())
    except RabtError:
        pass  # the database being down shows in /readyz; the counters still scrape
    try:
        metrics.set_queue_stats(console.broker.run(lambda t: t.queue_stats()))
    except RabtError:
        pass
    try:
        if (waiting := console.unstamped_anchors()) is not None:
            metrics.set_stamp_backlog(waiting.count, waiting.oldest_age())
    except RabtError:
        pass
    try:
        if (overdue := console.retention_overdue()) is not None:
            metrics.set_retention_overdue(overdue)
    except RabtError:
        pass


@health.get("/metrics")
@require("viewer")
def metrics_endpoint():
    sample_gauges(current_app.extensions["rabt_console"].console)
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


process.add_url_rule("/healthz", view_func=healthz)


@process.get("/readyz")
def process_readyz():
    result = probed(current_app.extensions["rabt_console"].probes)
    return jsonify(result), 200 if result["ready"] else 503


@process.get("/metrics")
@require("viewer")
def process_metrics():
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


@dataclass
class _Access:
    """What :mod:`hub.console.auth` reads from the app: the users and the failed-login counts."""

    users: Users | WatchedUsers
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    #: what /readyz asks (see :func:`dependency_probes`); none: only the role loops' outages count
    probes: Mapping[str, Probe] = field(default_factory=dict)

    def current_users(self) -> Users:
        """Who may read /metrics now."""
        return self.users.current()


def create_metrics_app(users: Users | WatchedUsers, probes: Mapping[str, Probe] | None = None) -> Flask:
    """``/metrics`` (viewer role), ``/healthz`` and ``/readyz`` for a process that runs no console.

    ``users`` may be the watched users file, so a token made or revoked while
    the process runs counts here too, as on the console.
    """
    app = Flask("hub.metrics")
    app.config["SECRET_KEY"] = os.urandom(32)  # no login form here; sessions are never issued
    app.extensions["rabt_console"] = _Access(users, probes=dict(probes or {}))
    app.register_blueprint(process)
    return app
