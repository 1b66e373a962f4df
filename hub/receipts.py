"""Delivery receipts: what a destination did with what the hub delivered, chained on each message's trail.

A destination that applies messages in its own commits (the licensing
system) sends the hub a signed canonical ``DeliveryReceipt`` after its
commits (one receipt may tell of several), addressed to ``hub`` (the hub's own queue, ``routes.toml``). The
``receipts`` role consumes that queue: each receipt is checked like any
input (:meth:`hub.pipeline.Pipeline.check_report`: hardened parse, the
sender's pinned certificate, access rights, canonical schema), then stored
with one chain record per listed message in one write — ``applied`` (a
duplicate too, said in the detail) or ``failed`` with the code and reason —
so the console's trail, search and figures show them.

Only the sender's own messages are chained: an outcome naming a message the
log holds for another destination is left out and logged (the receipt, kept
whole in the log, still names it). A receipt sent twice (the sender retries
when it heard no confirm) is a duplicate and chains nothing again. A bad
receipt is refused (recorded, counted) and dead-lettered; a database outage
is recoverable, so the transport retries it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from lxml import etree

from hub.pipeline import Pipeline
from hub.pipeline_types import Receipt
from hub.transports.base import Delivery, Transport

log = logging.getLogger(__name__)

#: the destination name of the hub's own queue, where parties send what is for the hub itself
HUB = "hub"
_R = "{urn:rabt:canonical:v1}"
#: a receipt result → the chain status it is recorded as
STATUS_OF = {"applied": "applied", "duplicate": "applied", "failed": "failed"}
Hop = tuple[str, str, str, str | None]


def outcomes(body: etree._Element) -> list[tuple[str, str, str | None, str | None]]:
    """``(message id, result, code, reason)`` per Outcome of a validated DeliveryReceipt body."""
    return [(node.findtext(f"{_R}MessageId").strip(), node.findtext(f"{_R}Result").strip(),
             node.findtext(f"{_R}Code"), node.findtext(f"{_R}Reason")) for node in body.iterfind(f"{_R}Outcome")]


def hop_detail(consumer: str, result: str, code: str | None, reason: str | None, receipt_id: str) -> str:
    """What the trail says of one outcome."""
    if result == "applied":
        return f"{consumer} applied it (receipt {receipt_id})"
    if result == "duplicate":
        return f"{consumer} had applied it before; this delivery changed nothing (receipt {receipt_id})"
    return f"{consumer} failed to apply it: [{code or 'error'}] {reason or 'no reason given'} (receipt {receipt_id})"


class ReceiptDesk:
    """Takes delivery receipts from the hub's queue into the message log (a transport handler)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def handle(self, delivery: Delivery) -> Receipt:
        """Check, then store the receipt with a hop per listed message of its sender; a repeat chains nothing."""
        record, body = self.pipeline.check_report(delivery.message.body, message_type="DeliveryReceipt",
                                                  addressed_to=HUB)
        return self.pipeline.store_report(record, self.hops(record.source_agency, record.message_id, body))

    def hops(self, consumer: str, receipt_id: str, body: etree._Element) -> list[Hop]:
        """The chain records a receipt adds: its sender's messages (or ones the hub never stored)."""
        listed = outcomes(body)
        stored = self.pipeline.log.destinations([mid for mid, *_ in listed])
        foreign = sorted({mid for mid, *_ in listed if stored.get(mid, consumer) != consumer})
        if foreign:
            log.warning("delivery receipt %s from %s names %d message(s) addressed to others, not chained: %s",
                        receipt_id, consumer, len(foreign), ", ".join(foreign[:10]))
        return [(mid, STATUS_OF[result], hop_detail(consumer, result, code, reason, receipt_id), None)
                for mid, result, code, reason in listed if mid not in foreign]


def receipts_loop(pipeline: Pipeline, open_transport: Callable[[], Transport], queue: str,
                  max_attempts: int) -> Callable[[threading.Event], None]:
    """The ``receipts`` role: consume the hub's queue until stopped, waiting out broker outages."""
    from hub import metrics
    from hub.outage import Watch, keep_consuming

    desk = ReceiptDesk(pipeline)

    def run(stop: threading.Event) -> None:
        with open_transport() as transport:
            handler = metrics.instrument(desk.handle, max_attempts=max_attempts,
                                         connection_errors=transport.connection_errors)
            keep_consuming(transport, lambda: transport.consume(queue, handler, prefetch=16, stop=stop), stop,
                           Watch("receipts", "broker"))

    return run
