"""Console logins kept server-side, so that logging out really ends them.

Flask's session is a signed cookie: on its own, a copy taken before logout
keeps working until the signature expires (31 days by Flask's default). So the
console's cookie carries a random session id beside the user name and CSRF
token, and the login itself is a row in a small SQLite database —
``$RABT_HOME/console-sessions.sqlite3`` unless the app config's
``SESSIONS_FILE`` says otherwise — that every console process of the
installation shares. A cookie is honoured only while

* its row exists: logout deletes it, and ``rabt console user NAME`` (a new
  password or role) deletes all of that user's rows;
* the user's password hash and role are still those they logged in with (a
  change made in the users file ends the session even where nobody ran the
  command);
* it was used within ``SESSION_IDLE_SECONDS`` (default 8 h) and is younger than
  ``SESSION_MAX_SECONDS`` (default 24 h).

The database holds SHA-256 digests of the session ids, never the ids, so a
copy of it logs nobody in; it is created with mode 0600 all the same.

Cookie flags: ``HttpOnly`` and ``SameSite=Strict`` (set by ``create_app``), and
``Secure`` whenever the request reached the console over TLS — ``https`` to the
server itself, or through a reverse proxy whose ``X-Forwarded-Proto`` the WSGI
server is told to trust (waitress: ``trusted_proxy`` and
``trusted_proxy_headers``) — or always with ``SESSION_COOKIE_SECURE = True``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from hub.errors import ConfigError
from hub.private_files import create_private

SESSIONS_FILE_NAME = "console-sessions.sqlite3"
IDLE_SECONDS = 8 * 3600
MAX_SECONDS = 24 * 3600
#: how stale ``last_seen`` may get before a request writes it again (one write per minute, not per request)
_TOUCH_AFTER = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS console_sessions (
    id_sha256 TEXT PRIMARY KEY, user TEXT NOT NULL, fingerprint TEXT NOT NULL,
    created REAL NOT NULL, last_seen REAL NOT NULL);
CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions (user);
"""


def fingerprint(password_hash: str, role: str) -> str:
    """What a session remembers of the user's entry: any change to it ends the session."""
    return hashlib.sha256(f"{password_hash}\0{role}".encode("utf-8")).hexdigest()


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """The console's live logins (see the module docstring), shared through one SQLite file."""

    def __init__(self, path: Path, *, idle_seconds: float = IDLE_SECONDS, max_seconds: float = MAX_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self.idle_seconds, self.max_seconds, self.clock = Path(path), idle_seconds, max_seconds, clock
        self._ready = False

    def open(self, user: str, user_fingerprint: str) -> str:
        """A new session for ``user``; returns its id (for the cookie only: the store keeps its digest)."""
        session_id, now = secrets.token_urlsafe(32), self.clock()
        with self._connect() as db:
            db.execute("DELETE FROM console_sessions WHERE last_seen <= ? OR created <= ?",
                       (now - self.idle_seconds, now - self.max_seconds))
            db.execute("INSERT INTO console_sessions VALUES (?, ?, ?, ?, ?)",
                       (_digest(session_id), user, user_fingerprint, now, now))
        return session_id

    def check(self, session_id: str, user: str, user_fingerprint: str) -> bool:
        """Whether the session is live for ``user`` as they are now; a dead one is deleted."""
        digest, now = _digest(session_id), self.clock()
        with self._connect() as db:
            row = db.execute("SELECT user, fingerprint, created, last_seen FROM console_sessions "
                             "WHERE id_sha256 = ?", (digest,)).fetchone()
            if row is None:
                return False
            live = (row[0] == user and hmac.compare_digest(row[1], user_fingerprint)
                    and now - row[3] < self.idle_seconds and now - row[2] < self.max_seconds)
            if not live:
                db.execute("DELETE FROM console_sessions WHERE id_sha256 = ?", (digest,))
            elif now - row[3] >= _TOUCH_AFTER:
                db.execute("UPDATE console_sessions SET last_seen = ? WHERE id_sha256 = ?", (now, digest))
            return live

    def end(self, session_id: str) -> None:
        """Log this session out, in every copy of its cookie."""
        with self._connect() as db:
            db.execute("DELETE FROM console_sessions WHERE id_sha256 = ?", (_digest(session_id),))

    def end_user(self, user: str) -> int:
        """End every session of ``user`` (new password, new role, removed); returns how many."""
        with self._connect() as db:
            return db.execute("DELETE FROM console_sessions WHERE user = ?", (user,)).rowcount

    def _connect(self) -> _Transaction:
        try:
            if not self._ready:
                create_private(self.path)  # 0600 before SQLite first writes to it
            connection = sqlite3.connect(self.path, timeout=10.0)
            if not self._ready:
                connection.executescript(_SCHEMA)
                self._ready = True
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot use the console session store {self.path}: {exc}") from exc
        return _Transaction(connection, self.path)


class _Transaction:
    """One connection, one transaction; SQLite errors become ConfigError naming the store."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection, self.path = connection, path

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.connection.commit()
            else:
                self.connection.rollback()
        finally:
            self.connection.close()
        if isinstance(error, sqlite3.Error):
            raise ConfigError(f"cannot use the console session store {self.path}: {error}") from error


class TlsAwareCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` set on any cookie sent over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def install_sessions(app: Flask, path: Path) -> SessionStore:
    """Give ``app`` its session store (``path``) and TLS-aware cookies; limits from the app's config."""
    store = SessionStore(path, idle_seconds=float(app.config.get("SESSION_IDLE_SECONDS", IDLE_SECONDS)),
                         max_seconds=float(app.config.get("SESSION_MAX_SECONDS", MAX_SECONDS)))
    # the signed cookie itself expires with the longest possible session too, instead of after 31 days
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=store.max_seconds)
    app.session_interface = TlsAwareCookieSessions()
    app.extensions["rabt_console_sessions"] = store
    return store


def session_store() -> SessionStore:
    """The current app's store."""
    return current_app.extensions["rabt_console_sessions"]
