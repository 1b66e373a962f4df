"""Routes kept as data: the exchange, one queue per destination, retry policy.

The topology is read from ``routes.toml`` (``RABT_ROUTES_FILE``; the default
ships with the adapters) so adding an agency
is a line in a data file, never an edit here. ``Routes.with_prefix`` renames
the exchange and queues so test runs and tenants never collide on one broker.

Publish/subscribe: ``[subscriptions]`` maps a message type to the
destinations that want it (``WorkerDataCorrected = ["police", "insurance"]``).
The publisher sends one copy per subscriber, each with its own message id and
routing key ``<subscriber>.<type>.<source>`` and all with one correlation id,
rather than binding the subscribers' queues to a shared fan-out key: each copy
then goes through the subscriber's queue, retries and dead letters like any
message to it, is logged on its own, and the trail of that correlation id
shows who was told. Subscribing another agency is a line in routes.toml.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from hub import resources
from hub.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


# Cached: every message stored builds its key (a push two), from a handful of parties and types; a part it
# refuses raises, and nothing is cached for it.
@lru_cache(maxsize=1024)
def routing_key(destination: str, message_type: str, source: str) -> str:
    """The topic routing key ``<destination>.<message_type>.<source>``."""
    parts = (destination, message_type, source)
    for label, value in zip(("destination", "message type", "source"), parts, strict=True):
        if not value or "." in value or "#" in value or "*" in value:
            raise ConfigError(f"routing key part {label}={value!r} must be non-empty, without '.', '#' or '*'")
    return ".".join(parts)


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` is zero or more words."""
    return _match(pattern.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


@dataclass(frozen=True)
class QueueRoute:
    """One work queue and the binding pattern that fills it."""

    name: str
    """Queue name (prefix included)."""

    binding: str
    """Topic pattern bound to the exchange, ``<destination>.#``."""


@dataclass(frozen=True)
class Routes:
    """The whole topology a transport declares, plus the retry policy."""

    exchange: str = "rabt.canonical"
    """Durable topic exchange every canonical message is published to."""

    queues: tuple[QueueRoute, ...] = ()
    """Work queues, one per destination."""

    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    """Seconds before the 2nd, 3rd, ... delivery; the last one repeats."""

    max_attempts: int = 4
    """Deliveries of one message (first included) before it is dead-lettered."""

    subscriptions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Message type → the destinations that receive a copy of each one published."""

    def subscribers(self, message_type: str) -> tuple[str, ...]:
        """The destinations subscribed to ``message_type`` (none: nobody is told)."""
        return dict(self.subscriptions).get(message_type, ())

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not self.retry_delays or any(d < 0 for d in self.retry_delays):
            raise ConfigError(f"retry_delays must be non-negative and not empty, got {self.retry_delays}")

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before delivery number ``attempt`` (2 or more)."""
        return self.retry_delays[min(max(attempt - 2, 0), len(self.retry_delays) - 1)]

    def queue(self, name: str) -> QueueRoute:
        """The route of queue ``name``; ConfigError naming the known ones if absent."""
        for route in self.queues:
            if route.name == name:
                return route
        raise ConfigError(f"unknown queue {name!r}; known: {', '.join(q.name for q in self.queues) or 'none'}")

    def queue_for(self, destination: str) -> str:
        """The queue name that receives messages for ``destination``."""
        for route in self.queues:
            if route.binding == f"{destination}.#":
                return route.name
        raise ConfigError(f"no queue for destination {destination!r}")

    def with_prefix(self, prefix: str) -> Routes:
        """The same topology with ``prefix`` before the exchange and queue names."""
        queues = tuple(QueueRoute(prefix + q.name, q.binding) for q in self.queues)
        return replace(self, exchange=prefix + self.exchange, queues=queues)

    def with_retry(self, delays: tuple[float, ...], max_attempts: int | None = None) -> Routes:
        """The same topology with another retry policy (tests use short delays)."""
        return replace(self, retry_delays=tuple(delays), max_attempts=max_attempts or self.max_attempts)


def load_routes(path: str | Path | None = None) -> Routes:
    """Read ``routes.toml``; a missing file or a bad value is a ConfigError naming it."""
    path = Path(path) if path else resources.default_file("routes")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read routes file {path}: {exc}") from exc
    try:
        return _routes_from(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"routes file {path}: {exc}") from exc


def _routes_from(data: dict) -> Routes:
    destinations = data.get("destinations") or []
    for name in destinations:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"destination {name!r} must be letters, digits, '-' or '_'")
    if len(set(destinations)) != len(destinations):
        raise ValueError("destinations are listed twice")
    routes = Routes(
        exchange=str(data.get("exchange", "rabt.canonical")),
        queues=tuple(QueueRoute(d, f"{d}.#") for d in destinations),
        retry_delays=tuple(float(d) for d in data.get("retry_delays", (1, 5, 30))),
        max_attempts=int(data.get("max_attempts", 4)),
        subscriptions=_subscriptions_from(data.get("subscriptions") or {}, destinations),
    )
    # One broker, several hubs (a staging and a test run, say): the prefix keeps their queues apart.
    prefix = str(data.get("queue_prefix", ""))
    if prefix and not _NAME.match(prefix.rstrip(".")):
        raise ValueError(f"queue_prefix {prefix!r} must be letters, digits, '-', '_' (and a final '.')")
    return routes.with_prefix(prefix) if prefix else routes


def _subscriptions_from(table: dict, destinations: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(table, dict):
        raise ValueError("[subscriptions] must be a table of message type = [destinations]")
    found = []
    for message_type, subscribers in sorted(table.items()):
        if not _NAME.match(message_type) or not isinstance(subscribers, list):
            raise ValueError(f"subscription {message_type!r} must name a message type and list destinations")
        unknown = [s for s in subscribers if s not in destinations]
        if unknown or len(set(subscribers)) != len(subscribers):
            raise ValueError(f"subscribers of {message_type} must be distinct destinations; not one: {unknown}")
        found.append((message_type, tuple(subscribers)))
    return tuple(found)
