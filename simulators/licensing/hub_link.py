"""The licensing system's side of the hub: verify what comes in, seal what goes out, ask agencies.

Four small callables, each injected where it is used so tests can pass
their own:

* ``verify(bytes) -> element`` — parse with the hardened parser, check the
  hub's XML-DSig against the trust store, return only the signed content;
* ``seal(envelope) -> bytes`` — sign an outgoing envelope (or, with no key,
  serialise it for a hub that signs on receipt); :class:`SignerSeal` signs
  a header and body without building the envelope tree, and a body written
  as canonical text without any tree (:func:`reply_text`);
* :class:`TransportAsk` — ``ask(query_type, body, destination)``: one
  request/reply round trip through the transport, answer body returned;
* :class:`TransportNotify` — ``notify(body, destination)``: one notification
  published, nothing awaited, its hub message id returned.

and :func:`consume_until_stopped`, the consumer's loop, which outlives any
broker outage as the hub's own roles do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from lxml import etree

from hub.envelope import Header, build_envelope, canonical_envelope, canonical_envelope_of, new_header, read_envelope
from hub.errors import InputError, RabtError, SignatureError
from hub.outage import Watch, keep_consuming
from hub.routing import Routes, routing_key
from hub.signing import Signer, TrustStore, Verifier
from hub.transports.base import Delivery, Handler, Message, Transport
from hub.xmlsafe import parse_xml

#: how licensing names itself in envelope headers and routing keys
SYSTEM = "licensing"

Verify = Callable[[bytes], etree._Element]
Seal = Callable[[etree._Element], bytes]


def hub_verifier(trust_store: TrustStore, signer: str = "hub") -> Verify:
    """``verify(bytes)``: hardened parse, then the signature of ``signer`` must hold."""
    verifier = Verifier(trust_store)

    def verify(data: bytes) -> etree._Element:
        return verifier.verify(parse_xml(data), expected_signer=signer).element

    return verify


class SignerSeal:
    """``seal(envelope)`` signing with ``signer``'s identity; :meth:`envelope` seals a header and body in one go.

    :func:`outgoing` takes the second road: the envelope's canonical form
    written from the header and the body (:func:`hub.envelope.canonical_envelope`,
    as the hub's own pipeline signs) costs less than moving the body into an
    envelope tree and canonicalizing that — on every answer licensing sends.
    The bytes are the same.
    """

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def __call__(self, envelope: etree._Element) -> bytes:
        return self.signer.sign_bytes(envelope)

    def envelope(self, header: Header, body: etree._Element) -> bytes:
        """The signed envelope of ``body`` under ``header`` (``body`` is left where it is)."""
        return self.signer.sign_canonical(canonical_envelope(header, body))

    def envelope_of(self, header: Header, content: bytes) -> bytes:
        """The signed envelope of a body written in exclusive C14N form (``content``)."""
        return self.signer.sign_canonical(canonical_envelope_of(header, content))


def signer_seal(signer: Signer) -> Seal:
    """``seal(envelope)`` signing with ``signer``'s identity."""
    return SignerSeal(signer)


def licensing_seal(pki_dir) -> Seal:
    """Sign with licensing's own key (from ``rabt pki init``): the hub checks what comes from ``licensing``."""
    from hub.pki import PkiPaths, load_certificate, load_private_key
    from hub.signing import Identity

    paths = PkiPaths(pki_dir)
    identity = Identity(SYSTEM, load_private_key(paths.agency_key(SYSTEM)), load_certificate(paths.agency_cert(SYSTEM)))
    return SignerSeal(Signer(identity))


def plain_seal(envelope: etree._Element) -> bytes:
    """Unsigned serialisation, for a hub that signs what licensing publishes."""
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def verified_envelope(verify: Verify, data: bytes) -> tuple[Header, etree._Element]:
    """Header and body of what ``verify`` vouched for; any failure is a non-recoverable InputError."""
    try:
        element = verify(data)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the verifier throws, the message is refused
        detail = exc.reason if isinstance(exc, RabtError) else (str(exc) or type(exc).__name__)
        raise SignatureError(f"message refused, signature not verified: {detail}") from exc
    if not isinstance(element, etree._Element):
        raise SignatureError("verifier returned no signed element")
    return read_envelope(element)


def outgoing(header: Header, body: etree._Element, seal: Seal, correlation_id: str | None = None) -> Message:
    """A transport Message carrying ``body`` in a sealed envelope."""
    sealed = getattr(seal, "envelope", None)  # a SignerSeal's road without the envelope tree
    data = sealed(header, body) if sealed is not None else seal(build_envelope(header, body))
    return _message(header, data, correlation_id)


def _message(header: Header, data: bytes, correlation_id: str | None) -> Message:
    key = routing_key(header.destination, header.message_type, header.source_agency)
    return Message(data, key, header.message_id, correlation_id or header.correlation_id)


def reply_to(delivery: Delivery, request: Header, body: etree._Element, seal: Seal, transport: Transport,
             now: datetime | None = None) -> Header:
    """Answer ``request`` (same correlation id) through ``transport.reply``."""
    raw = etree.tostring(body)
    header = request.reply_header(message_type=etree.QName(body).localname, source_agency=SYSTEM,
                                  source_system=SYSTEM, raw_payload=raw, now=now)
    transport.reply(delivery, outgoing(header, body, seal, delivery.message.correlation_id))
    return header


def reply_text(delivery: Delivery, request: Header, message_type: str, content: bytes, seal: Seal,
               transport: Transport, now: datetime | None = None) -> Header:
    """:func:`reply_to` for an answer written in exclusive C14N form (``content``, its raw payload as well): a
    :class:`SignerSeal` signs it as it is; any other seal gets the envelope tree, the answer parsed into it."""
    header = request.reply_header(message_type=message_type, source_agency=SYSTEM, source_system=SYSTEM,
                                  raw_payload=content, now=now)
    transport.reply(delivery, outgoing_text(header, content, seal, delivery.message.correlation_id))
    return header


def outgoing_text(header: Header, content: bytes, seal: Seal, correlation_id: str | None = None) -> Message:
    """:func:`outgoing` for a body written in exclusive C14N form (``content``): a :class:`SignerSeal` signs it as
    it is; any other seal gets the envelope tree, the body parsed into it."""
    sealed = getattr(seal, "envelope_of", None)
    data = sealed(header, content) if sealed is not None else seal(build_envelope(header, parse_xml(content)))
    return _message(header, data, correlation_id)


class TransportAsk:
    """``ask(query_type, body, destination) -> reply body`` over the hub's request/reply."""

    def __init__(self, transport: Transport, verify: Verify, seal: Seal = plain_seal, *, timeout: float = 10.0) -> None:
        self.transport = transport
        self.verify = verify
        self.seal = seal
        self.timeout = timeout

    def __call__(self, query_type: str, body: etree._Element, destination: str) -> etree._Element:
        header = new_header(message_type=query_type, source_agency=SYSTEM, source_system=SYSTEM,
                            destination=destination, raw_payload=etree.tostring(body))
        answer = self.transport.request(outgoing(header, body, self.seal), timeout=self.timeout)
        reply_header, reply_body = verified_envelope(self.verify, answer.body)
        if reply_header.correlation_id != header.correlation_id:
            raise InputError(f"reply correlates to {reply_header.correlation_id}, not {header.correlation_id}",
                             message_id=reply_header.message_id, agency=reply_header.source_agency)
        return reply_body


class TransportNotify:
    """``notify(body, destination) -> message id``: a signed notification published through the hub."""

    def __init__(self, transport: Transport, seal: Seal = plain_seal) -> None:
        self.transport = transport
        self.seal = seal

    def __call__(self, body: etree._Element, destination: str, correlation_id: str | None = None) -> str:
        header = new_header(message_type=etree.QName(body).localname, source_agency=SYSTEM, source_system=SYSTEM,
                            destination=destination, raw_payload=etree.tostring(body), correlation_id=correlation_id)
        self.transport.publish([outgoing(header, body, self.seal)])
        return header.message_id


def consume_until_stopped(transport: Transport, routes: Routes, handler: Handler, stop: threading.Event, *,
                          max_messages: int | None = None, idle_timeout: float | None = None,
                          watch: Watch | None = None) -> int:
    """Apply licensing's queue until ``stop`` (or a limit) — waiting out broker outages, never giving up.

    The topology is declared before each subscription (idempotent), so the
    consumer may start before the hub or the broker. ``stop`` is set once a
    limit is met. Consumer threads of one process share a ``watch``, so an
    outage is told once. How many deliveries were handled.
    """
    handled = 0

    def subscription() -> int:
        nonlocal handled
        transport.declare(routes)
        left = None if max_messages is None else max_messages - handled
        count = transport.consume(routes.queue_for(SYSTEM), handler, max_messages=left, idle_timeout=idle_timeout,
                                  stop=stop)
        handled += count
        stop.set()  # consume returns by itself only when stopped or a limit is met
        return count

    keep_consuming(transport, subscription, stop, watch or Watch(SYSTEM, "broker"))
    return handled
