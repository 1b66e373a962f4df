"""The hub behind a reverse proxy: which forwarded headers it believes.

A TLS-terminating proxy (``deploy/nginx``) connects from its own address, so
without help every partner would look like the proxy. ``X-Forwarded-For`` and
``X-Forwarded-Proto`` are believed only for a configured number of hops, since a
client can send those headers too; the host is never taken from a request.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app: Flask, hops: int) -> Flask:
    """Believe ``hops`` reverse proxies' ``X-Forwarded-For``/``-Proto`` (none when 0).

    Only the client address (logs, per-client limits) and the scheme come from
    them; the host never does, so a forged ``X-Forwarded-Host`` changes nothing.
    """
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    return app
