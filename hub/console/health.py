"""``/healthz`` (process alive), ``/readyz`` (broker, database, keys) and ``/metrics``.

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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, jsonify

from hub import metrics
from hub.console.auth import require
from hub.console.throttle import LoginThrottle
from hub.console.users import Users
from hub.errors import RabtError

health = Blueprint("health", __name__)
process = Blueprint("process_metrics", __name__)


@health.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz():
    result = current_app.extensions["rabt_console"].console.readiness()
    return jsonify(result), 200 if result["ready"] else 503


def sample_gauges(console) -> None:
    """Refresh the gauges that describe shared state (queues, outbox, last activity)."""
    try:
        stats = console.log.stats()
        metrics.set_outbox_backlog(stats.outbox_backlog)
        if stats.last_processed_at is not None:
            metrics.mark_processed(stats.last_processed_at.timestamp())
    except RabtError:
        pass  # the database being down shows in /readyz; the counters still scrape
    try:
        metrics.set_queue_stats(console.broker.run(lambda t: t.queue_stats()))
    except RabtError:
        pass


@health.get("/metrics")
@require("viewer")
def metrics_endpoint():
    sample_gauges(current_app.extensions["rabt_console"].console)
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


process.add_url_rule("/healthz", view_func=healthz)


@process.get("/metrics")
@require("viewer")
def process_metrics():
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE_LATEST)


@dataclass
class _Access:
    """What :mod:`hub.console.auth` reads from the app: the users and the failed-login counts."""

    users: Users
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def create_metrics_app(users: Users) -> Flask:
    """``/metrics`` (viewer role) and ``/healthz`` for a process that runs no console."""
    app = Flask("hub.metrics")
    app.config["SECRET_KEY"] = os.urandom(32)  # no login form here; sessions are never issued
    app.extensions["rabt_console"] = _Access(users)
    app.register_blueprint(process)
    return app
