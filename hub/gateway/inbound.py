"""One SOAP request from an agency, from bytes to the agency's answer.

One-way operations (border events, visa issued) are stored in the outbox and
answered at once with a receipt: the broker being down does not matter to the
agency. Request/reply operations (the police visa check) go to their
destination through the transport and wait for the signed answer.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time

from lxml import etree

from hub.adapter import Adapter, InboundOperation
from hub.config import XmlLimits
from hub.contracts import AgencyContracts
from hub.envelope import utc_now
from hub.errors import BusyError, RabtError, SchemaError, SignatureError
from hub.gateway.answers import AnswerSigner, Reply, Style
from hub.gateway.faults import soap_fault
from hub.mapping import Mappings
from hub.pipeline import Pipeline
from hub.pipeline_types import Answer, Inbound, Receipt, Respond
from hub.signing import DS
from hub.soap import SoapFault, body_element, parse_envelope
from hub.transports.base import Message
from hub.transports.request_pool import Askers
from hub.wssec import SECURITY, Freshness, WsSecurityVerifier, security_header

RECEIPT_NS = "urn:rabt:gateway:receipt"
log = logging.getLogger(__name__)


_RECEIPT_FIELDS = ("SourceMessageId", "HubMessageId", "ReceivedAt", "Duplicate")
_receipt_templates = threading.local()


def receipt_document(operation: str, receipt: Receipt, source_message_id: str | None) -> etree._Element:
    """What a receipt mapping reads: the hub's id, the agency's id, when (UTC, to the second), and whether a repeat.

    A copy of an empty receipt made once per thread, filled in: building the six nodes one by one
    (a namespace map, namespaced tags parsed per call) cost several times the copy on every push.
    """
    root = copy.deepcopy(_receipt_template())
    root.set("operation", operation)
    source, hub, received, duplicate = root
    source.text, hub.text = source_message_id or "", receipt.message_id
    received.text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    duplicate.text = "true" if receipt.duplicate else "false"
    return root


def _receipt_template() -> etree._Element:
    """This thread's empty receipt (each thread copies its own: lxml trees are not shared between threads)."""
    template = getattr(_receipt_templates, "root", None)
    if template is None:
        template = etree.Element(f"{{{RECEIPT_NS}}}Receipt", operation="", nsmap={None: RECEIPT_NS})
        for tag in _RECEIPT_FIELDS:
            etree.SubElement(template, f"{{{RECEIPT_NS}}}{tag}")
        _receipt_templates.root = template
    return template


class InboundHandler:
    """Handles SOAP requests for every adapter; one per gateway process.

    Everything an agency sends goes through ``pipeline``: what fails before it
    (not SOAP, unknown operation, unsigned, off-contract) is refused through
    :meth:`~hub.pipeline.Pipeline.refuse` here, the rest by the pipeline itself.
    """

    def __init__(self, pipeline: Pipeline, *, mappings: Mappings, limits: XmlLimits,
                 askers: Askers, reply_timeout: float = 10.0, max_waiting: int = 8,
                 freshness: Freshness | None = None) -> None:
        self.pipeline = pipeline
        self.answers = AnswerSigner(pipeline.signer)
        self.ws_security = WsSecurityVerifier(pipeline.verifier.trust_store, freshness)
        self.mappings = mappings
        self.limits = limits
        self.askers = askers
        self.reply_timeout = reply_timeout
        # A bulkhead: requests waiting for an answer hold a server thread each, so a slow
        # destination could take every thread and stop the one-way pushes of all agencies.
        self.max_waiting = max_waiting
        self._waiting = threading.BoundedSemaphore(max_waiting)
        self._contracts: dict[str, AgencyContracts] = {}
        self._busy_replies: dict[tuple[str, Style, str | None], Reply] = {}

    def contracts(self, adapter: Adapter) -> AgencyContracts:
        if adapter.name not in self._contracts:
            self._contracts[adapter.name] = AgencyContracts(adapter.schema_dir, adapter.name)
        return self._contracts[adapter.name]

    def handle(self, adapter: Adapter, raw: bytes, *, source: str | None = None) -> Reply:
        """The signed answer to ``raw``, or the signed fault saying why not: nothing escapes as an exception."""
        style = Style.WS_SECURITY  # until the request shows its own: a fault to unparseable input is signed so
        try:
            root = self._refused_unless(adapter, raw, source, lambda: parse_envelope(
                raw, self.limits, agency=adapter.name, understood=frozenset({SECURITY})))
            style = Style.WS_SECURITY if self._refused_unless(
                adapter, raw, source, lambda: security_header(root)) is not None else Style.ENVELOPED
            return self._answered(adapter, raw, root, style, source)
        except SoapFault as fault:
            return self.answers.fault(fault, style, adapter.fault_namespace)
        except BusyError as busy:
            return self._busy_fault(busy, style, adapter.fault_namespace)
        except RabtError as error:
            return self.answers.fault(soap_fault(error, adapter.fault_namespace), style, adapter.fault_namespace)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer SOAP, and be logged
            log.exception("gateway failed on a %s request", adapter.name)
            internal = SoapFault("Server", f"internal error ({type(exc).__name__}); the hub has logged it")
            return self.answers.fault(internal, style, adapter.fault_namespace)

    def _busy_fault(self, busy: BusyError, style: Style, namespace: str | None) -> Reply:
        """The signed Busy fault, signed once per wording and style.

        Busy answers come in floods exactly when the CPU is short; the fault names no
        request and no time, so the same signed bytes answer each (an RSA signature
        of the same bytes is the same anyway), and the CPU goes to the checks admitted.
        """
        key = (busy.reason, style, namespace)
        reply = self._busy_replies.get(key)
        if reply is None:
            reply = self._busy_replies[key] = self.answers.fault(soap_fault(busy, namespace), style, namespace)
        return reply

    def _answered(self, adapter: Adapter, raw: bytes, root, style: Style, source: str | None) -> Reply:
        payload, operation, signer = self._refused_unless(adapter, raw, source,
                                                          lambda: self._request(adapter, root, style))
        name = etree.QName(payload).localname
        source_id = _source_id(payload, operation)
        inbound = Inbound(
            agency=adapter.name, system=operation.system, message_type=operation.message_type,
            destination=operation.destination, raw=raw, require_signature=operation.require_signature,
            source_message_id=None if operation.reply_type else source_id,
            received_at=utc_now(), source=source, verified_signer=signer,
        )
        respond = functools.partial(self._signed, adapter, operation, style, source_id)
        if operation.reply_type:
            # The question, the destination's answer and this reply are logged in one write, inside ask.
            return Reply(self._ask(inbound, payload, operation, respond).body)
        # The message and its signed receipt are logged in one write.
        return Reply(self.pipeline.accept_answered(
            inbound, payload, respond, lambda receipt: receipt_document(name, receipt, source_id)).body)

    def _signed(self, adapter: Adapter, operation: InboundOperation, style: Style, source_id: str | None,
                answer: etree._Element, hub_message_id: str) -> Answer:
        """The agency's response to ``answer`` (a receipt, a reply) by its mapping, checked and signed."""
        response = self.mappings.transform(
            adapter.name, operation.response_mapping, answer,
            source_message_id=source_id or "", hub_message_id=hub_message_id,
        )
        self._check_own_response(adapter, response)
        return Answer(self.answers.answer(response, style).body, etree.QName(response).localname)

    def _refused_unless(self, adapter: Adapter, raw: bytes, source: str | None, step):
        """``step()``, its refusal recorded through the pipeline before it is answered."""
        try:
            return step()
        except (SoapFault, RabtError) as refusal:
            code, reason = (refusal.code, refusal.text) if isinstance(refusal, SoapFault) else (
                refusal.code, refusal.reason)
            self.pipeline.refuse(raw, agency=adapter.name, code=code, reason=reason, source=source)
            raise

    def _request(self, adapter: Adapter, root, style: Style) -> tuple[etree._Element, InboundOperation, str | None]:
        """The request element, its operation and who signed it (if verified here), once it is offered,
        signed if it must be and on contract."""
        payload = body_element(root)
        name = etree.QName(payload).localname
        operation = adapter.inbound_operation(name)
        if operation is None:
            offered = ", ".join(op.operation for op in adapter.inbound)
            raise SoapFault("Client.UnknownOperation", f"{adapter.name} has no operation {name}; offered: {offered}")
        signer = None
        if style is Style.WS_SECURITY:
            # From here on only what the verifier says was signed is read: its copy of the Body's element.
            verified = self.ws_security.verify(root, agency=adapter.name)
            payload, signer = verified.element, verified.signer
        elif operation.require_signature and payload.find(f"{{{DS}}}Signature") is None:
            # Before the contract check, whose schema error would only say "expected ds:*".
            raise SignatureError(f"{adapter.name} must sign {name}: the request has no ds:Signature "
                                 "(nor a wsse:Security header)", agency=adapter.name)
        else:
            # The SOAP envelope is not read again: taken out of it, the payload is the document the agency
            # signed, which the pipeline then verifies without copying it.
            payload.getparent().remove(payload)
        self.contracts(adapter).validate(payload)
        return payload, operation, signer

    def _ask(self, inbound: Inbound, payload, operation: InboundOperation, respond: Respond) -> Answer:
        if not self._waiting.acquire(blocking=False):
            busy = BusyError(f"{self.max_waiting} requests are already waiting for {operation.destination}'s "
                             "answer; ask again shortly", agency=inbound.agency)
            self.pipeline.refuse(inbound.raw, agency=inbound.agency, code=busy.code, reason=busy.reason,
                                 source=inbound.source)
            raise busy
        try:
            # Sent here over request/reply, never by the relay: an unanswered question must not go out later.
            return self.pipeline.ask(inbound, payload, self._send, reply_type=operation.reply_type, respond=respond)
        finally:
            self._waiting.release()

    def _send(self, question: Message) -> Message:
        return self.askers.request(question, timeout=self.reply_timeout)

    def _check_own_response(self, adapter: Adapter, response: etree._Element) -> None:
        try:
            self.contracts(adapter).validate(response)
        except SchemaError as exc:
            raise SoapFault("Server", f"the hub built an invalid {etree.QName(response).localname}: {exc.reason}") from exc


def _source_id(payload: etree._Element, operation: InboundOperation) -> str | None:
    if not operation.source_id_xpath:
        return None
    found = _source_id_path(operation.source_id_xpath, etree.QName(payload).namespace)(payload)
    value = found[0] if found else None
    text = value.text if isinstance(value, etree._Element) else value
    return str(text).strip() if text else None


@functools.lru_cache(maxsize=256)
def _source_id_path(xpath: str, namespace: str | None) -> etree.XPath:
    """``xpath`` compiled once per operation and namespace: an ``_Element.xpath`` call compiles it every time."""
    return etree.XPath(xpath, namespaces={"a": namespace})
