"""One SOAP request from an agency, from bytes to the agency's answer.

One-way operations (border events, visa issued) are stored in the outbox and
answered at once with a receipt: the broker being down does not matter to the
agency. Request/reply operations (the police visa check) go to their
destination through the transport and wait for the signed answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lxml import etree

from hub.adapter import Adapter, InboundOperation
from hub.config import XmlLimits
from hub.contracts import AgencyContracts
from hub.envelope import utc_now
from hub.errors import BusyError, RabtError, SchemaError, SignatureError
from hub.mapping import Mappings
from hub.pipeline import Inbound, Pipeline, Receipt
from hub.signing import DS
from hub.soap import SoapFault, envelope, parse_request
from hub.transports import Transport
from hub.transports.base import Message

RECEIPT_NS = "urn:rabt:gateway:receipt"


def receipt_document(operation: str, receipt: Receipt, source_message_id: str | None) -> etree._Element:
    """What a receipt mapping reads: the hub's id, the agency's id, when, and whether a repeat."""
    root = etree.Element(f"{{{RECEIPT_NS}}}Receipt", operation=operation, nsmap={None: RECEIPT_NS})
    for tag, value in (("SourceMessageId", source_message_id or ""), ("HubMessageId", receipt.message_id),
                       ("ReceivedAt", utc_now().isoformat(timespec="seconds").replace("+00:00", "Z")),
                       ("Duplicate", "true" if receipt.duplicate else "false")):
        etree.SubElement(root, f"{{{RECEIPT_NS}}}{tag}").text = value
    return root


class InboundHandler:
    """Handles SOAP requests for every adapter; one per gateway process.

    Everything an agency sends goes through ``pipeline``: what fails before it
    (not SOAP, unknown operation, unsigned, off-contract) is refused through
    :meth:`~hub.pipeline.Pipeline.refuse` here, the rest by the pipeline itself.
    """

    def __init__(self, pipeline: Pipeline, *, mappings: Mappings, limits: XmlLimits,
                 open_transport: Callable[[], Transport], reply_timeout: float = 10.0, max_waiting: int = 8) -> None:
        self.pipeline = pipeline
        self.mappings = mappings
        self.limits = limits
        self.open_transport = open_transport
        self.reply_timeout = reply_timeout
        # A bulkhead: requests waiting for an answer hold a server thread each, so a slow
        # destination could take every thread and stop the one-way pushes of all agencies.
        self.max_waiting = max_waiting
        self._waiting = threading.BoundedSemaphore(max_waiting)
        self._contracts: dict[str, AgencyContracts] = {}
        self._local = threading.local()

    def contracts(self, adapter: Adapter) -> AgencyContracts:
        if adapter.name not in self._contracts:
            self._contracts[adapter.name] = AgencyContracts(adapter.schema_dir, adapter.name)
        return self._contracts[adapter.name]

    def handle(self, adapter: Adapter, raw: bytes, *, source: str | None = None) -> bytes:
        """The SOAP response for ``raw``; raises SoapFault or a RabtError the app turns into one."""
        try:
            payload, operation = self._request(adapter, raw)
        except (SoapFault, RabtError) as refusal:
            code, reason = (refusal.code, refusal.text) if isinstance(refusal, SoapFault) else (
                refusal.code, refusal.reason)
            self.pipeline.refuse(raw, agency=adapter.name, code=code, reason=reason, source=source)
            raise
        name = etree.QName(payload).localname
        source_id = _source_id(payload, operation)
        inbound = Inbound(
            agency=adapter.name, system=operation.system, message_type=operation.message_type,
            destination=operation.destination, raw=raw, require_signature=operation.require_signature,
            source_message_id=None if operation.reply_type else source_id,
            received_at=utc_now(), source=source,
        )
        if operation.reply_type:
            answer, hub_message_id = self._ask(inbound, payload, operation)
        else:
            receipt = self.pipeline.accept(inbound, payload)
            answer, hub_message_id = receipt_document(name, receipt, source_id), receipt.message_id
        response = self.mappings.transform(
            adapter.name, operation.response_mapping, answer,
            source_message_id=source_id or "", hub_message_id=hub_message_id,
        )
        self._check_own_response(adapter, response)
        return envelope(response)

    def _request(self, adapter: Adapter, raw: bytes) -> tuple[etree._Element, InboundOperation]:
        """The request element and its operation, once it is SOAP, offered, signed if it must be, on contract."""
        payload = parse_request(raw, self.limits, agency=adapter.name)
        name = etree.QName(payload).localname
        operation = adapter.inbound_operation(name)
        if operation is None:
            offered = ", ".join(op.operation for op in adapter.inbound)
            raise SoapFault("Client.UnknownOperation", f"{adapter.name} has no operation {name}; offered: {offered}")
        if operation.require_signature and payload.find(f"{{{DS}}}Signature") is None:
            # Before the contract check, whose schema error would only say "expected ds:*".
            raise SignatureError(f"{adapter.name} must sign {name}: the request has no ds:Signature",
                                 agency=adapter.name)
        self.contracts(adapter).validate(payload)
        return payload, operation

    def _ask(self, inbound: Inbound, payload, operation: InboundOperation) -> tuple[etree._Element, str]:
        if not self._waiting.acquire(blocking=False):
            busy = BusyError(f"{self.max_waiting} requests are already waiting for {operation.destination}'s "
                             "answer; ask again shortly", agency=inbound.agency)
            self.pipeline.refuse(inbound.raw, agency=inbound.agency, code=busy.code, reason=busy.reason,
                                 source=inbound.source)
            raise busy
        try:
            # Sent here over request/reply, never by the relay: an unanswered question must not go out later.
            return self.pipeline.ask(inbound, payload, self._send, reply_type=operation.reply_type)
        finally:
            self._waiting.release()

    def _send(self, question: Message) -> Message:
        return self._transport().request(question, timeout=self.reply_timeout)

    def _check_own_response(self, adapter: Adapter, response: etree._Element) -> None:
        try:
            self.contracts(adapter).validate(response)
        except SchemaError as exc:
            raise SoapFault("Server", f"the hub built an invalid {etree.QName(response).localname}: {exc.reason}") from exc

    def _transport(self) -> Transport:
        transport = getattr(self._local, "transport", None)
        if transport is None:
            transport = self._local.transport = self.open_transport()
        return transport


def _source_id(payload: etree._Element, operation: InboundOperation) -> str | None:
    if not operation.source_id_xpath:
        return None
    found = payload.xpath(operation.source_id_xpath, namespaces={"a": etree.QName(payload).namespace})
    value = found[0] if found else None
    text = value.text if isinstance(value, etree._Element) else value
    return str(text).strip() if text else None
