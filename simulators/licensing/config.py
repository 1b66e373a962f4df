"""Settings of the licensing reference system, built once and passed in."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from hub.config import Settings, config_source, load_settings
from hub.configsource import ConfigSource
from hub.errors import AgencyUnavailableError, ConfigError
from simulators.licensing import rules


@dataclass(frozen=True)
class LicensingConfig:
    """Where licensing keeps its data, how it reaches the hub, and its rule policy."""

    home: Path = Path("var")
    """State folder (``RABT_HOME``): the default database and the PKI live here."""

    database_url: str = ""
    """Licensing's own database (``RABT_LICENSING_DATABASE_URL``); empty: SQLite under ``home``."""

    broker_url: str = ""
    """Hub transport (``RABT_BROKER_URL``) used to ask agencies; empty: no hub, every query unanswered."""

    reply_timeout: float = 10.0
    """Seconds to wait for an agency's answer before referring (``RABT_LICENSING_REPLY_TIMEOUT``)."""

    routes_file: Path | None = None
    """The hub's topology file (``RABT_ROUTES_FILE``); empty: the project's routes.toml."""

    policy: rules.Policy = field(default_factory=rules.Policy)
    """Rule thresholds; the income threshold comes from ``RABT_LICENSING_INCOME_THRESHOLD``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LicensingConfig:
        """Build from the hub's settings sources (:func:`hub.config.config_source`): the environment
        (``os.environ`` by default) over rabt.toml, whose ``[licensing]`` table holds this system's own."""
        return cls.from_source(config_source(env), load_settings(env))

    @classmethod
    def from_source(cls, source: ConfigSource, settings: Settings) -> LicensingConfig:
        """The hub's shared settings (home, broker, routes) plus licensing's ``RABT_LICENSING_*`` values."""
        try:
            threshold = Decimal(source.text("RABT_LICENSING_INCOME_THRESHOLD", "income_threshold", "licensing")
                                or "600.000")
        except InvalidOperation as exc:
            raise ConfigError(f"RABT_LICENSING_INCOME_THRESHOLD must be a number: {exc}") from exc
        return cls(home=settings.home, broker_url=settings.broker_url, routes_file=settings.routes_file,
                   database_url=source.secret("RABT_LICENSING_DATABASE_URL", "database_url", "licensing"),
                   reply_timeout=source.number("RABT_LICENSING_REPLY_TIMEOUT", "reply_timeout", float,
                                               cls.reply_timeout, "licensing"),
                   policy=rules.Policy(income_threshold=threshold))

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> LicensingConfig:
        """From a plain dict (``rabt simulate`` style); unknown keys are ignored."""
        known = {k: values[k] for k in ("database_url", "broker_url") if values.get(k)}
        if values.get("home"):
            known["home"] = Path(str(values["home"]))
        try:
            if values.get("reply_timeout") is not None:
                known["reply_timeout"] = float(values["reply_timeout"])
            if values.get("income_threshold") is not None:
                known["policy"] = rules.Policy(income_threshold=Decimal(str(values["income_threshold"])))
        except (InvalidOperation, ValueError) as exc:
            raise ConfigError(f"licensing config: reply_timeout / income_threshold must be numbers: {exc}") from exc
        return cls(**known)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'licensing.sqlite3').resolve()}"

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"


def no_hub(query_type: str, body: etree._Element, destination: str) -> etree._Element:
    """The ``ask`` of a licensing system with no hub configured: nobody answers."""
    raise AgencyUnavailableError(f"no hub configured to ask {destination} ({query_type})", agency=destination)


def no_hub_refer(body: etree._Element) -> str:
    """The ``refer`` of a licensing system with no hub configured: nothing can be sent."""
    raise AgencyUnavailableError("no hub configured to refer complaints to the courts", agency="courts")


def no_hub_notify(body: etree._Element, destination: str, correlation_id: str | None = None) -> str:
    """The ``notify`` of a licensing system with no hub configured: nothing can be sent."""
    raise AgencyUnavailableError(f"no hub configured to notify {destination}", agency=destination)


class HubAsk:
    """Licensing's link to the hub transport: queries (``ask``), referrals (``refer``), notifications (``notify``).

    Opened on first use and used by one thread at a time; everything licensing
    sends is signed with its own key, as the hub's workers verify the asker.
    """

    def __init__(self, config: LicensingConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._ask = self._refer = self._notify = None

    def _open(self) -> None:
        # Imported here: pika and the PKI are only needed once a query is really sent.
        from hub.routing import load_routes
        from hub.signing import TrustStore
        from hub.transports import open_transport
        from simulators.licensing.hub_link import TransportAsk, TransportNotify, hub_verifier, licensing_seal
        from simulators.licensing.referrals import HubReferrals

        transport = open_transport(self.config.broker_url, routes=load_routes(self.config.routes_file))
        seal = licensing_seal(self.config.pki_dir)
        self._ask = TransportAsk(transport, hub_verifier(TrustStore.load(self.config.pki_dir)), seal,
                                 timeout=self.config.reply_timeout)
        self._refer = HubReferrals(transport, seal)
        self._notify = TransportNotify(transport, seal)

    def __call__(self, query_type: str, body: etree._Element, destination: str) -> etree._Element:
        with self._lock:
            if self._ask is None:
                self._open()
            return self._ask(query_type, body, destination)

    def refer(self, body: etree._Element) -> str:
        """Publish a LabourCaseReferral to the courts; the hub message id."""
        with self._lock:
            if self._refer is None:
                self._open()
            return self._refer(body)

    def notify(self, body: etree._Element, destination: str, correlation_id: str | None = None) -> str:
        """Publish a notification (e.g. a TransferCompleted to the police); the hub message id.

        Copies of one event to several subscribers pass one ``correlation_id``.
        """
        with self._lock:
            if self._notify is None:
                self._open()
            return self._notify(body, destination, correlation_id)
