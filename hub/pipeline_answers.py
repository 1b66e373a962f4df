"""The pipeline's answers: request/reply, and every signed answer the hub logs.

    ask           request/reply: the question sent, the answer verified, the hub's answer made; all three
                  logged in one write before the hub answers
    answer        an outbound worker's signed answer to a query
    answered      the gateway's signed answer (receipt or reply) to an agency
    accept_answered   a push and the hub's signed answer to it, stored together

These are methods of :class:`hub.pipeline.Pipeline`, kept here as the mixin
:class:`Answers` because they are the roads where something comes back: they
share the record of the hub's own answer (``_hub_answer``) and the checks
of a destination's answer, and use the pipeline's steps (``_checked``,
``_stored``, ``for_party``, ``refuse``) for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lxml import etree

from hub import metrics
from hub.config import XmlLimits
from hub.envelope import new_header, read_envelope
from hub.errors import (
    AgencyError, AgencyFaultError, DuplicateMessageError, InputError, RabtError, SchemaError, SignatureError,
)
from hub.messagelog import Accepted, GroupCommitter, MessageLog
from hub.outbox import to_message
from hub.pipeline_types import Answer, BasisPolicy, Inbound, Receipt, Respond, Send
from hub.signing import Verifier
from hub.xmlsafe import parse_xml


class Answers:
    """The answering roads of :class:`hub.pipeline.Pipeline` (a mixin: the pipeline holds the parts)."""

    log: MessageLog
    verifier: Verifier
    limits: XmlLimits | None
    legal_basis: BasisPolicy
    _store: GroupCommitter | MessageLog

    def accept_answered(self, inbound: Inbound, payload: etree._Element, respond: Respond,
                        receipt: Callable[[Receipt], etree._Element]) -> Answer:
        """:meth:`accept`, and the hub's signed answer to the agency, stored together; that answer.

        ``receipt(Receipt)`` builds the answer document, ``respond(document, message id)``
        signs it. The answer for a new message is made before the write, so the
        message and what the hub told the agency about it cost one shared commit,
        and neither is stored without the other. Only for a repeat (rare: the
        write says so) is that answer dropped unsent, and the one naming the first
        message made and logged on its own.
        """
        with self._coming():
            record = self._checked(inbound, payload)
            fresh = Receipt(record.message_id)
            ours = respond(receipt(fresh), fresh.message_id)
            answer = _hub_answer(record.message_id, inbound.agency, ours.body, ours.answer_type)
            stored = self._stored(inbound, record, enqueue=True, answer=answer)
        if stored == fresh:
            return ours
        ours = respond(receipt(stored), stored.message_id)
        self.answered(stored.message_id, inbound.agency, ours.body, answer_type=ours.answer_type)
        return ours

    def answer(self, record: Accepted) -> Receipt:
        """Log an outbound worker's signed answer (sent by the worker itself, so not queued).

        One answer per query: a second one is a repeat naming the first.
        """
        if record.legal_basis is None:
            record = replace(record, legal_basis=self.legal_basis(record.source_agency, record.message_type))
        try:
            self._store.accept(record, enqueue=False)
        except DuplicateMessageError as exc:
            return Receipt(exc.first_message_id, duplicate=True)
        except InputError as exc:
            self.refuse(record.raw, agency=record.source_agency, code=exc.code, reason=exc.reason)
            raise
        metrics.record_received(record.source_agency, record.message_type)
        return Receipt(record.message_id)

    def answered(self, question_id: str, agency: str, answer: bytes, *, answer_type: str) -> str:
        """Log the hub's signed answer to ``agency`` about message ``question_id``; the answer's id.

        The answer went back over the same HTTP exchange, so it is stored as
        sent (never queued), in one write: what the hub told a partner can be shown later.
        """
        record = _hub_answer(question_id, agency, answer, answer_type)
        self._store.store_sent([record])
        return record.message_id

    def ask(self, inbound: Inbound, payload: etree._Element, send: Send, *, reply_type: str,
            respond: Respond) -> Answer:
        """Request/reply: ``send`` the question, verify the answer, ``respond`` to the asker; what the hub answers.

        The question, the destination's answer and the hub's own (signed by
        ``respond(answer body, question id)``) are stored as sent in ONE write,
        shared with concurrent callers, before the hub's answer is returned: the
        question need only be durable before anyone hears its answer, not before
        it is sent (a question alone changes nothing at the destination). The
        question is never queued for the relay: an unanswered question must not
        go out later; it is stored then, with the reason it was given up. A bad
        answer is the destination's fault, not the asker's: it is refused
        (recorded, counted) and raised as AgencyError.
        """
        question = self._checked(inbound, payload)
        try:
            reply = send(to_message(question))
        except RabtError as exc:
            self._unanswered(inbound, question, exc)
            raise
        exchange, projected = [question], None
        try:
            answer, body = self._destination_answer(reply.body, inbound.destination)
            exchange.append(answer)
            _expect(answer, body, inbound.destination, reply_type)
            projected = self.for_party(inbound.agency, reply_type, body)
            ours = respond(body if projected is None else projected.body, question.message_id)
            # The whole answer stays in the log as received; the hub's answer records the projection it carries.
            exchange.append(_hub_answer(question.message_id, inbound.agency, ours.body, ours.answer_type,
                                        projection=projected.describe() if projected else None))
        finally:
            self._store.store_sent(exchange)  # also when the answer was refused: the question went out
            for record in exchange[:2]:
                metrics.record_received(record.source_agency, record.message_type)
        return ours

    def _unanswered(self, inbound: Inbound, question: Accepted, exc: RabtError) -> None:
        """The question went out (or may have) but no answer came: stored, and given up with the reason."""
        self._stored(inbound, question, enqueue=False)
        self.log.discard(question.message_id, "gateway", f"no answer: {exc.reason}")

    def _destination_answer(self, data: bytes, destination: str) -> tuple[Accepted, etree._Element]:
        """The destination's answer as a record to log, and its body, once its signature is verified."""
        try:
            verified = self.verifier.verify(parse_xml(data, self.limits))
            if verified.signer != destination:
                raise SignatureError(f"answer signed by {verified.signer!r}, expected {destination!r}")
            header, body = read_envelope(verified.element)
        except InputError as exc:
            self.refuse(data, agency=destination, code=exc.code, reason=f"answer refused: {exc.reason}")
            raise AgencyError(f"{destination}'s answer was refused: {exc.reason}", agency=destination) from exc
        basis = self.legal_basis(header.source_agency, header.message_type)
        return Accepted.from_header(header, data, data, legal_basis=basis), body


def _expect(answer: Accepted, body: etree._Element, destination: str, reply_type: str) -> None:
    """AgencyFaultError when the destination answered with a Fault, SchemaError when not with ``reply_type``."""
    if answer.message_type == "Fault":
        reason = body.findtext("{*}Reason") or "the destination refused the request"
        raise AgencyFaultError(f"{destination}: {reason}", agency=destination)
    if answer.message_type != reply_type:
        raise SchemaError(f"expected {reply_type} in answer, got {answer.message_type}")


def _hub_answer(question_id: str, agency: str, answer: bytes, answer_type: str, *,
                projection: str | None = None) -> Accepted:
    """The record of the hub's signed answer to ``agency`` about message ``question_id``."""
    header = new_header(message_type=answer_type, source_agency="hub", source_system="gateway",
                        destination=agency, raw_payload=answer, correlation_id=question_id)
    # the header's PayloadDigest is the answer's own SHA-256: the log does not take it again
    return Accepted.from_header(header, answer, answer, raw_sha256=header.payload_digest, projection=projection)
