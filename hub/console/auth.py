"""Authentication, roles and CSRF protection for the console's pages and API.

Three ways in, each giving a :class:`~hub.console.users.Principal`:

* ``Authorization: Bearer <token>`` — scripts and Prometheus;
* ``Authorization: Basic …`` — a user's password, for scripts or the browser;
* the login form — a signed session cookie naming a server-side session
  (:mod:`hub.console.sessions`), for the browser pages.

CSRF: a browser sends cookies and cached basic credentials to any site that
asks it to, so a state-changing request authenticated that way must prove it
came from our own pages: a session request carries the per-session token
(form field ``csrf_token`` or header ``X-CSRF-Token``); a basic-auth request
must be ``Content-Type: application/json``, which another site's page cannot
send without a CORS preflight that the console never grants. A bearer token is
never sent automatically by a browser, so bearer requests are exempt.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import math
import secrets
from collections.abc import Callable

from flask import current_app, g, jsonify, redirect, request, session, url_for

from hub.console.sessions import fingerprint, session_store
from hub.console.users import Principal, Users

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = 'Basic realm="rabt console", charset="UTF-8", Bearer realm="rabt console"'


def users() -> Users:
    return current_app.extensions["rabt_console"].current_users()


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def current_principal() -> Principal | None:
    """Who is calling, or None; cached on ``g`` for the request."""
    if "principal" not in g:
        g.principal = _from_header(request.headers.get("Authorization", "")) or _from_session()
    return g.principal


def _from_header(header: str) -> Principal | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return users().check_token(value.strip())
    if scheme.lower() == "basic" and value.strip():
        try:
            name, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return checked_password(name, password)
    return None


def checked_password(name: str, password: str) -> Principal | None:
    """The user if the password is theirs; unchecked (None, ``g.throttled`` = seconds) after too many failures.

    The try is reserved before the slow hash check, so concurrent guesses cannot
    all pass the limit while the first ones are still being checked.
    """
    throttle = current_app.extensions["rabt_console"].throttle
    key = (name.casefold(), request.remote_addr or "")
    wait = throttle.reserve(key)
    if wait > 0:
        g.throttled = wait
        return None
    principal = None
    try:
        principal = users().check_password(name, password)
    finally:  # an error in the check counts as a failure: it must not leak the reserved try
        if principal is None:
            throttle.failed(key)
        else:
            throttle.succeeded(key)
    return principal


def throttled_error():
    """The API's answer while ``g.throttled``: 429 with Retry-After."""
    seconds = math.ceil(g.throttled)
    response = api_error(429, "throttled", f"too many failed logins; try again in {seconds} s")
    response.headers["Retry-After"] = str(seconds)
    return response


def start_session(principal: Principal) -> None:
    """Log ``principal`` in: a fresh cookie session (no fixation) bound to a new server-side session."""
    lang = session.get("lang")
    session.clear()
    password_hash, role = users().passwords[principal.name]
    session.update(user=principal.name, sid=session_store().open(principal.name, fingerprint(password_hash, role)),
                   lang=lang)
    csrf_token()


def end_session() -> None:
    """Log out: the server-side session ends, so every copy of the cookie stops working."""
    if isinstance(session.get("sid"), str):
        session_store().end(session["sid"])
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _from_session() -> Principal | None:
    name, session_id = session.get("user"), session.get("sid")
    if not isinstance(name, str) or not isinstance(session_id, str):
        return None
    entry = users().passwords.get(name)
    # the role comes from the users entry on every request; a changed password or role ends the session
    if entry is None or not session_store().check(session_id, name, fingerprint(*entry)):
        session.pop("user", None)
        session.pop("sid", None)
        return None
    return Principal(name, entry[1], "session")


def csrf_ok(principal: Principal) -> bool:
    """Whether an unsafe request by ``principal`` passes the CSRF rule (module docstring)."""
    if request.method in SAFE_METHODS or principal.method == "bearer":
        return True
    if principal.method == "basic":
        return request.mimetype == "application/json"
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    return bool(expected) and hmac.compare_digest(str(sent), str(expected))


def api_error(status: int, code: str, reason: str):
    """The API's one error shape: ``{"error": {"code", "reason"}}``."""
    response = jsonify({"error": {"code": code, "reason": reason}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = _CHALLENGE
    return response


def require(role: str, *, page: bool = False) -> Callable:
    """Decorator: the caller needs ``role`` (or more); 401 / 403 / CSRF refusal otherwise.

    Pages send an anonymous browser to the login form instead of a 401.
    """
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                if page:
                    return redirect(url_for("pages.login", next=request.full_path))
                if g.get("throttled"):
                    return throttled_error()
                return api_error(401, "unauthenticated", "log in, or send a bearer token or basic credentials")
            if not principal.may(role):
                return api_error(403, "forbidden", f"{principal.name} is {principal.role}; this needs {role}")
            if not csrf_ok(principal):
                return api_error(403, "csrf", "missing or wrong CSRF token for a cookie-authenticated request"
                                 if principal.method == "session" else "basic-auth changes must be JSON requests")
            return view(*args, **kwargs)
        guarded.required_role = role
        return guarded
    return decorate
