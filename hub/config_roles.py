"""The settings sections that say how each role of the hub runs: the gateway's listener and processes
(``[gateway]``), the file-drop watchers (``[watcher]``), the console (``[console]``), the time-stamping
of the log's anchors (``[timestamps]``) and retention (``[retention]``).

Each is a frozen dataclass that checks its own values; :func:`hub.config.load_settings`
reads them into the one :class:`~hub.config.Settings` tree. They are kept apart
from that tree and its reading so :mod:`hub.config` stays about where values
come from. Every field is documented where it is declared, here or there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.errors import ConfigError

SECRET = {"secret": True}
"""Field metadata: the value is masked wherever settings are shown."""


@dataclass(frozen=True)
class GatewaySettings:
    """How ``rabt serve`` runs the SOAP gateway: where it listens and what one client may hold."""

    host: str = "127.0.0.1"
    """Address to listen on (``RABT_GATEWAY_HOST``); behind the TLS proxy, loopback."""

    port: int = 8000
    """Port to listen on (``RABT_GATEWAY_PORT``); 0 picks a free one."""

    processes: int = 0
    """Gateway processes sharing the port (``RABT_GATEWAY_PROCESSES``, ``rabt serve --processes``); 0 means
    one per core. A master process keeps them running."""

    threads: int = 16
    """Request threads per process (``RABT_GATEWAY_THREADS``); ``waiting_replies`` of them may wait on
    request/reply answers, the rest keep serving one-way pushes."""

    waiting_replies: int = 0
    """Request/reply calls (the police's visa check) one process lets wait for their answer at once
    (``RABT_GATEWAY_WAITING_REPLIES``); one more is answered ``Server.Busy`` at once. Fewer than
    ``threads``, so a slow destination cannot take the threads pushes need. 0 (the default): three
    quarters of ``threads``, 12 of 16 — sized from measurement (docs/performance.md, "Visa checks at
    200/s")."""

    connection_limit: int = 1000
    """Open connections per process, all clients together (``RABT_GATEWAY_CONNECTION_LIMIT``)."""

    client_connection_limit: int = 50
    """Open connections from one client address per process (``RABT_GATEWAY_CLIENT_CONNECTION_LIMIT``), so
    one client cannot take every slot; 0 is no limit. Off behind a trusted proxy, whose address every
    connection has: the proxy limits its clients."""

    idle_timeout: float = 15.0
    """Seconds a connection may stay idle, or take to send its first request's head, before it is closed
    (``RABT_GATEWAY_IDLE_TIMEOUT``)."""

    def __post_init__(self) -> None:
        if self.processes < 0 or self.threads < 1 or self.connection_limit < 1:
            raise ConfigError("gateway settings: processes >= 0, threads >= 1, connection_limit >= 1 are required")
        if self.waiting_replies == 0 and self.threads > 1:
            object.__setattr__(self, "waiting_replies", max(1, self.threads * 3 // 4))
        if not 1 <= self.waiting_replies < self.threads:
            raise ConfigError(f"gateway settings: waiting_replies must be at least 1 and below threads "
                              f"({self.threads}), so pushes keep a thread; got {self.waiting_replies}")
        if self.client_connection_limit < 0 or self.idle_timeout <= 0:
            raise ConfigError("gateway settings: client_connection_limit >= 0 and idle_timeout > 0 are required")


@dataclass(frozen=True)
class WatcherSettings:
    """How ``rabt serve`` runs the file-drop watchers."""

    processes: int = 0
    """Watcher processes claiming files from the same drop folders (``RABT_WATCHER_PROCESSES``); 0 means one
    per core. More than one run as children the master keeps running; a file is claimed by an atomic rename,
    so each is taken by exactly one of them."""

    batch_files: int = 128
    """Files of one slice read, checked and stored in one message-log transaction
    (``RABT_WATCHER_BATCH_FILES``): a month of small wage files costs one commit per slice, not per file."""

    def __post_init__(self) -> None:
        if self.processes < 0 or self.batch_files < 1:
            raise ConfigError("watcher settings: processes >= 0 and batch_files >= 1 are required")


@dataclass(frozen=True)
class ConsoleSettings:
    """The operator console: who may log in and how sessions are signed."""

    secret_key: str = field(default="", repr=False, metadata=SECRET)
    """Signs session cookies (``RABT_CONSOLE_SECRET`` or ``RABT_CONSOLE_SECRET_FILE``); empty means a
    random key per process, so sessions end on restart and are not shared between processes."""

    users_file: Path | None = None
    """Users and API tokens (``RABT_CONSOLE_USERS``); empty means ``<home>/console-users.toml``."""

    management_url: str = field(default="", repr=False)
    """RabbitMQ management API for consumer counts (``RABT_RABBITMQ_MANAGEMENT_URL``); empty: not shown."""

    port: int = 8080
    """Port ``rabt serve`` gives the console (``RABT_CONSOLE_PORT``); 0 picks a free one."""

    timezone: str = "Asia/Muscat"
    """IANA zone the console shows times in (``RABT_CONSOLE_TIMEZONE``); UTC stays on hover."""

    sample_seconds: float = 10.0
    """Seconds between two points of the console's rate and depth history (``RABT_CONSOLE_SAMPLE_SECONDS``)."""

    def __post_init__(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"console timezone {self.timezone!r} is not an IANA zone (e.g. Asia/Muscat)") from exc
        if not self.sample_seconds > 0:
            raise ConfigError("console sample_seconds must be more than 0")


@dataclass(frozen=True)
class TimestampSettings:
    """The RFC 3161 time-stamping authority that stamps the message log's anchors (``[timestamps]``)."""

    url: str = field(default="", repr=False)
    """Where queries are POSTed (``RABT_TSA_URL``); empty: anchors are not stamped and no stamper runs."""

    certificate: Path | None = None
    """The TSA's certificate, pinned (``RABT_TSA_CERTIFICATE``, PEM): only tokens it signed are kept or
    verified. Needed with ``url``; ``rabt audit verify`` checks stored tokens against it."""

    interval: float = 60.0
    """Seconds between anchors, and between stamping rounds (``RABT_TSA_INTERVAL``)."""

    max_records: int = 10_000
    """A writer anchors after this many of its records however soon, so one stamp covers at most about
    this many (``RABT_TSA_MAX_RECORDS``)."""

    grace: float = 300.0
    """Seconds the TSA may stay unreachable before ``/readyz`` names it failing (``RABT_TSA_GRACE``); the
    hub keeps accepting messages all along, and stamps the anchors it missed once the TSA is back."""

    timeout: float = 10.0
    """Seconds one request to the TSA may take, connect and read (``RABT_TSA_TIMEOUT``)."""

    def __post_init__(self) -> None:
        if not (self.interval > 0 and self.timeout > 0 and self.grace >= 0 and self.max_records >= 1):
            raise ConfigError("timestamps settings: interval > 0, timeout > 0, grace >= 0, max_records >= 1")
        if self.url and self.certificate is None:
            raise ConfigError("RABT_TSA_URL is set but RABT_TSA_CERTIFICATE (the TSA's pinned certificate) is not")


@dataclass(frozen=True)
class RetentionSettings:
    """Archiving each closed period and purging archived payloads on a schedule (``[retention]``)."""

    folder: Path | None = None
    """Where the archives go (``RABT_RETENTION_FOLDER``); empty: no retention role runs (the commands still do)."""

    period: str = "month"
    """``month`` or ``day``: each closed one is archived once (``RABT_RETENTION_PERIOD``)."""

    keep_days: int = 90
    """Days a period's payloads stay in the log after the period ends, then they are purged (the archive
    holds them); chain records stay for ever (``RABT_RETENTION_KEEP_DAYS``; 0: purge once archived)."""

    encrypt_to: Path | None = None
    """Encrypt each archive for this certificate's holder (``RABT_RETENTION_ENCRYPT_TO``, PEM, RSA)."""

    interval: float = 3600.0
    """Seconds between rounds (``RABT_RETENTION_INTERVAL``); a failed round is tried again sooner."""

    def __post_init__(self) -> None:
        if self.period not in ("month", "day"):
            raise ConfigError(f"retention period {self.period!r}: month or day")
        if not (self.keep_days >= 0 and self.interval > 0):
            raise ConfigError("retention settings: keep_days >= 0, interval > 0")
