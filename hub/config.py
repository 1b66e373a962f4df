"""Settings: one tree, read in one place and passed to the parts.

Values come from an optional ``rabt.toml`` and the environment, the
environment winning, so a deployment keeps its file and an operator overrides
one value for one run. The file is ``$RABT_CONFIG`` when that is set (it must
then exist), else ``rabt.toml`` in the current folder if there is one.

A secret (a password inside a URL, the console's signing key) can be given by
file reference instead: ``RABT_BROKER_URL_FILE`` in the environment, or
``broker_url_file = "/run/secrets/broker"`` in the file. Secrets are never in
a ``repr``; ``rabt config show`` prints them masked (fields marked
:data:`~hub.config_roles.SECRET`, and the password of every URL).

The sections that say how each role runs (the gateway's listener, the
watchers, the console, time-stamping, retention) are declared in
:mod:`hub.config_roles`; this module holds the tree, its reading, and the two
sections messages meet wherever they go: the limits of outside XML and how
the hub calls agencies (whose ``from_env`` reads the settings itself).

Nothing here reads the environment at import time: entry points call
:func:`load_settings` once and hand the result down, and tests build a
``Settings`` directly. This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hub.config_roles import ConsoleSettings, GatewaySettings, RetentionSettings, TimestampSettings, WatcherSettings
from hub.configsource import ConfigSource, read_source
from hub.errors import ConfigError

CONFIG_FILE_NAME = "rabt.toml"
#: environment variables holding a URL that are the hub's own, not an agency endpoint
OWN_URLS = frozenset({"RABT_BROKER_URL", "RABT_DATABASE_URL", "RABT_PUBLIC_URL", "RABT_RABBITMQ_MANAGEMENT_URL",
                      "RABT_LICENSING_DATABASE_URL", "RABT_TEST_AMQP_URL", "RABT_TSA_URL"})


@dataclass(frozen=True)
class XmlLimits:
    """Limits applied to every XML document that comes from outside."""

    max_bytes: int = 10 * 1024 * 1024
    """Largest document accepted, in bytes (``RABT_XML_MAX_BYTES``); larger input is refused before parsing."""

    max_depth: int = 64
    """Deepest element nesting accepted (``RABT_XML_MAX_DEPTH``); canonical messages need fewer than 10."""



@dataclass(frozen=True)
class OutboundSettings:
    """How the hub calls agencies: where, how long to wait, how often to retry."""

    endpoints: Mapping[str, str] = field(default_factory=dict)
    """``endpoint_setting`` name → service URL, e.g. ``RABT_POLICE_CIVIL_REGISTRY_URL`` (the environment
    variable of that name, or the same key under ``[outbound.endpoints]`` in rabt.toml)."""

    call_timeout: float = 10.0
    """Seconds one HTTP call to an agency may take, connect and read (``RABT_OUTBOUND_TIMEOUT``)."""

    attempts: int = 3
    """Calls of one agency operation per delivery before giving up, first included (``RABT_OUTBOUND_ATTEMPTS``)."""

    backoff: float = 0.2
    """Seconds before the 2nd call (``RABT_OUTBOUND_BACKOFF``); doubles for each further call up to ``max_backoff``."""

    max_backoff: float = 5.0
    """Longest pause between two calls within one delivery (``RABT_OUTBOUND_MAX_BACKOFF``)."""

    breaker_failures: int = 5
    """Consecutive failed calls of one agency service that open its circuit (``RABT_OUTBOUND_BREAKER_FAILURES``)."""

    breaker_reset: float = 30.0
    """Seconds an open circuit waits before one trial call goes through (``RABT_OUTBOUND_BREAKER_RESET``)."""

    reply_window: float = 30.0
    """Answers to queries older than this many seconds are also queued to the asker, which has probably
    stopped waiting on its reply queue (``RABT_OUTBOUND_REPLY_WINDOW``)."""

    def __post_init__(self) -> None:
        if self.call_timeout <= 0 or self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ConfigError("outbound settings: call_timeout > 0, attempts >= 1, backoff >= 0 are required")
        if self.breaker_failures < 1 or self.breaker_reset < 0 or self.reply_window < 0:
            raise ConfigError("outbound settings: breaker_failures >= 1, breaker_reset and reply_window >= 0")

    @classmethod
    def from_env(cls, adapters: Iterable[Any], env: Mapping[str, str] | None = None) -> OutboundSettings:
        """The outbound part of :func:`load_settings`, narrowed to these adapters' endpoints."""
        return load_settings(env).outbound.for_adapters(adapters)

    def for_adapters(self, adapters: Iterable[Any]) -> OutboundSettings:
        """These settings with only the endpoints the given adapters name."""
        names = {service.endpoint_setting for adapter in adapters for service in adapter.outbound}
        return replace(self, endpoints={name: url for name, url in sorted(self.endpoints.items()) if name in names})

    def endpoint(self, setting: str, *, agency: str) -> str:
        """The URL configured under ``setting``; ConfigError naming the variable if unset."""
        url = self.endpoints.get(setting)
        if not url:
            raise ConfigError(f"no endpoint for {agency}: set {setting} to the service URL", agency=agency)
        return url



@dataclass(frozen=True)
class Settings:
    """Where the hub keeps its state, which broker and database it uses, and how each part runs."""

    home: Path = Path("var")
    """State folder (``RABT_HOME``): PKI, drop folders, embedded databases."""

    broker_url: str = field(default="", repr=False)
    """Transport URL (``RABT_BROKER_URL`` or ``RABT_BROKER_URL_FILE``): ``amqp://…`` or ``sqlite:///path``.
    Empty means the embedded SQLite broker under ``home``."""

    database_url: str = field(default="", repr=False)
    """Message log URL (``RABT_DATABASE_URL`` or ``RABT_DATABASE_URL_FILE``): ``sqlite:///path`` or
    ``postgresql://…``. Empty means SQLite under ``home``."""

    routes_file: Path | None = None
    """Topology and retry policy (``RABT_ROUTES_FILE``); empty means the routes.toml shipped with the adapters."""

    access_file: Path | None = None
    """Who may send which message type (``RABT_ACCESS_FILE``); empty means the access.toml shipped with the
    adapters."""

    public_url: str = ""
    """Base URL partners reach the gateway at (``RABT_PUBLIC_URL``), e.g. ``https://hub.example.gov``: the
    addresses in served WSDLs. Empty means the address the request came in on, for development only."""

    trusted_proxy_hops: int = 0
    """Reverse proxies in front of the hub whose ``X-Forwarded-*`` headers are believed
    (``RABT_TRUSTED_PROXY_HOPS``); 0 believes none."""

    xml_limits: XmlLimits = field(default_factory=XmlLimits)
    """Size and depth limits for outside XML (``[xml_limits]``)."""

    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    """The SOAP gateway's listener, processes and connection limits (``[gateway]``)."""

    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    """The operator console (``[console]``)."""

    watcher: WatcherSettings = field(default_factory=WatcherSettings)
    """The file-drop watchers (``[watcher]``)."""

    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    """Calls to agencies (``[outbound]``)."""

    timestamps: TimestampSettings = field(default_factory=TimestampSettings)
    """The time-stamping authority for the log's anchors (``[timestamps]``)."""

    retention: RetentionSettings = field(default_factory=RetentionSettings)
    """Scheduled archives and purges (``[retention]``)."""

    config_file: Path | None = None
    """The rabt.toml these settings were read from, if any (``RABT_CONFIG``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The same as :func:`load_settings` (kept for existing callers)."""
        return load_settings(env)

    @property
    def pki_dir(self) -> Path:
        """Keys, certificates and the trust store."""
        return self.home / "pki"

    @property
    def drop_dir(self) -> Path:
        """Root of the per-agency file drop folders."""
        return self.home / "drop"

    @property
    def console_users_file(self) -> Path:
        """The console's users file, defaulting to ``<home>/console-users.toml``."""
        return self.console.users_file or self.home / "console-users.toml"

    @property
    def effective_broker_url(self) -> str:
        """The broker URL, defaulting to the embedded SQLite broker."""
        return self.broker_url or f"sqlite:///{(self.home / 'broker.sqlite3').resolve()}"

    @property
    def effective_database_url(self) -> str:
        """The message log URL, defaulting to SQLite under ``home``."""
        return self.database_url or f"sqlite:///{(self.home / 'messages.sqlite3').resolve()}"


def config_source(env: Mapping[str, str] | None = None) -> ConfigSource:
    """The environment (``os.environ`` by default) over the rabt.toml it points to, if any."""
    env = os.environ if env is None else env
    named = env.get("RABT_CONFIG")
    if named:
        return read_source(env, Path(named).expanduser(), required=True)
    local = Path(CONFIG_FILE_NAME).resolve()
    return read_source(env, local if local.is_file() else None, required=False)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings tree from the environment and rabt.toml; ConfigError naming a bad value."""
    source = config_source(env)
    return Settings(
        home=Path(source.text("RABT_HOME", "home") or "var").expanduser(),
        broker_url=source.secret("RABT_BROKER_URL", "broker_url"),
        database_url=source.secret("RABT_DATABASE_URL", "database_url"),
        routes_file=source.path("RABT_ROUTES_FILE", "routes_file"),
        access_file=source.path("RABT_ACCESS_FILE", "access_file"),
        public_url=source.text("RABT_PUBLIC_URL", "public_url").rstrip("/"),
        trusted_proxy_hops=source.number("RABT_TRUSTED_PROXY_HOPS", "trusted_proxy_hops", int, 0),
        xml_limits=source.group(XmlLimits, "xml_limits", "RABT_XML_"),
        gateway=source.group(GatewaySettings, "gateway", "RABT_GATEWAY_"),
        console=_console(source),
        watcher=source.group(WatcherSettings, "watcher", "RABT_WATCHER_"),
        outbound=_outbound(source),
        timestamps=_timestamps(source),
        retention=_retention(source),
        config_file=source.path_of_file,
    )


def _console(source: ConfigSource) -> ConsoleSettings:
    return ConsoleSettings(
        secret_key=source.secret("RABT_CONSOLE_SECRET", "secret_key", section="console"),
        users_file=source.path("RABT_CONSOLE_USERS", "users_file", section="console"),
        management_url=source.secret("RABT_RABBITMQ_MANAGEMENT_URL", "management_url", section="console"),
        port=source.number("RABT_CONSOLE_PORT", "port", int, ConsoleSettings.port, section="console"),
        timezone=source.text("RABT_CONSOLE_TIMEZONE", "timezone", section="console") or ConsoleSettings.timezone,
        sample_seconds=source.number("RABT_CONSOLE_SAMPLE_SECONDS", "sample_seconds", float,
                                     ConsoleSettings.sample_seconds, section="console"),
    )


def _outbound(source: ConfigSource) -> OutboundSettings:
    endpoints = dict(source.table("outbound", "endpoints"))
    endpoints.update({name: url for name, url in source.env.items()
                      if name.startswith("RABT_") and name.endswith("_URL") and name not in OWN_URLS and url})
    tuning = source.group(OutboundSettings, "outbound", "RABT_OUTBOUND_", skip=("endpoints",),
                          env_names={"call_timeout": "RABT_OUTBOUND_TIMEOUT"})
    return replace(tuning, endpoints={str(k): str(v) for k, v in sorted(endpoints.items())})


def _timestamps(source: ConfigSource) -> TimestampSettings:
    tuning = source.group(TimestampSettings, "timestamps", "RABT_TSA_", skip=("url", "certificate"))
    return replace(tuning, url=source.text("RABT_TSA_URL", "url", section="timestamps"),
                   certificate=source.path("RABT_TSA_CERTIFICATE", "certificate", section="timestamps"))


def _retention(source: ConfigSource) -> RetentionSettings:
    tuning = source.group(RetentionSettings, "retention", "RABT_RETENTION_", skip=("folder", "encrypt_to"))
    return replace(tuning, folder=source.path("RABT_RETENTION_FOLDER", "folder", section="retention"),
                   encrypt_to=source.path("RABT_RETENTION_ENCRYPT_TO", "encrypt_to", section="retention"))
