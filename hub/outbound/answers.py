"""Answers to canonical queries: canonical Faults, signed reply envelopes, delivery.

An answer goes back on the asker's reply queue (``transport.reply``) and is
stored in the message log. Its header's ``SourceMessageId`` is the id of the
query it answers, so the log's unique key (source agency, source message id)
allows one answer per query: a redelivered query is answered again from the
log, and two workers racing on one query send the same answer.

An answer to a query older than ``reply_window`` (a retried or replayed
query: the asker has most likely stopped waiting) also stays in the outbox,
so the relay publishes it to the asker's own queue as a late answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from lxml import etree

from hub.canonical import NAMESPACE
from hub.envelope import Header, canonical_envelope, utc_now
from hub.errors import MessageLogError, RabtError, TransportError
from hub.messagelog import Accepted
from hub.outbox import to_message
from hub.pipeline import Pipeline
from hub.transports.base import Delivery, Message, Transport

log = logging.getLogger(__name__)
_R = f"{{{NAMESPACE}}}"
FAULT_NS = "urn:rabt:outbound:fault"
"""Namespace of the fault document an agency's ``AgencyFault.xsl`` mapping reads."""


def utc_text(moment: datetime | None = None) -> str:
    """A canonical UtcDateTime (milliseconds, ``Z``)."""
    return (moment or utc_now()).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fault_body(*, code: str, reason: str, agency: str, original_message_id: str, recoverable: bool,
               detail: str | None = None) -> etree._Element:
    """A canonical ``rabt:Fault`` (Reason and Detail cut to the schema's lengths)."""
    fault = etree.Element(_R + "Fault", nsmap={"rabt": NAMESPACE})
    values = (("Code", code), ("Reason", (reason or code)[:2000]), ("Agency", agency),
              ("OriginalMessageId", original_message_id), ("Recoverable", "true" if recoverable else "false"),
              ("OccurredAt", utc_text()), ("Detail", detail[:8000] if detail else None))
    for tag, value in values:
        if value is not None:
            etree.SubElement(fault, _R + tag).text = value
    return fault


def fault_for_error(exc: RabtError, *, agency: str, query_id: str) -> etree._Element:
    """The canonical Fault telling the asker why the hub has no answer from ``agency``."""
    return fault_body(code=exc.code, reason=exc.reason, agency=agency, original_message_id=query_id,
                      recoverable=exc.recoverable)


def fault_document(fault, *, query_id: str) -> etree._Element:
    """What ``mappings/<agency>/AgencyFault.xsl`` reads: the agency's SOAP Fault, as sent."""
    root = etree.Element(f"{{{FAULT_NS}}}AgencyFault", nsmap={"f": FAULT_NS})
    for tag, value in (("Agency", fault.agency), ("System", fault.system), ("FaultCode", fault.fault_code or ""),
                       ("FaultString", fault.fault_text), ("OriginalMessageId", query_id),
                       ("OccurredAt", utc_text()), ("Recoverable", "false" if fault.client_side else "true")):
        etree.SubElement(root, f"{{{FAULT_NS}}}{tag}").text = value
    detail = etree.SubElement(root, f"{{{FAULT_NS}}}Detail")
    for child in fault.detail if fault.detail is not None else ():
        if isinstance(child.tag, str):
            detail.append(etree.fromstring(etree.tostring(child)))
    return root


@dataclass(frozen=True)
class Answer:
    """A canonical answer ready to log and send."""

    header: Header
    envelope: bytes
    raw: bytes
    projection: str | None = None
    """Which projection of the answer the asker was sent (None: all of it), see :mod:`hub.projection`."""

    def message(self) -> Message:
        return to_message(self.record())

    def record(self) -> Accepted:
        return Accepted.from_header(self.header, self.raw, self.envelope, projection=self.projection)


class Answerer:
    """Signs, logs (through the pipeline) and sends answers for one agency's worker."""

    def __init__(self, *, agency: str, pipeline: Pipeline, reply_window: float) -> None:
        self.agency = agency
        self.pipeline = pipeline
        self.signer = pipeline.signer
        self.log = pipeline.log
        self.reply_window = reply_window

    def build(self, query: Header, body: etree._Element, raw: bytes, system: str, *,
              definitive: bool = True) -> Answer:
        """Sign ``body`` as the answer to ``query``, projected for the asker; ``definitive`` answers are one per query."""
        header = query.reply_header(message_type=etree.QName(body).localname, source_agency=self.agency,
                                    source_system=system, raw_payload=raw)
        if definitive:
            header = replace(header, source_message_id=query.message_id)
        projected = self.pipeline.for_party(header.destination, header.message_type, body)
        if projected is not None:
            body = projected.body
        return Answer(header, self.signer.sign_canonical(canonical_envelope(header, body)), raw,
                      projected.describe() if projected else None)

    def stored_answer(self, query: Header) -> Message | None:
        """The answer already logged for ``query`` (a redelivery), as a transport message."""
        candidates = self.log.find(correlation_id=query.correlation_id, source_agency=self.agency, limit=1000)
        for stored in candidates:
            if stored.source_message_id == query.message_id and stored.envelope is not None:  # not purged
                return to_message(stored)
        return None

    def send(self, transport: Transport, delivery: Delivery, query: Header, answer: Answer) -> str:
        """Log ``answer`` (or find the one logged first) and send it; the sent message id."""
        # Not queued yet: a relay publishing it before the direct reply would deliver it twice.
        receipt = self.pipeline.answer(answer.record())
        if not receipt.duplicate:
            message = answer.message()
        else:  # another delivery of this query answered first
            stored = self.log.get(receipt.message_id)
            if stored is None or stored.envelope is None:
                raise MessageLogError("answer was logged but cannot be found (or was archived and purged)",
                                      message_id=query.message_id)
            message = to_message(stored)
        direct = self._reply(transport, delivery, message)
        if direct and not self._late(query):
            self.log.mark_published([message.message_id])
        else:  # nobody is waiting for it (any more): the relay routes it to the asker's queue
            self.log.enqueue(message.message_id)
        return message.message_id

    def resend(self, transport: Transport, delivery: Delivery, message: Message) -> None:
        """Send a logged answer again to an asker that may still be waiting."""
        self._reply(transport, delivery, message)

    def _reply(self, transport: Transport, delivery: Delivery, message: Message) -> bool:
        if not delivery.message.reply_to:
            return False
        try:
            transport.reply(delivery, message)
        except TransportError as exc:
            # The asker's reply queue is gone (it gave up); the outbox still has the answer.
            log.warning("%s: reply to %s not delivered, left for the relay: %s", self.agency,
                        delivery.message.message_id, exc)
            return False
        return True

    def _late(self, query: Header) -> bool:
        return (utc_now() - query.created_at).total_seconds() > self.reply_window
