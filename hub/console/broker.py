"""The console's view of the broker: one guarded transport, and RabbitMQ's management API.

A :class:`~hub.transports.base.Transport` is used by one thread at a time,
while the console's WSGI server answers on several threads; ``BrokerView``
keeps one transport behind a lock, opens it on first use, and drops it after
a failure so a later request reconnects (a broker restart heals by itself).
After a failure it does not try again for ``retry_after`` seconds and answers
with the same error at once: a page asks the broker several times (depths,
readiness, alarms, dead letters), and a broker that accepts connections but
never completes the handshake would otherwise cost each ask its full timeout —
minutes per page while the operator most needs the console. For the same reason
a request does not queue behind another one's connection attempt: while one is
under way the others are answered "connecting" at once (the live overview's
sampler would otherwise hold every page for a handshake timeout every few seconds).

Queue figures come from RabbitMQ's management HTTP API (``/api/queues``) when
it is configured and answers — it knows unacked counts and publish/deliver
rates — and otherwise from ``Transport.queue_stats()`` (passive declares on
RabbitMQ, SQL on the embedded broker).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import RabtError, TransportError
from hub.transports.base import QueueStats, Transport

#: seconds the view answers "unreachable" at once after a failure, before it tries the broker again
RETRY_AFTER = 5.0
#: how often a request waiting for the view looks whether a connection attempt is what holds it
_LOOK_EVERY = 0.1


@dataclass(frozen=True)
class QueueFigures:
    """One work queue as the overview shows it; rates in messages per second or None."""

    stats: QueueStats
    publish_rate: float | None = None
    deliver_rate: float | None = None


class BrokerView:
    """Thread-safe access to one lazily opened transport."""

    def __init__(self, opener: Callable[[], Transport], declare: Callable[[Transport], None] | None = None, *,
                 retry_after: float = RETRY_AFTER, clock: Callable[[], float] = time.monotonic) -> None:
        self._opener = opener
        self._declare = declare
        self._transport: Transport | None = None
        self._lock = threading.RLock()
        self.retry_after, self._clock = retry_after, clock
        self._failed: tuple[float, str] | None = None  # (when, why) of the last failure
        self._connecting = False  # a thread holding the lock is opening the transport

    def run(self, work: Callable[[Transport], object]):
        """``work(transport)`` under the lock; a failure drops the transport and re-raises as TransportError."""
        self._enter()
        try:
            self._refuse_while_resting()
            try:
                if self._transport is None:
                    self._transport = self._open()
                result = work(self._transport)
            except RabtError as exc:
                if isinstance(exc, TransportError):
                    self._fail(str(exc))
                raise
            except Exception as exc:  # noqa: BLE001 - a driver error from any transport
                self._fail(f"broker unreachable: {exc}")
                raise TransportError(f"broker unreachable: {exc}") from exc
            self._failed = None
            return result
        finally:
            self._lock.release()

    def _enter(self) -> None:
        """Take the lock, unless another thread holds it to connect: then say so at once."""
        while not self._lock.acquire(timeout=_LOOK_EVERY):
            if self._connecting:
                raise TransportError("broker unreachable: another request is still connecting to it")

    def _open(self) -> Transport:
        self._connecting = True
        try:
            transport = self._opener()
            if self._declare is not None:
                self._declare(transport)
            return transport
        finally:
            self._connecting = False

    def _refuse_while_resting(self) -> None:
        if self._failed is None or self._transport is not None:
            return
        at, why = self._failed
        left = self.retry_after - (self._clock() - at)
        if left > 0:
            raise TransportError(f"{why} (next try in {left:.0f} s)")

    def _fail(self, why: str) -> None:
        self._drop()
        self._failed = (self._clock(), why)

    def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - it is already broken; closing is best effort
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


class ManagementApi:
    """RabbitMQ's management HTTP API (plugin ``rabbitmq_management``), read-only.

    ``url`` is like ``http://guest:guest@127.0.0.1:15672/``; ``vhost`` defaults to ``/``.
    """

    def __init__(self, url: str, vhost: str = "/", timeout: float = 2.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"management API URL {url!r} must be http(s)://user:password@host:port/")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.vhost, self.timeout = vhost, timeout

    def queues(self) -> list[dict]:
        """Every queue of the vhost, as the API returns it."""
        return self._get(f"/api/queues/{urllib.parse.quote(self.vhost, safe='')}")

    def _get(self, path: str):
        request = urllib.request.Request(self.base + path, headers={"Authorization": self._auth})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - operator's URL
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TransportError(f"RabbitMQ management API at {self.base} failed: {exc}") from exc

    def figures(self, queue_names: list[str]) -> list[QueueFigures]:
        """Figures of ``queue_names`` (work queues; their ``.dlq`` gives dead letters)."""
        return figures_from(self.queues(), queue_names)


def figures_from(listing: list[dict], queue_names: list[str]) -> list[QueueFigures]:
    """Turn a management ``/api/queues`` listing into figures for the named work queues."""
    by_name = {entry.get("name"): entry for entry in listing if isinstance(entry, dict)}
    result = []
    for name in queue_names:
        entry = by_name.get(name)
        if entry is None:
            continue
        dlq = by_name.get(f"{name}.dlq", {})
        stats = entry.get("message_stats") or {}
        result.append(QueueFigures(
            QueueStats(name, int(entry.get("messages_ready", 0)), int(entry.get("messages_unacknowledged", 0)),
                       int(entry.get("consumers", 0)), int(dlq.get("messages", 0))),
            publish_rate=_rate(stats, "publish_details"),
            deliver_rate=_rate(stats, "deliver_get_details"),
        ))
    return result


def _rate(stats: dict, key: str) -> float | None:
    details = stats.get(key)
    return float(details["rate"]) if isinstance(details, dict) and "rate" in details else None
