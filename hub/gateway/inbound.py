"""One SOAP request from an agency, from bytes to the agency's answer.

One-way operations (border events, visa issued) are stored in the outbox and
answered at once with a receipt: the broker being down does not matter to the
agency. Request/reply operations (the police visa check) go to their
destination through the transport and wait for the signed answer.
"""

from __future__ import annotations

import threading

from lxml import etree

from hub import metrics
from hub.adapter import Adapter, InboundOperation
from hub.bootstrap import Hub
from hub.contracts import AgencyContracts
from hub.envelope import read_envelope, utc_now
from hub.errors import AgencyError, AgencyFaultError, BusyError, InputError, RabtError, SchemaError, SignatureError
from hub.messagelog import Accepted
from hub.outbox import to_message
from hub.pipeline import Inbound, Receipt
from hub.signing import DS
from hub.soap import SoapFault, envelope, parse_request
from hub.xmlsafe import parse_xml

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
    """Handles SOAP requests for every adapter; one per gateway process."""

    def __init__(self, hub: Hub, *, reply_timeout: float = 10.0, max_waiting: int = 8) -> None:
        self.hub = hub
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

    def handle(self, adapter: Adapter, raw: bytes) -> bytes:
        """The SOAP response for ``raw``; raises SoapFault or a RabtError the app turns into one."""
        payload = parse_request(raw, self.hub.settings.xml_limits, agency=adapter.name)
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
        source_id = _source_id(payload, operation)
        inbound = Inbound(
            agency=adapter.name, system=operation.system, message_type=operation.message_type,
            destination=operation.destination, raw=raw, require_signature=operation.require_signature,
            source_message_id=None if operation.reply_type else source_id,
            received_at=utc_now(),
        )
        if operation.reply_type:
            answer, hub_message_id = self._ask(inbound, payload, operation)
        else:
            receipt = self.hub.pipeline.accept(inbound, payload)
            answer, hub_message_id = receipt_document(name, receipt, source_id), receipt.message_id
        response = self.hub.mappings.transform(
            adapter.name, operation.response_mapping, answer,
            source_message_id=source_id or "", hub_message_id=hub_message_id,
        )
        self._check_own_response(adapter, response)
        return envelope(response)

    def _ask(self, inbound: Inbound, payload, operation: InboundOperation) -> tuple[etree._Element, str]:
        if not self._waiting.acquire(blocking=False):
            metrics.record_refused(inbound.agency, BusyError.code)
            raise BusyError(f"{self.max_waiting} requests are already waiting for {operation.destination}'s "
                            "answer; ask again shortly", agency=inbound.agency)
        try:
            return self._ask_and_wait(inbound, payload, operation)
        finally:
            self._waiting.release()

    def _ask_and_wait(self, inbound: Inbound, payload, operation: InboundOperation) -> tuple[etree._Element, str]:
        record, _ = self.hub.pipeline.canonicalize(inbound, payload)
        # Sent here over request/reply, never by the relay: an unanswered question must not go out later.
        self.hub.committer.accept(record, enqueue=False)
        request = to_message(record)
        try:
            reply = self._transport().request(request, timeout=self.reply_timeout)
        except RabtError as exc:
            # The agency gets a fault and asks again; the log says this question was given up.
            self.hub.log.discard(record.message_id, "gateway", f"no answer: {exc.reason}")
            raise
        self.hub.committer.mark_published([record.message_id])
        try:
            return self._answer(reply.body, operation), record.message_id
        except InputError as exc:
            # A bad answer is the destination's fault, not the asking agency's: a Server fault.
            raise AgencyError(f"{operation.destination}'s answer was refused: {exc.reason}",
                              agency=operation.destination) from exc

    def _answer(self, data: bytes, operation: InboundOperation) -> etree._Element:
        """The body of the destination's answer, once verified and logged."""
        verified = self.hub.verifier.verify(parse_xml(data, self.hub.settings.xml_limits))
        if verified.signer != operation.destination:
            raise SignatureError(f"answer signed by {verified.signer!r}, expected {operation.destination!r}")
        header, body = read_envelope(verified.element)
        self._log_answer(header, data)
        if header.message_type == "Fault":
            reason = body.findtext("{*}Reason") or "the destination refused the request"
            raise AgencyFaultError(f"{operation.destination}: {reason}", agency=operation.destination)
        if header.message_type != operation.reply_type:
            raise SchemaError(f"expected {operation.reply_type} in answer, got {header.message_type}")
        return body

    def _log_answer(self, header, envelope_bytes: bytes) -> None:
        # Delivered straight back over request/reply: logged, never for the relay to send again.
        self.hub.committer.accept(Accepted.from_header(header, envelope_bytes, envelope_bytes), enqueue=False)
        self.hub.committer.mark_published([header.message_id])

    def _check_own_response(self, adapter: Adapter, response: etree._Element) -> None:
        try:
            self.contracts(adapter).validate(response)
        except SchemaError as exc:
            raise SoapFault("Server", f"the hub built an invalid {etree.QName(response).localname}: {exc.reason}") from exc

    def _transport(self):
        transport = getattr(self._local, "transport", None)
        if transport is None:
            transport = self._local.transport = self.hub.open_transport()
        return transport


def _source_id(payload: etree._Element, operation: InboundOperation) -> str | None:
    if not operation.source_id_xpath:
        return None
    found = payload.xpath(operation.source_id_xpath, namespaces={"a": etree.QName(payload).namespace})
    value = found[0] if found else None
    text = value.text if isinstance(value, etree._Element) else value
    return str(text).strip() if text else None
