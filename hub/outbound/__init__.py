"""Outbound SOAP: workers that answer canonical queries by calling the agencies.

Knows no agency: each adapter declares its :class:`~hub.adapter.OutboundService`
entries, its mappings and its contracts; this package turns them into a
queue consumer per adapter. It is handed its parts (:class:`WorkerParts`, built
by the wiring in ``hub.bootstrap``) and reaches for nothing else.

    settings = OutboundSettings.from_env(adapters)      # endpoint URLs, timeouts
    worker = build_worker(parts, adapters["police"], settings)
    with parts.open_transport() as transport:
        worker.run(transport, parts.routes.queue_for("police"), stop=stop)

Parts: :mod:`.client` (zeep, one agency service), :mod:`.resilience`
(retries, circuit breakers, :func:`breaker_states`), :mod:`.answers`
(signed, logged answers and canonical Faults), :mod:`.worker` (the handler).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hub.adapter import Adapter
from hub.config import XmlLimits
from hub.errors import ConfigError
from hub.mapping import Mappings
from hub.outage import Watch, keep_consuming
from hub.pipeline import Pipeline
from hub.pipeline_types import AccessPolicy
from hub.routing import Routes
from hub.signing import Verifier
from hub.transports import Transport
from hub.outbound.answers import Answerer
from hub.outbound.client import AgencyClient, AgencySoapFault, AnswerRefusedError
from hub.messagelog.controls import ControlBoard
from hub.outbound.config import OutboundSettings
from hub.outbound.controls import Switchboard
from hub.outbound.resilience import BREAKERS, Breakers, breaker_states
from hub.outbound.asking import SKIP, client_key
from hub.outbound.worker import OutboundWorker

__all__ = [
    "SKIP", "AgencyClient", "AgencySoapFault", "AnswerRefusedError", "Breakers", "OutboundSettings",
    "OutboundWorker", "WorkerParts", "breaker_states", "build_worker", "outbound_adapters", "worker_loops",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerParts:
    """What the outbound workers of one process are built from (the wiring fills it in once)."""

    pipeline: Pipeline
    """The road into the message log: answers are logged and refused answers recorded through it."""

    verifier: Verifier
    mappings: Mappings
    may_send: AccessPolicy
    routes: Routes
    limits: XmlLimits
    open_transport: Callable[[], Transport]
    """A new transport connection (each worker thread opens its own)."""


def build_worker(parts: WorkerParts, adapter: Adapter, settings: OutboundSettings, *,
                 breakers: Breakers = BREAKERS, plugins: Sequence = ()) -> OutboundWorker:
    """A worker for ``adapter`` with one zeep client per declared service (built here, once)."""
    clients: dict[tuple[str, str], AgencyClient] = {}
    for service in adapter.outbound:
        key = client_key(service)
        if key not in clients:
            url = settings.endpoint(service.endpoint_setting, agency=adapter.name)
            clients[key] = AgencyClient(adapter.name, service, adapter.schema_dir, url, settings,
                                        plugins=plugins, limits=parts.limits)
    answerer = Answerer(agency=adapter.name, pipeline=parts.pipeline, reply_window=settings.reply_window)
    return OutboundWorker(adapter, clients, mappings=parts.mappings, verifier=parts.verifier, answerer=answerer,
                          pipeline=parts.pipeline, may_send=parts.may_send, settings=settings,
                          max_attempts=parts.routes.max_attempts, breakers=breakers, limits=parts.limits)


def outbound_adapters(adapters: Mapping[str, Adapter], names: Iterable[str] = ()) -> list[Adapter]:
    """The named adapters (all with outbound services when none are named)."""
    names = list(names)
    unknown = [n for n in names if n not in adapters]
    if unknown:
        raise ConfigError(f"no adapter named {', '.join(unknown)} (installed: {', '.join(sorted(adapters))})")
    chosen = [adapters[n] for n in names] if names else [a for a in adapters.values() if a.outbound]
    idle = [a.name for a in chosen if not a.outbound]
    if idle:
        raise ConfigError(f"adapter(s) {', '.join(idle)} call no agency service (no outbound declared)")
    return chosen


def worker_loops(parts: WorkerParts, adapters: Mapping[str, Adapter], names: Iterable[str] = (), *,
                 env: Mapping[str, str] | None = None,
                 prefetch: int = 2) -> list[tuple[str, Callable[[threading.Event], None]]]:
    """``(adapter name, loop(stop))`` for each outbound worker, ready for a supervisor thread.

    Named adapters must have every endpoint configured (ConfigError naming the
    variable); with no names, adapters whose endpoints are not set are skipped
    with a warning, so ``rabt serve`` runs whatever is configured.
    """
    names = list(names)
    chosen = outbound_adapters(adapters, names)
    settings = OutboundSettings.from_env(chosen, env)
    loops = []
    switchboard = Switchboard(ControlBoard(parts.pipeline.log.engine), BREAKERS)  # one reader per process
    for adapter in chosen:
        missing = [s.endpoint_setting for s in adapter.outbound if s.endpoint_setting not in settings.endpoints]
        if missing and not names:
            log.warning("outbound worker %s not started: set %s", adapter.name, ", ".join(sorted(set(missing))))
            continue
        loops.append((adapter.name, _loop(parts, adapter, settings, prefetch, switchboard)))
    return loops


def _loop(parts: WorkerParts, adapter: Adapter, settings: OutboundSettings, prefetch: int, switchboard: Switchboard):
    worker = build_worker(parts, adapter, settings)  # built now: a bad WSDL or URL fails at start-up
    queue = parts.routes.queue_for(adapter.name)
    switchboard.serve(adapter.name, queue)

    def run(stop: threading.Event) -> None:
        # a broker outage is waited out here, however long: the worker never gives up on its queue;
        # an operator's pause ends the subscription (messages stay queued) until the resume
        watch = Watch(f"worker-{adapter.name}", "broker")
        try:
            with parts.open_transport() as transport:
                while not stop.is_set():
                    switchboard.wait_while_paused(adapter.name, stop)
                    stretch = switchboard.until_paused(adapter.name, stop)
                    log.info("outbound worker %s consuming %s", adapter.name, queue)
                    keep_consuming(transport, lambda: worker.run(transport, queue, stop=stretch, prefetch=prefetch),
                                   stretch, watch)
        finally:
            worker.close()

    return run
