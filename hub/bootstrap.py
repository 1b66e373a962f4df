"""Wires the production defaults in one place; tests pass fakes instead.

The only module that knows every part: the roles (gateway, outbound workers,
file-drop watchers) are built here with the parts they use passed in, and
nothing under ``hub/`` but the command line imports this module.

    hub = bootstrap(Settings.from_env())
    hub.pipeline.accept(inbound, payload)
    app = gateway_app(hub)
    with hub.open_transport() as transport:
        OutboxRelay(hub.log, transport).drain()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from hub.access import AccessRights
from hub.adapter import Adapter
from hub.config import Settings
from hub.ledger import DisclosureLedger
from hub.mapping import Mappings
from hub.messagelog import GroupCommitter, MessageLog, open_message_log
from hub.messagelog.anchors import AnchorPolicy
from hub.pipeline import Pipeline
from hub.refusals import RefusalBudget
from hub.registry import adapter_names, load_adapter
from hub.routing import Routes, load_routes
from hub.signing import Signer, TrustStore, Verifier
from hub.transports import Transport, open_transport

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """The hub's parts, built once per process and shared by its roles."""

    settings: Settings
    trust_store: TrustStore
    log: MessageLog
    mappings: Mappings = field(default_factory=Mappings)
    access: AccessRights = field(default_factory=AccessRights.load)
    routes: Routes | None = None
    refusal_budget: RefusalBudget = field(default_factory=RefusalBudget)
    """How many refusal records one source may add to the log (beyond it: counted, summarised)."""
    closing: list[Callable[[], None]] = field(default_factory=list, repr=False)
    """What the roles built on this hub keep open (the gateway's request connections): closed first by close()."""

    def __post_init__(self) -> None:
        if self.routes is None:
            self.routes = load_routes(self.settings.routes_file)

    @cached_property
    def signer(self) -> Signer:
        return Signer(self.trust_store.hub)

    @cached_property
    def ledger(self) -> DisclosureLedger:
        """Workers' signed disclosure reports (``rabt ledger``, the console's ledger page and API)."""
        return DisclosureLedger(self.log, self.signer)

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self.trust_store)

    @cached_property
    def committer(self) -> GroupCommitter:
        """Concurrent writers of :attr:`log` in this process (gateway threads) share commits through it."""
        return GroupCommitter(self.log)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(mappings=self.mappings, signer=self.signer, verifier=self.verifier, log=self.log,
                        may_send=self.access, projections=self.access.projection, committer=self.committer,
                        legal_basis=self.access.basis,
                        limits=self.settings.xml_limits, refusal_budget=self.refusal_budget)

    @cached_property
    def adapters(self) -> dict[str, Adapter]:
        """Every installed adapter, by name (entry points ``rabt.adapters``)."""
        return {name: load_adapter(name) for name in adapter_names()}

    def open_transport(self, **options) -> Transport:
        """A new transport connection (each thread or process opens its own)."""
        return open_transport(self.settings.effective_broker_url, routes=self.routes, **options)

    def close(self) -> None:
        """Close what roles kept open, write the refusal summaries due, finish pending commits, release the log."""
        while self.closing:
            self.closing.pop()()
        if "pipeline" in self.__dict__:  # built on first use (cached_property)
            self.pipeline.refusals.flush()
        if "committer" in self.__dict__:
            self.committer.close()
        self.log.close()


def bootstrap(settings: Settings | None = None, *, log: MessageLog | None = None,
              trust_store: TrustStore | None = None, **parts) -> Hub:
    """Build the hub from settings; any part can be given ready-made (tests, benchmarks)."""
    settings = settings or Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    parts.setdefault("access", AccessRights.load(settings.access_file))
    return Hub(
        settings=settings,
        trust_store=trust_store or TrustStore.load(settings.pki_dir),
        log=log or open_message_log(settings.effective_database_url, anchoring=anchor_policy(settings)),
        **parts,
    )


def anchor_policy(settings: Settings) -> AnchorPolicy:
    """Anchors as often as the TSA stamps them, and at most ``max_records`` records apart."""
    return AnchorPolicy(every_seconds=settings.timestamps.interval, every_records=settings.timestamps.max_records)


# -- the roles, each given the parts it uses ---------------------------------------------------


def gateway_app(hub: Hub, config: dict | None = None):
    """The SOAP gateway (a Flask app) over ``hub``'s pipeline and adapters."""
    from hub.gateway import create_app
    from hub.transports import transport_class

    pooled = transport_class(hub.settings.effective_broker_url).capabilities.request_pool
    app = create_app(hub.pipeline, hub.adapters, mappings=hub.mappings, limits=hub.settings.xml_limits,
                     open_transport=hub.open_transport, config=config, request_pool=pooled)
    hub.closing.append(app.extensions["rabt.askers"].close)
    return app


def worker_parts(hub: Hub):
    """What ``hub``'s outbound workers are built from (:class:`hub.outbound.WorkerParts`)."""
    from hub.outbound import WorkerParts

    return WorkerParts(pipeline=hub.pipeline, verifier=hub.verifier, mappings=hub.mappings, may_send=hub.access,
                       routes=hub.routes, limits=hub.settings.xml_limits, open_transport=hub.open_transport)


def outbound_worker_loops(hub: Hub, names: Iterable[str] = (), *, env: Mapping[str, str] | None = None,
                          prefetch: int = 2) -> list[tuple[str, Callable[[threading.Event], None]]]:
    """``(adapter name, loop(stop))`` per outbound worker (see :func:`hub.outbound.worker_loops`)."""
    from hub.outbound import worker_loops

    return worker_loops(worker_parts(hub), hub.adapters, names, env=env, prefetch=prefetch)


def receipts_loops(hub: Hub) -> list[tuple[str, Callable[[threading.Event], None]]]:
    """``[("receipts", loop(stop))]``: delivery receipts from the hub's own queue into the log (:mod:`hub.receipts`).

    None when the routes give the hub no queue of its own (an older routes.toml): said once, in the log.
    """
    from hub.errors import ConfigError
    from hub.receipts import HUB, receipts_loop

    try:
        queue = hub.routes.queue_for(HUB)
    except ConfigError:
        log.warning("routes name no %r destination: delivery receipts are not taken "
                    "(add it to routes.toml's destinations)", HUB)
        return []
    return [("receipts", receipts_loop(hub.pipeline, hub.open_transport, queue, hub.routes.max_attempts))]


def watcher_loops(hub: Hub, *, interval: float = 0.5) -> list[tuple[str, Callable[[threading.Event], None]]]:
    """``[("watcher", loop(stop))]``: the file-drop watcher over every adapter that declares drops."""
    from hub.filedrop import watcher_loop

    return [("watcher", watcher_loop(hub.settings, hub.pipeline, interval=interval,
                                     batch_files=hub.settings.watcher.batch_files))]


def console_app(hub: Hub, config: dict | None = None, **parts):
    """The operator console's Flask app over this hub's parts.

    Keyword arguments replace fields of :class:`hub.console.ConsoleParts`
    (``users``, ``management_url``, ``breaker_states``, ``open_transport``,
    ``actions_file``...); ``config`` is the app's (``SECRET_KEY``, ``REFRESH_SECONDS``).
    """
    from dataclasses import replace

    from hub.console import ConsoleParts, create_app
    from hub.console.history import HISTORY_FILE_NAME
    from hub.console.sessions import SESSIONS_FILE_NAME
    from hub.console.users import Users, users_path
    from hub.transports import transport_class

    url = hub.settings.effective_broker_url
    # a console request should fail in seconds when the broker is down, not after a minute
    quick = {"reconnect_timeout": 3.0} if transport_class(url).capabilities.reconnect_timeout else {}
    signing = getattr(hub.trust_store, "hub", None) is not None
    users_file = users_path(hub.settings.home, hub.settings.console.users_file)
    defaults = ConsoleParts(
        log=hub.log, verifier=hub.verifier, routes=hub.routes, open_transport=lambda: hub.open_transport(**quick),
        broker_kind=url.split(":", 1)[0], adapters=lambda: hub.adapters,
        signing_key_loaded=signing,
        users=parts.get("users") or Users.load(users_file),
        # users given by the caller stay as given; the installation's file is watched for changes
        users_file=None if parts.get("users") else users_file,
        management_url=hub.settings.console.management_url or None,
        actions_file=hub.settings.home / "console-actions.jsonl",
        sessions_file=hub.settings.home / SESSIONS_FILE_NAME, history_file=hub.settings.home / HISTORY_FILE_NAME,
        sample_seconds=hub.settings.console.sample_seconds, timestamps_expected=bool(hub.settings.timestamps.url),
        retention=hub.settings.retention if hub.settings.retention.folder else None,
        ledger=hub.ledger if signing else None)  # without the hub's key no report can be signed: 503
    config = {"SECRET_KEY": hub.settings.console.secret_key or None, "TIMEZONE": hub.settings.console.timezone,
              **(config or {})}
    return create_app(replace(defaults, **parts), config)


def stamper_loop(hub: Hub) -> Callable[[threading.Event], None] | None:
    """The stamper's loop (:mod:`hub.stamping`) over the configured TSA; None when no TSA is configured."""
    from hub.stamping import Stamper
    from hub.timestamps import load_tsa_certificate

    timestamps = hub.settings.timestamps
    if not timestamps.url:
        return None
    return Stamper(hub.log.engine, timestamps, load_tsa_certificate(timestamps.certificate)).run


def retention_loop(hub: Hub) -> Callable[[threading.Event], None] | None:
    """The retention role's loop (:mod:`hub.retention`); None when no archive folder is configured."""
    from hub.retention import Retention
    from hub.timestamps import load_tsa_certificate

    settings = hub.settings
    if settings.retention.folder is None:
        return None
    tsa = settings.timestamps
    return Retention(hub.log, hub.signer, settings.retention, wait_for_stamps=bool(tsa.url),
                     tsa_certificate=load_tsa_certificate(tsa.certificate) if tsa.certificate else None).run
