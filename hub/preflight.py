"""Start-up checks of the long-running commands: fail in one line that says what to do.

Once running, every role rides out a broker outage (it reconnects and says so
once). At start-up it is different: a broker that refuses connections, a host
name that does not resolve or a refused login is almost always a wrong
setting, and the operator should read that at once — not a minute of retries
and pages of library tracebacks. So ``rabt serve`` and ``rabt worker`` declare
the topology through :func:`declare_topology` first, which waits a short while
for the broker and turns every failure into a :class:`ConfigError` naming the
URL (password masked) and the fix.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from hub.errors import ConfigError, RabtError
from hub.logs import silenced
from hub.redact import redact_url

#: how long start-up waits for the broker (a broker starting next to the hub needs a few seconds)
STARTUP_BROKER_WAIT = 10.0


def declare_topology(hub, wait: float = STARTUP_BROKER_WAIT) -> None:
    """Declare the hub's exchange and queues, or ConfigError in one line if the broker is not usable."""
    url = hub.settings.effective_broker_url
    options = {"reconnect_timeout": wait} if url.startswith("amqp") else {}
    try:  # the transport would log "broker unreachable" too: here the ConfigError says it, once
        with silenced("hub.transports"), hub.open_transport(**options) as transport:
            transport.declare(hub.routes)
    except ConfigError:
        raise
    except (RabtError, OSError) as exc:  # the transport wraps pika's errors; a DNS failure comes raw
        raise ConfigError(broker_failure(exc, url, wait)) from exc


def broker_failure(exc: BaseException, url: str, wait: float) -> str:
    """Why the broker at ``url`` cannot be used, and what to change."""
    shown = redact_url(url)
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, socket.gaierror) for e in chain):
        host = urlsplit(url).hostname or "?"
        return f"broker host {host!r} does not resolve: fix the host in RABT_BROKER_URL ({shown})"
    if "ProbableAuthenticationError" in names or "ACCESS_REFUSED" in text:
        return f"the broker refused the login of {shown}: check the user and password in RABT_BROKER_URL"
    if "ProbableAccessDeniedError" in names or "NOT_ALLOWED" in text:
        return f"the broker refused the virtual host of {shown}: create it or fix the path in RABT_BROKER_URL"
    reason = "connection refused" if "refused" in text.lower() else _short(exc)
    return (f"cannot reach the broker at {shown} ({reason}) within {wait:.0f}s: "
            "start RabbitMQ or fix RABT_BROKER_URL")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes, and the exceptions pika wraps in its arguments."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
        todo += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return seen


def _short(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
