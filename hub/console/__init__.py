"""The operator console: HTML pages, the JSON API (``/api/v1``), ``/metrics``, health.

    app = create_app(parts)          # parts: a ConsoleParts, built by hub.bootstrap.console_app
    app = create_app(parts, {"SECRET_KEY": "…", "REFRESH_SECONDS": 0.5})   # tests

The console receives every part it uses (:class:`ConsoleParts`) and reads no
environment: the command line passes the secret key and the management URL in.
``config`` keys (all optional) are Flask's, plus:

* ``SECRET_KEY`` — signs session cookies; default a random key per process
  (sessions then end when the console restarts, and several console processes
  behind one address need the same key);
* ``REFRESH_SECONDS`` — overview polling interval (default 2);
* ``TIMEZONE`` — the zone times are shown in (default Asia/Muscat);
* ``SAMPLE_HISTORY`` — false keeps the history sampler thread from starting
  (default true; its period is ``ConsoleParts.sample_seconds``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import Flask, request, session, url_for

from hub.console.actions import ActionLog
from hub.console.api import api
from hub.console.auth import csrf_token, current_principal
from hub.console.broker import BrokerView, ManagementApi
from hub.console.health import health
from hub.console.history import Sampler
from hub.console.i18n import DIGIT_STYLES, pick, template_helpers
from hub.console.pages import pages
from hub.console.parts import ConsoleParts
from hub.console.service import Console
from hub.console.sessions import install_sessions
from hub.console.throttle import LoginThrottle
from hub.console.users import Users
from hub.console.users_watch import WatchedUsers
from hub.errors import RabtError

__all__ = ["Console", "ConsoleParts", "ConsoleState", "Users", "create_app"]


@dataclass
class ConsoleState:
    """What the app's views share: the users, the console service, the failed-login counts."""

    users: Users | WatchedUsers
    """As given (tests, embedding), or the installation's file re-read when it changes."""
    console: Console
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    def current_users(self) -> Users:
        """Who may sign in now."""
        return self.users.current()


def _state(parts: ConsoleParts) -> ConsoleState:
    broker = BrokerView(parts.open_transport, declare=lambda transport: transport.declare(parts.routes))
    management = ManagementApi(parts.management_url) if parts.management_url else None
    console = Console(parts, broker, ActionLog(parts.actions_file), management=management)
    return ConsoleState(WatchedUsers(parts.users_file) if parts.users_file is not None else parts.users, console)


def create_app(parts: ConsoleParts, config: dict | None = None) -> Flask:
    """The console app over ``parts`` (see the module docstring for ``config``)."""
    config = dict(config or {})
    app = Flask("hub.console")
    app.config.update(config)
    app.config["SECRET_KEY"] = config.get("SECRET_KEY") or os.urandom(32)
    # set, not setdefault: Flask ships defaults for these keys, which made setdefault a no-op
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    install_sessions(app, config.get("SESSIONS_FILE") or parts.sessions_file)
    app.extensions["rabt_console"] = state = _state(parts)
    if config.get("SAMPLE_HISTORY", True):
        Sampler(state.console, state.console.history, parts.sample_seconds).start()
    for blueprint in (api, pages, health):
        app.register_blueprint(blueprint)

    @app.before_request
    def _language() -> None:
        if request.args.get("lang") in ("en", "ar"):
            session["lang"] = request.args["lang"]
        if request.args.get("digits") in DIGIT_STYLES:
            session["digits"] = request.args["digits"]

    @app.context_processor
    def _template_helpers() -> dict:
        lang = pick(session.get("lang"))
        other = "en" if lang == "ar" else "ar"
        args = {**request.args.to_dict(), **(request.view_args or {}), "lang": other}
        switch = url_for(request.endpoint, **args) if request.endpoint and request.method == "GET" else f"?lang={other}"
        digits = session.get("digits", "latin")
        other_digits = "latin" if digits == "arabic" else "arabic"
        digits_args = {**request.args.to_dict(), **(request.view_args or {}), "digits": other_digits}
        digits_url = (url_for(request.endpoint, **digits_args) if request.endpoint and request.method == "GET"
                      else f"?digits={other_digits}")
        return {**template_helpers(lang, digits, app.config.get("TIMEZONE", "Asia/Muscat")),
                "lang": lang, "principal": current_principal(), "csrf_token": csrf_token, "switch_url": switch,
                "digits_url": digits_url, "other_digits": other_digits, "alarms_now": _alarms_now}

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _alarms_now() -> list[dict]:
    """The band's alarms for the page being rendered (empty when the hub cannot even be asked)."""
    from flask import current_app

    from hub.console.pages import with_links
    try:
        return with_links(current_app.extensions["rabt_console"].console.alarms())
    except RabtError as exc:
        return [{"name": "RabtNotReady", "severity": "critical", "subject": str(exc), "value": 1, "href": "/readyz"}]
