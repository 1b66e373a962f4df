"""The outbox relay: publish what the message log stored, then mark it published.

The pipeline never publishes directly. It stores the signed envelope and an
outbox row in one transaction (:meth:`MessageLog.accept`); this relay reads
the outbox in batches, publishes each batch with one pipelined, confirmed
``publish()`` call, and only then marks the batch published. So:

* broker down → the rows stay in the outbox; nothing is lost, the relay
  backs off and tries again;
* crash after the broker confirmed but before ``mark_published`` → the batch
  is published again on restart: at-least-once, and consumers are idempotent
  (:mod:`hub.idempotency`), never a loss.

The relay also moves dead letters off the broker into the hub's database every
few seconds (:mod:`hub.deadletters`), so they are kept, and their
``dead-lettered`` hop is in the trail, even when no operator looks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from hub import metrics
from hub.deadletters import DeadLetterDesk, DeadLetterStore
from hub.errors import MessageLogError, PublishError, RabtError, TransportError
from hub.messagelog import Accepted, MessageLog, PendingMessage, StoredMessage
from hub.outage import Pause, Watch
from hub.transports.base import Message, Transport

log = logging.getLogger(__name__)


def to_message(pending: PendingMessage | Accepted | StoredMessage) -> Message:
    """The transport message for a logged envelope (pending, just accepted, or read back)."""
    return Message(
        body=pending.envelope,
        routing_key=pending.routing_key,
        message_id=pending.message_id,
        correlation_id=pending.correlation_id,
        headers={"message-type": pending.message_type, "source-agency": pending.source_agency},
    )


def unconfirmed_ids(exc: TransportError, ids: list[str]) -> set[str]:
    """Which of ``ids`` the failed publish did not deliver.

    A PublishError names them (``failed_ids``); the rest of the batch was
    confirmed. Any other failure, or one naming none of them, means nothing is
    known to be delivered.
    """
    if isinstance(exc, PublishError):
        named = set(exc.failed_ids) & set(ids)
        if named:
            return named
    return set(ids)


class OutboxRelay:
    """Moves stored messages from the message log's outbox to the transport.

    ``last_error`` holds the transport error of the latest round (None when
    it went through). Several relays may run against one log: a message may
    then be published twice, never lost, and it is marked published once.
    """

    def __init__(self, log: MessageLog, transport: Transport, batch_size: int = 500,
                 *, max_backoff: float = 30.0, collect_every: float = 5.0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.log = log
        self.transport = transport
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        #: seconds between moves of dead letters into the hub's database
        self.collect_every = collect_every
        self._collected_at = 0.0
        self._desk: DeadLetterDesk | None = None
        self.last_error: Exception | None = None

    def relay_once(self) -> int:
        """Publish one batch; how many messages were confirmed and marked published."""
        pending = self.log.unpublished(self.batch_size)
        if not pending:
            self.last_error = None
            return 0
        ids = [p.message_id for p in pending]
        started = time.monotonic()
        try:
            self.transport.publish([to_message(p) for p in pending])
        except (TransportError, *self.transport.connection_errors) as exc:
            self.last_error = exc
            failed = unconfirmed_ids(exc, ids) if isinstance(exc, TransportError) else set(ids)
            if isinstance(exc, PublishError):  # refused, not away: worth a line each time
                log.warning("outbox: %d of %d message(s) not published, kept for later: %s",
                            len(failed), len(ids), exc)
            else:  # said once per outage by run()'s watch, not once per try
                log.debug("outbox: %d of %d message(s) not published, kept for later: %s", len(failed), len(ids), exc)
            return self._published([p for p in pending if p.message_id not in failed])
        self.last_error = None
        metrics.observe_confirm_latency(time.monotonic() - started)
        return self._published(pending)

    def _published(self, confirmed: list[PendingMessage]) -> int:
        # counted per (agency, type) and batch, not per message: a batch is mostly one kind
        for (agency, message_type), count in Counter((m.source_agency, m.message_type) for m in confirmed).items():
            metrics.record_published(agency, message_type, count)
        return self.log.mark_published([m.message_id for m in confirmed])

    def collect_dead_letters(self) -> int:
        """Every ``collect_every`` seconds, move the broker's dead letters into the hub's table; how many."""
        if time.monotonic() - self._collected_at < self.collect_every:
            return 0
        self._collected_at = time.monotonic()
        try:
            if self._desk is None:
                store = DeadLetterStore(self.log.engine)
                self._desk = DeadLetterDesk(store, self.log, lambda work: work(self.transport))
            return self._desk.collect()
        except (RabtError, *self.transport.connection_errors) as exc:
            log.debug("outbox: dead letters not collected this round: %s", exc)  # the outage is logged above
            return 0
        except Exception:  # noqa: BLE001 - collecting must never stop the relay's real work
            log.exception("outbox: collecting dead letters failed; relaying goes on, collecting is tried again")
            return 0

    def drain(self) -> int:
        """Relay batches until the outbox is empty or a round fails; how many went out."""
        total = 0
        while True:
            sent = self.relay_once()
            total += sent
            if self.last_error is not None or sent < self.batch_size:
                return total

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Relay until ``stop`` is set, over any outage of the broker or the log; never gives up.

        While a round fails the relay waits (doubling, up to ``max_backoff``)
        and tries again; each outage is logged when it begins and when it ends.
        """
        broker, database = (Watch("outbox", "broker", pause=Pause(interval, self.max_backoff)),
                            Watch("outbox", "message log", pause=Pause(interval, self.max_backoff)))
        try:
            while not stop.is_set():
                self._round(stop, interval, broker, database)
        finally:
            broker.clear()
            database.clear()

    def _round(self, stop: threading.Event, interval: float, broker: Watch, database: Watch) -> None:
        self.collect_dead_letters()
        try:
            sent = self.relay_once()
        except MessageLogError as exc:
            self.last_error = exc
            stop.wait(database.failed(exc))
            return
        database.succeeded()
        if self.last_error is not None:
            self.transport.idle(broker.failed(self.last_error), stop)
            return
        broker.succeeded()
        if sent < self.batch_size:
            self.transport.idle(interval, stop)
