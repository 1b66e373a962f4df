"""Wires the production defaults in one place (STYLE 1); tests pass fakes instead.

    hub = bootstrap(Settings.from_env())
    hub.pipeline.accept(inbound, payload)
    with hub.open_transport() as transport:
        OutboxRelay(hub.log, transport).drain()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from hub.access import AccessRights
from hub.adapter import Adapter
from hub.config import Settings
from hub.mapping import Mappings
from hub.messagelog import GroupCommitter, MessageLog, open_message_log
from hub.pipeline import Pipeline
from hub.registry import adapter_names, load_adapter
from hub.routing import Routes, load_routes
from hub.signing import Signer, TrustStore, Verifier
from hub.transports import Transport, open_transport


@dataclass
class Hub:
    """The hub's parts, built once per process and shared by its roles."""

    settings: Settings
    trust_store: TrustStore
    log: MessageLog
    mappings: Mappings = field(default_factory=Mappings)
    access: AccessRights = field(default_factory=AccessRights.load)
    routes: Routes | None = None

    def __post_init__(self) -> None:
        if self.routes is None:
            self.routes = load_routes(self.settings.routes_file)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.trust_store.hub)

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self.trust_store)

    @cached_property
    def committer(self) -> GroupCommitter:
        """Concurrent writers of :attr:`log` in this process (gateway threads) share commits through it."""
        return GroupCommitter(self.log)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(mappings=self.mappings, signer=self.signer, verifier=self.verifier,
                        log=self.log, may_send=self.access, committer=self.committer)

    @cached_property
    def adapters(self) -> dict[str, Adapter]:
        """Every installed adapter, by name (entry points ``rabt.adapters``)."""
        return {name: load_adapter(name) for name in adapter_names()}

    def open_transport(self, **options) -> Transport:
        """A new transport connection (each thread or process opens its own)."""
        return open_transport(self.settings.effective_broker_url, routes=self.routes, **options)

    def close(self) -> None:
        if "committer" in self.__dict__:  # built on first use (cached_property)
            self.committer.close()
        self.log.close()


def bootstrap(settings: Settings | None = None, *, log: MessageLog | None = None,
              trust_store: TrustStore | None = None, **parts) -> Hub:
    """Build the hub from settings; any part can be given ready-made (tests, benchmarks)."""
    settings = settings or Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    return Hub(
        settings=settings,
        trust_store=trust_store or TrustStore.load(settings.pki_dir),
        log=log or open_message_log(settings.effective_database_url),
        **parts,
    )


def console_app(hub: Hub, config: dict | None = None, **parts):
    """The operator console's Flask app over this hub's parts.

    Keyword arguments replace fields of :class:`hub.console.ConsoleParts`
    (``users``, ``management_url``, ``breaker_states``, ``open_transport``,
    ``actions_file``...); ``config`` is the app's (``SECRET_KEY``, ``REFRESH_SECONDS``).
    """
    from dataclasses import replace

    from hub.console import ConsoleParts, create_app
    from hub.console.users import Users, users_path
    from hub.transports import transport_class

    url = hub.settings.effective_broker_url
    # a console request should fail in seconds when the broker is down, not after a minute
    quick = {"reconnect_timeout": 3.0} if transport_class(url).capabilities.reconnect_timeout else {}
    defaults = ConsoleParts(
        log=hub.log, verifier=hub.verifier, routes=hub.routes, open_transport=lambda: hub.open_transport(**quick),
        broker_kind=url.split(":", 1)[0], adapters=lambda: hub.adapters,
        signing_key_loaded=getattr(hub.trust_store, "hub", None) is not None,
        users=parts.get("users") or Users.load(users_path(hub.settings.home)),
        actions_file=hub.settings.home / "console-actions.jsonl")
    return create_app(replace(defaults, **parts), config)
