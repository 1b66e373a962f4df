"""Settings of the outbound SOAP workers, built once and passed in (STYLE 7).

Endpoint URLs come from the environment variable each
:class:`~hub.adapter.OutboundService` names (``endpoint_setting``); they are
read by :meth:`OutboundSettings.from_env` when a worker is built, never at
import time, so tests build an ``OutboundSettings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hub.adapter import Adapter
from hub.errors import ConfigError

_NUMBERS = {
    "RABT_OUTBOUND_TIMEOUT": ("call_timeout", float),
    "RABT_OUTBOUND_ATTEMPTS": ("attempts", int),
    "RABT_OUTBOUND_BACKOFF": ("backoff", float),
    "RABT_OUTBOUND_BREAKER_FAILURES": ("breaker_failures", int),
    "RABT_OUTBOUND_BREAKER_RESET": ("breaker_reset", float),
    "RABT_OUTBOUND_REPLY_WINDOW": ("reply_window", float),
}


@dataclass(frozen=True)
class OutboundSettings:
    """How the hub calls agencies: where, how long to wait, how often to retry."""

    endpoints: Mapping[str, str] = field(default_factory=dict)
    """``endpoint_setting`` name → service URL, e.g. ``RABT_POLICE_CIVIL_REGISTRY_URL``."""

    call_timeout: float = 10.0
    """Seconds one HTTP call to an agency may take (connect and read)."""

    attempts: int = 3
    """Calls of one agency operation per delivery before giving up (first included)."""

    backoff: float = 0.2
    """Seconds before the 2nd call; doubles for each further call (capped at ``max_backoff``)."""

    max_backoff: float = 5.0
    """Longest pause between two calls within one delivery."""

    breaker_failures: int = 5
    """Consecutive failed calls of one agency service that open its circuit."""

    breaker_reset: float = 30.0
    """Seconds an open circuit waits before letting one trial call through (half-open)."""

    reply_window: float = 30.0
    """Answers to queries older than this (seconds) are also queued to the asker: it has
    probably stopped waiting on its reply queue."""

    def __post_init__(self) -> None:
        if self.call_timeout <= 0 or self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ConfigError("outbound settings: call_timeout > 0, attempts >= 1, backoff >= 0 are required")
        if self.breaker_failures < 1 or self.breaker_reset < 0 or self.reply_window < 0:
            raise ConfigError("outbound settings: breaker_failures >= 1, breaker_reset and reply_window >= 0")

    @classmethod
    def from_env(cls, adapters: Iterable[Adapter], env: Mapping[str, str] | None = None) -> OutboundSettings:
        """Read each adapter's endpoint variables and the ``RABT_OUTBOUND_*`` tuning knobs."""
        env = os.environ if env is None else env
        names = {service.endpoint_setting for adapter in adapters for service in adapter.outbound}
        endpoints = {name: env[name] for name in sorted(names) if env.get(name)}
        tuning = {}
        for variable, (attribute, kind) in _NUMBERS.items():
            if env.get(variable):
                try:
                    tuning[attribute] = kind(env[variable])
                except ValueError as exc:
                    raise ConfigError(f"{variable} must be a {kind.__name__}: {exc}") from exc
        return cls(endpoints=endpoints, **tuning)

    def endpoint(self, setting: str, *, agency: str) -> str:
        """The URL configured under ``setting``; ConfigError naming the variable if unset."""
        url = self.endpoints.get(setting)
        if not url:
            raise ConfigError(f"no endpoint for {agency}: set {setting} to the service URL", agency=agency)
        return url
