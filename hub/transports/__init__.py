"""Transports by URL scheme, imported lazily (pika loads only for ``amqp``).

    open_transport("amqp://guest:guest@127.0.0.1:5672/")
    open_transport("sqlite:////var/rabt/broker.sqlite3")
"""

from __future__ import annotations

import difflib
import importlib
from urllib.parse import urlsplit

from hub.errors import ConfigError
from hub.transports.base import (
    Administration,
    Capabilities,
    DeadLetter,
    Delivery,
    Message,
    MessagePath,
    QueueStats,
    Transport,
)

__all__ = ["TRANSPORTS", "Administration", "Capabilities", "DeadLetter", "Delivery", "Message", "MessagePath",
           "QueueStats", "Transport", "open_transport", "resolve", "transport_class"]

#: URL scheme → "module:class", resolved on first use
TRANSPORTS = {
    "amqp": "hub.transports.amqp:AmqpTransport",
    "amqps": "hub.transports.amqp:AmqpTransport",
    "sqlite": "hub.transports.sqlite:SqliteTransport",
}


def resolve(scheme: str) -> type[Transport]:
    """The transport class for ``scheme``; ConfigError with a suggestion if unknown."""
    try:
        spec = TRANSPORTS[scheme]
    except KeyError:
        close = difflib.get_close_matches(scheme, TRANSPORTS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown transport {scheme!r} (known: {', '.join(sorted(TRANSPORTS))}){hint}") from None
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def transport_class(url: str) -> type[Transport]:
    """The class serving ``url``; ask its ``capabilities`` instead of testing the scheme."""
    scheme = urlsplit(url).scheme.lower() if url else ""
    if not scheme:
        raise ConfigError(f"broker URL {url!r} has no scheme (amqp://… or sqlite:///…)")
    return resolve(scheme)


def open_transport(url: str, **opts) -> Transport:
    """Open the transport named by ``url``'s scheme; ``opts`` go to its constructor."""
    return transport_class(url)(url, **opts)
