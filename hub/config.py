"""Settings, built once from the environment and passed in.

Nothing here reads the environment at import time: entry points call
:meth:`Settings.from_env` once and hand the result down, and tests build a
``Settings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hub.errors import ConfigError


@dataclass(frozen=True)
class XmlLimits:
    """Limits applied to every XML document that comes from outside."""

    max_bytes: int = 10 * 1024 * 1024
    """Largest document accepted, in bytes; larger input is refused before parsing."""

    max_depth: int = 64
    """Deepest element nesting accepted; canonical messages need fewer than 10."""


@dataclass(frozen=True)
class Settings:
    """Where the hub keeps its state and which broker and database it uses."""

    home: Path = Path("var")
    """State folder (``RABT_HOME``): PKI, drop folders, embedded databases."""

    broker_url: str = ""
    """Transport URL (``RABT_BROKER_URL``): ``amqp://…`` or ``sqlite:///path``.
    Empty means the embedded SQLite broker under ``home``."""

    database_url: str = ""
    """Message log URL (``RABT_DATABASE_URL``): ``sqlite:///path`` or
    ``postgresql://…``. Empty means SQLite under ``home``."""

    routes_file: Path | None = None
    """Topology and retry policy (``RABT_ROUTES_FILE``); empty means ``routes.toml``
    at the project root."""

    xml_limits: XmlLimits = field(default_factory=XmlLimits)
    """Size and depth limits for outside XML."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``RABT_*`` variables (``os.environ`` by default)."""
        env = os.environ if env is None else env
        home = Path(env.get("RABT_HOME") or "var").expanduser()
        try:
            limits = XmlLimits(
                max_bytes=int(env.get("RABT_XML_MAX_BYTES", XmlLimits.max_bytes)),
                max_depth=int(env.get("RABT_XML_MAX_DEPTH", XmlLimits.max_depth)),
            )
        except ValueError as exc:
            raise ConfigError(f"RABT_XML_MAX_BYTES / RABT_XML_MAX_DEPTH must be integers: {exc}") from exc
        return cls(
            home=home,
            broker_url=env.get("RABT_BROKER_URL", ""),
            database_url=env.get("RABT_DATABASE_URL", ""),
            routes_file=Path(env["RABT_ROUTES_FILE"]) if env.get("RABT_ROUTES_FILE") else None,
            xml_limits=limits,
        )

    @property
    def pki_dir(self) -> Path:
        """Keys, certificates and the trust store."""
        return self.home / "pki"

    @property
    def drop_dir(self) -> Path:
        """Root of the per-agency file drop folders."""
        return self.home / "drop"

    @property
    def effective_broker_url(self) -> str:
        """The broker URL, defaulting to the embedded SQLite broker."""
        return self.broker_url or f"sqlite:///{(self.home / 'broker.sqlite3').resolve()}"

    @property
    def effective_database_url(self) -> str:
        """The message log URL, defaulting to SQLite under ``home``."""
        return self.database_url or f"sqlite:///{(self.home / 'messages.sqlite3').resolve()}"
