"""The operator console: HTML pages, the JSON API (``/api/v1``), ``/metrics``, health.

    app = create_app(hub)                       # hub from hub.bootstrap.bootstrap()
    app = create_app(hub, {"USERS": Users(...), "SECRET_KEY": "…"})   # tests

``config`` keys (all optional):

* ``SECRET_KEY`` — signs session cookies; default ``RABT_CONSOLE_SECRET`` or a
  random key per process (sessions then end when the console restarts, and
  several console processes behind one address need the same key);
* ``USERS`` — a :class:`~hub.console.users.Users`; default: read from
  ``RABT_CONSOLE_USERS`` or ``$RABT_HOME/console-users.toml``;
* ``ACTIONS_FILE`` — the console's action log (default ``$RABT_HOME/console-actions.jsonl``);
* ``MANAGEMENT_URL`` — RabbitMQ's management API, ``http://user:pass@host:15672/``
  (default ``RABT_RABBITMQ_MANAGEMENT_URL``; unset: figures from the transport);
* ``BREAKER_STATES`` — callable returning ``{agency: state}`` (default
  ``hub.outbound.breaker_states`` when installed);
* ``TRANSPORT_FACTORY`` — callable returning a transport (default ``hub.open_transport``);
* ``REFRESH_SECONDS`` — overview polling interval (default 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import Flask, request, session, url_for

from hub.bootstrap import Hub
from hub.console.actions import ActionLog
from hub.console.api import api
from hub.console.auth import csrf_token, current_principal
from hub.console.broker import BrokerView, ManagementApi
from hub.console.health import health
from hub.console.i18n import pick, translator
from hub.console.pages import pages
from hub.console.service import Console
from hub.console.sessions import SESSIONS_FILE_NAME, install_sessions
from hub.console.throttle import LoginThrottle
from hub.console.users import Users, users_path

__all__ = ["Console", "ConsoleState", "Users", "create_app"]


@dataclass
class ConsoleState:
    """What the app's views share: the users, the console service, the failed-login counts."""

    users: Users
    console: Console
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def _transport_factory(hub: Hub):
    def open_one():
        url = hub.settings.effective_broker_url
        # a console request should fail in seconds when RabbitMQ is down, not after a minute
        return hub.open_transport(**({"reconnect_timeout": 3.0} if url.startswith("amqp") else {}))
    return open_one


def _state(hub: Hub, config: dict) -> ConsoleState:
    users = config.get("USERS") or Users.load(users_path(hub.settings.home))
    management_url = config.get("MANAGEMENT_URL", os.environ.get("RABT_RABBITMQ_MANAGEMENT_URL"))
    broker = BrokerView(config.get("TRANSPORT_FACTORY") or _transport_factory(hub),
                        declare=lambda transport: transport.declare(hub.routes))
    actions = ActionLog(config.get("ACTIONS_FILE") or hub.settings.home / "console-actions.jsonl")
    console = Console(hub, broker, actions, breaker_states=config.get("BREAKER_STATES"),
                      management=ManagementApi(management_url) if management_url else None)
    return ConsoleState(users, console)


def create_app(hub: Hub, config: dict | None = None) -> Flask:
    """The console app for ``hub`` (see the module docstring for ``config``)."""
    config = dict(config or {})
    app = Flask("hub.console")
    app.config.update(config)
    app.config["SECRET_KEY"] = config.get("SECRET_KEY") or os.environ.get("RABT_CONSOLE_SECRET") or os.urandom(32)
    # set, not setdefault: Flask ships defaults for these keys, which made setdefault a no-op
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    install_sessions(app, config.get("SESSIONS_FILE") or hub.settings.home / SESSIONS_FILE_NAME)
    app.extensions["rabt_console"] = _state(hub, config)
    for blueprint in (api, pages, health):
        app.register_blueprint(blueprint)

    @app.before_request
    def _language() -> None:
        if request.args.get("lang") in ("en", "ar"):
            session["lang"] = request.args["lang"]

    @app.context_processor
    def _template_helpers() -> dict:
        lang = pick(session.get("lang"))
        other = "en" if lang == "ar" else "ar"
        args = {**request.args.to_dict(), **(request.view_args or {}), "lang": other}
        switch = url_for(request.endpoint, **args) if request.endpoint and request.method == "GET" else f"?lang={other}"
        return {"t": translator(lang), "lang": lang, "principal": current_principal(),
                "csrf_token": csrf_token, "switch_url": switch}

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
