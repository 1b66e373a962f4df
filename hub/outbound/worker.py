"""The outbound worker: canonical queries from one agency's queue, answered by calling the agency.

For each delivery (a transport handler — the outcome decides ack,
retry or dead letter):

1. verify: hardened parse, XML-DSig by the asker named in the header (from
   here on only the verified element is read), canonical schema, destination,
   access rights — a failure is non-recoverable: dead letter, no answer;
2. answered before? a redelivered query gets the logged answer again and the
   agency is not called twice (one-way notifications: a processed mark);
3. for each agency service declared for the query type: map the query to the
   agency's request (``mappings/<agency>/<QueryType>.xsl``; a mapping may
   decline a service by producing ``outbound:Skip``), check it against the
   agency's contract, call it (retries, circuit breaker), read the answer with
   the hardened parser, check the agency's contract, map it to canonical
   (``mappings/<agency>/<ReplyType>.xsl``) and validate;
4. answer, signed by the hub, on the asker's reply queue, logged.

:meth:`OutboundWorker.run` consumes through :func:`hub.metrics.instrument`, so
every delivery is counted (delivered, failed with its code, dead-lettered) and
timed end to end from the verified header's ``ReceivedAt``; while it consumes,
its circuit breakers (created up front, so known as closed before the first
call) are reported as ``rabt_circuit_state`` and to the console.

What the asker gets when there is no record:

* the agency answered a SOAP Fault → a canonical Fault (``AgencyFault.xsl``
  maps the agency's codes, e.g. unknown id → ``not-found``); acked, not retried:
  it is the agency's answer;
* the agency answered garbage (malformed, hostile, off-contract) → a canonical
  Fault naming the reason, and the raw answer kept as a refusal in the message
  log; acked: asking the same agency the same thing again is not the hub's call,
  and the asker learns at once instead of timing out;
* the agency is unavailable (after retries) or its circuit is open → the error
  is raised (recoverable): the transport retries the delivery later and dead-
  letters it after ``max_attempts``; on that last attempt a recoverable Fault is
  also sent, so an asker still waiting is not left to time out. A replay after
  the agency recovers produces the real answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from lxml import etree

from hub import canonical, metrics
from hub.adapter import Adapter, OutboundService
from hub.config import XmlLimits
from hub.envelope import Header, read_envelope
from hub.errors import AccessDeniedError, ConfigError, InputError, RabtError, SignatureError
from hub.contracts import AgencyContracts
from hub.idempotency import IdempotentConsumer
from hub.mapping import Mappings
from hub.messagelog import Accepted
from hub.outbound.answers import Answerer, fault_for_error
from hub.outbound.asking import AgencyCalls, Reply
from hub.outbound.client import AgencyClient, AgencySoapFault, AnswerRefusedError
from hub.outbound.config import OutboundSettings
from hub.outbound.resilience import BREAKERS, Breakers
from hub.pipeline import Pipeline
from hub.signing import Verifier
from hub.transports.base import Delivery, Transport
from hub.xmlsafe import parse_xml

log = logging.getLogger(__name__)

class OutboundWorker(AgencyCalls):
    """Answers the canonical queries on one agency's queue by calling that agency."""

    def __init__(self, adapter: Adapter, clients: Mapping[tuple[str, str], AgencyClient], *, mappings: Mappings,
                 verifier: Verifier, answerer: Answerer, pipeline: Pipeline, may_send: Callable[[str, str], bool],
                 settings: OutboundSettings, max_attempts: int, breakers: Breakers = BREAKERS,
                 limits: XmlLimits | None = None) -> None:
        self.adapter = adapter
        self.agency = adapter.name
        self.clients = dict(clients)
        self.mappings = mappings
        self.verifier = verifier
        self.answerer = answerer
        self.pipeline = pipeline
        self.may_send = may_send
        self.settings = settings
        self.max_attempts = max_attempts
        self.breakers = breakers
        self.limits = limits
        self.contracts = AgencyContracts(adapter.schema_dir, adapter.name)
        self.notified = IdempotentConsumer(pipeline.log.engine, f"outbound-{adapter.name}")
        self.transport: Transport | None = None
        self._trail = threading.local()  # the hops of the delivery this thread handles
        # created now, not on first call: a running worker's circuits are known (closed) to
        # /metrics and the console from the start, and an agency with no worker here is not
        for service in adapter.outbound:
            breakers.get(self.agency, service.system, settings)

    # -- the handler ----------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> Header:
        """Transport handler: verify, answer (once), or raise for retry / dead letter.

        Returns the verified header (the transport ignores it; :func:`hub.metrics.instrument`
        reads its ``received_at`` for the end-to-end latency).
        """
        header, query = self.verified(delivery)
        services = [s for s in self.adapter.outbound if s.query_type == header.message_type]
        if not services:
            raise InputError(f"{self.agency} answers no {header.message_type}", message_id=header.message_id,
                             agency=header.source_agency)
        if services[0].reply_type:
            self._answer_query(delivery, header, query, services)
        else:
            self._notify(delivery, header, query, services)
        return header

    def traced(self, delivery: Delivery) -> Header:
        """:meth:`handle`, its hops (delivered, each call, answered or failed) chained in one write after it.

        The query itself is stored by the system that asked, not by the hub:
        its hops are chained under its message id all the same (see
        :meth:`hub.messagelog.MessageLog.record_hops`), so the console's trail
        follows it through the agency and into the dead letters.
        """
        mid = delivery.message.message_id
        self._trail.hops = hops = [(mid, "delivered", f"attempt {delivery.attempt} from {delivery.queue}", None)]
        try:
            header = self.handle(delivery)
            hops.append((mid, "answered", f"{self.agency} worker done", None))
            return header
        except Exception as exc:
            hops.append((mid, "failed", f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}"[:1000], None))
            raise
        finally:
            self._trail.hops = None
            try:
                self.pipeline.log.record_hops(hops)
            except RabtError as exc:  # the trail is a record, not a reason to retry the delivery
                log.warning("%s: hops of %s not recorded: %s", self.agency, mid, exc)

    def verified(self, delivery: Delivery) -> tuple[Header, etree._Element]:
        """Header and body of the delivery, as signed by the asker the header names."""
        document = parse_xml(delivery.message.body, self.limits)
        verified = self.verifier.verify(document)
        canonical.validate(verified.element)
        header, body = read_envelope(verified.element)
        if verified.signer != header.source_agency:
            raise SignatureError(f"query from {header.source_agency!r} is signed by {verified.signer!r}",
                                 message_id=header.message_id, agency=verified.signer)
        if header.destination != self.agency:
            raise InputError(f"message for {header.destination!r} reached the {self.agency} worker",
                             message_id=header.message_id)
        if not self.may_send(header.source_agency, header.message_type):
            raise AccessDeniedError(f"{header.source_agency!r} may not send {header.message_type}",
                                    message_id=header.message_id, agency=header.source_agency)
        return header, body

    # -- request / reply --------------------------------------------------------------------

    def _answer_query(self, delivery: Delivery, header: Header, query: etree._Element,
                      services: list[OutboundService]) -> None:
        earlier = self.answerer.stored_answer(header)
        if earlier is not None:
            log.info("%s: query %s answered before; sending that answer again", self.agency, header.message_id)
            self.answerer.resend(self._transport(), delivery, earlier)
            return
        try:
            reply = self.ask(header, query, services)
        except AgencySoapFault as fault:
            reply = Reply(self._canonical_fault(fault, header), fault.raw, fault.system)
        except AnswerRefusedError as exc:  # the agency answered garbage
            reply = Reply(fault_for_error(exc, agency=self.agency, query_id=header.message_id), exc.raw,
                          services[0].system)
        except InputError as exc:  # the query could not be put to the agency
            reply = Reply(fault_for_error(exc, agency=self.agency, query_id=header.message_id), b"",
                          services[0].system)
        except RabtError as exc:
            self._last_word(delivery, header, exc, services[0].system)
            raise
        answer = self.answerer.build(header, reply.body, reply.raw, reply.system)
        self.answerer.send(self._transport(), delivery, header, answer)

    def _last_word(self, delivery: Delivery, header: Header, exc: RabtError, system: str) -> None:
        # Retried later (recoverable) or dead-lettered for an operator: either way the asker
        # still waiting learns why now, on the last attempt, instead of timing out.
        if exc.recoverable and delivery.attempt < self.max_attempts:
            return
        body = fault_for_error(exc, agency=self.agency, query_id=header.message_id)
        answer = self.answerer.build(header, body, b"", system, definitive=False)
        try:
            self.answerer.send(self._transport(), delivery, header, answer)
        except RabtError as send_error:
            log.warning("%s: could not tell the asker about %s: %s", self.agency, exc.code, send_error)

    # -- one-way notifications ----------------------------------------------------------------

    def _notify(self, delivery: Delivery, header: Header, query: etree._Element,
                services: list[OutboundService]) -> None:
        # The agency's acknowledgement is all there is: any failure goes to the dead letters.
        if self.notified.is_applied(header.message_id):
            log.info("%s: notification %s was delivered before; not sent again", self.agency, header.message_id)
            return
        self._log_notification(header, delivery.message.body)
        reply = self.ask(header, query, services)
        log.info("%s: %s %s delivered to %s", self.agency, header.message_type, header.message_id, reply.system)
        self.pipeline.log.record_event(header.message_id, "delivered", f"acknowledged by {self.agency}/{reply.system}",
                                       actor=f"outbound-{self.agency}")
        self.notified.apply_once(header.message_id, lambda conn: None)

    def _log_notification(self, header: Header, envelope: bytes) -> None:
        # A notification is published by its sender straight to this agency's queue; logging it
        # here (once, as received) puts every copy of a published event in the trail of its
        # correlation id, with "delivered" once the agency acknowledged it.
        if self.pipeline.log.get(header.message_id) is not None:
            return
        self.pipeline.answer(Accepted.from_header(header, envelope, envelope))
        self.pipeline.log.mark_published([header.message_id])

    def _transport(self) -> Transport:
        if self.transport is None:
            raise ConfigError("outbound worker has no transport to answer on; use run() or set .transport")
        return self.transport

    # -- running ------------------------------------------------------------------------------

    def run(self, transport: Transport, queue: str, *, stop=None, max_messages: int | None = None,
            idle_timeout: float | None = None, prefetch: int = 2) -> int:
        """Consume ``queue`` with this worker until ``stop`` is set or a limit is met (counted in metrics)."""
        self.transport = transport
        handler = metrics.instrument(self.traced, max_attempts=self.max_attempts, agency=self.agency,
                                     connection_errors=transport.connection_errors)
        metrics.watch_circuits(self)  # while consuming, this worker's circuits are this process's
        try:
            return transport.consume(queue, handler, prefetch=prefetch, stop=stop, max_messages=max_messages,
                                     idle_timeout=idle_timeout)
        finally:
            metrics.unwatch_circuits(self)

    def service_states(self) -> dict[str, str]:
        """``"agency/system"`` → circuit state, for this worker's services only."""
        mine = {f"{self.agency}/{service.system}" for service in self.adapter.outbound}
        return {key: state for key, state in self.breakers.service_states().items() if key in mine}

    def close(self) -> None:
        """Close the agency clients' HTTP sessions."""
        for client in self.clients.values():
            client.close()
