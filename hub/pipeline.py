"""The one road from agency input into the message log.

    verify (if signed) → access check → map → validate → project → envelope → sign → log

"project" keeps only the fields the receiving party is granted in access.toml
(:mod:`hub.projection`): for a routed message, the destination; for a
request/reply answer, the party that asked. It runs before the hub signs for
that party, so nothing it may not have leaves the hub. :meth:`Pipeline.for_party`
is the one place it happens, for every road out: this pipeline's own, the
outbound workers' answers to an asker (:mod:`hub.outbound.answers`) and their
queries and notifications to an agency (:mod:`hub.outbound.worker`). Which
projection went out is chained as a ``projected`` record of the message.

Every channel goes through :class:`Pipeline`, which records what the log must
hold and counts the metrics in one place, so a new channel cannot forget either:

    accept        one pushed message (the SOAP gateway's one-way operations)
    check + accept_batch   a file's messages: all checked first, stored together
    ask           request/reply: the question sent, the answer verified, the hub's answer made; all three
                  logged in one write before the hub answers
    answer        an outbound worker's signed answer to a query
    answered      the gateway's signed answer (receipt or reply) to an agency
    refuse        anything refused before or inside it (a bounded digest, budgeted per source)

Publishing is the outbox relay's job: a message is safe once ``accept``
returns, whether or not the broker is up.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from lxml import etree

from hub import canonical, metrics
from hub.config import XmlLimits
from hub.envelope import canonical_envelope, new_header, read_envelope
from hub.errors import (
    AccessDeniedError, AgencyError, AgencyFaultError, ConfigError, DuplicateMessageError, InputError, RabtError,
    SchemaError, SignatureError,
)
from hub.mapping import Mappings
from hub.messagelog import Accepted, BatchResult, GroupCommitter, MessageLog, search
from hub.outbox import to_message
from hub.projection import Projected, ProjectionPolicy, send_everything
from hub.refusals import RefusalBook, RefusalBudget
from hub.signing import DS, Signer, Verifier
from hub.transports.base import Message
from hub.xmlsafe import parse_xml

#: ``may_send(agency, message_type)``: the access rights, kept as data by the caller
AccessPolicy = Callable[[str, str], bool]
#: ``legal_basis(agency, message_type)``: the basis on which the agency sends that type (None: none given)
BasisPolicy = Callable[[str, str], "str | None"]


def no_basis(agency: str, message_type: str) -> None:
    """The basis policy of a pipeline given none: no message records a legal basis."""
    return None


#: ``send(question) -> answer``: request/reply over a transport, raising TransportError when none comes
Send = Callable[[Message], Message]


@dataclass(frozen=True)
class Answer:
    """What the hub answers an agency over the exchange the agency opened: signed bytes and their type."""

    body: bytes
    answer_type: str
    """The answer element's name (a receipt, a reply), the message type it is logged under."""


#: ``respond(destination's answer body, question id) -> Answer``: the hub's signed answer to the asker
Respond = Callable[[etree._Element, str], Answer]


@dataclass(frozen=True)
class Inbound:
    """One agency document as the hub received it."""

    agency: str
    system: str
    message_type: str
    destination: str
    raw: bytes
    """The bytes exactly as they arrived (a SOAP request, a file): their SHA-256 goes in the header."""

    source_message_id: str | None = None
    correlation_id: str | None = None
    received_at: datetime | None = None
    require_signature: bool = False
    """Refuse the document unless it carries the agency's valid signature."""

    source: str | None = None
    """Where it came from (a caller's address), for the per-source budget of refusal records."""

    verified_signer: str | None = None
    """Who signed the payload, when the channel already verified it (a WS-Security Body): not verified twice."""
    raw_sha256: str | None = None
    """SHA-256 (lower-case hex) of ``raw`` when the caller has already taken it, so it is taken once."""


@dataclass(frozen=True)
class Receipt:
    """What the hub answers: its message id, and whether this was a repeat."""

    message_id: str
    duplicate: bool = False


class Pipeline:
    """Turns agency documents into signed canonical messages stored for publishing."""

    def __init__(self, *, mappings: Mappings, signer: Signer, verifier: Verifier, log: MessageLog,
                 may_send: AccessPolicy, committer: GroupCommitter | None = None, limits: XmlLimits | None = None,
                 refusal_budget: RefusalBudget | None = None,
                 projections: ProjectionPolicy = send_everything,
                 legal_basis: BasisPolicy = no_basis) -> None:
        self.mappings = mappings
        self.signer = signer
        self.verifier = verifier
        self.log = log
        self.may_send = may_send
        self.projections = projections
        # Recorded with each message as it is accepted: the ledger shows the basis of that day.
        self.legal_basis = legal_basis
        self.limits = limits
        # Threads accepting at once share one commit through the committer (see hub.messagelog.group).
        self._store = committer or log
        # A push announces its record while building it, so a commit can wait a moment to take it along.
        self._coming = committer.coming if committer is not None else contextlib.nullcontext
        self.refusals = RefusalBook(log, refusal_budget)

    # -- in -------------------------------------------------------------------------------

    def accept(self, inbound: Inbound, payload: etree._Element) -> Receipt:
        """Canonicalize and store in the outbox; a repeat returns the first receipt."""
        record = self._checked(inbound, payload)
        return self._stored(inbound, record, enqueue=True)

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

    def check(self, inbound: Inbound, payload: etree._Element) -> Accepted:
        """Everything but storing, for :meth:`accept_batch`; refusals are the batch's (one per file).

        A file is accepted whole or refused whole, so a bad item is not a
        refusal of its own: the caller collects every bad item and refuses
        the file once through :meth:`refuse`.
        """
        return self._canonicalize(inbound, payload)

    def accept_batch(self, records: Sequence[Accepted]) -> BatchResult:
        """Store checked records in one transaction, counting what was stored; repeats are in the result.

        Raises InputError when the log refuses the batch (an id reused with
        other content): the caller refuses the file(s) through :meth:`refuse`.
        """
        result = self.log.accept_many(records)
        stored = set(result.stored)
        counts = Counter((r.source_agency, r.message_type) for r in records if r.message_id in stored)
        for (agency, message_type), count in counts.items():
            metrics.record_received(agency, message_type, count)
        return result

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

    # -- reports a party sends the hub itself (delivery receipts) ---------------------------

    def check_report(self, data: bytes, *, message_type: str,
                     addressed_to: str = "hub") -> tuple[Accepted, etree._Element]:
        """A party's signed canonical ``message_type`` addressed to the hub: the record to store and its body.

        Hardened parse, the signature of a party the trust store pins, the
        header's source agency must be that signer and its type
        ``message_type``, the party must be allowed it (access.toml), the
        body valid against the canonical schema. The record keeps the bytes as received and the hub's own
        signed envelope, as for any accepted message; the party's envelope
        id is its source message id, so a report sent again is a duplicate.
        Anything wrong is refused (recorded, counted) and raised as InputError.
        """
        signer = None
        try:
            verified = self.verifier.verify(parse_xml(data, self.limits))
            signer = verified.signer
            header, body = read_envelope(verified.element)
            _expect_report(header, signer, addressed_to, message_type)
            if not self.may_send(signer, header.message_type):
                raise AccessDeniedError(f"agency {signer!r} may not send {header.message_type}", agency=signer)
            canonical.validate(body)
        except InputError as exc:
            self.refuse(data, agency=signer, code=exc.code, reason=exc.reason)
            raise
        ours = new_header(message_type=header.message_type, source_agency=signer, source_system=header.source_system,
                          destination=addressed_to, raw_payload=data, correlation_id=header.correlation_id,
                          source_message_id=header.message_id)
        envelope = self.signer.sign_canonical(canonical_envelope(ours, body))
        return Accepted.from_header(ours, data, envelope, raw_sha256=ours.payload_digest), body

    def store_report(self, record: Accepted, hops: Sequence[tuple[str, str, str, str | None]]) -> Receipt:
        """Store a checked report with the hops it tells of, in one write; a repeat stores and chains nothing."""
        result = self.log.store_report(record, hops)
        if result.duplicates:
            return Receipt(result.duplicates[0].first_message_id, duplicate=True)
        metrics.record_received(record.source_agency, record.message_type)
        return Receipt(record.message_id)

    # -- refused ----------------------------------------------------------------------------

    def refuse(self, raw: bytes, *, agency: str | None, code: str, reason: str, source: str | None = None,
               input_sha256: str | None = None, input_size: int | None = None) -> str | None:
        """Count a refusal and record a bounded digest of ``raw``; the refusal id, None if only counted.

        ``agency`` must be a registered name or None (an unknown caller), as it
        labels the metric. Beyond the source's budget the refusal is counted but
        only summarised in the log (see :mod:`hub.refusals`).
        """
        agency = agency or "unknown"
        metrics.record_refused(agency, code)
        return self.refusals.keep(raw, agency=agency, reason=f"{code}: {reason}", source=source,
                                  input_sha256=input_sha256, input_size=input_size)

    # -- steps ------------------------------------------------------------------------------

    def _checked(self, inbound: Inbound, payload: etree._Element) -> Accepted:
        try:
            return self._canonicalize(inbound, payload)
        except RabtError as exc:
            exc.agency = exc.agency or inbound.agency
            self.refuse(inbound.raw, agency=inbound.agency, code=exc.code, reason=exc.reason, source=inbound.source)
            raise

    def _stored(self, inbound: Inbound, record: Accepted, *, enqueue: bool, answer: Accepted | None = None) -> Receipt:
        try:
            self._store.accept(record, enqueue=enqueue, answer=answer)
        except DuplicateMessageError as exc:
            return Receipt(exc.first_message_id, duplicate=True)
        except InputError as exc:  # the log's own refusal, e.g. an agency id reused with other content
            self.refuse(inbound.raw, agency=inbound.agency, code=exc.code, reason=exc.reason, source=inbound.source)
            raise
        metrics.record_received(inbound.agency, inbound.message_type)
        return Receipt(record.message_id)

    def _canonicalize(self, inbound: Inbound, payload: etree._Element) -> Accepted:
        if not self.may_send(inbound.agency, inbound.message_type):
            raise AccessDeniedError(
                f"agency {inbound.agency!r} may not send {inbound.message_type}", agency=inbound.agency)
        payload = self._verified(inbound, payload)
        body = self.mappings.transform(inbound.agency, inbound.message_type, payload)
        canonical.validate(body)
        # the search terms from the whole body in hand (the log would otherwise parse the envelope again),
        # before projection: the message is about its worker even when the destination is not told who
        terms = _body_terms(inbound.message_type, body)
        projected = self.for_party(inbound.destination, inbound.message_type, body)
        body = body if projected is None else projected.body
        header = new_header(
            message_type=inbound.message_type, source_agency=inbound.agency, source_system=inbound.system,
            destination=inbound.destination, raw_payload=inbound.raw, correlation_id=inbound.correlation_id,
            source_message_id=inbound.source_message_id, received_at=inbound.received_at,
            raw_sha256=inbound.raw_sha256,
        )
        envelope = self.signer.sign_canonical(canonical_envelope(header, body))
        return Accepted.from_header(header, inbound.raw, envelope, raw_sha256=header.payload_digest,
                                    projection=projected.describe() if projected else None,
                                    legal_basis=self.legal_basis(inbound.agency, inbound.message_type),
                                    search_terms=terms)

    def _verified(self, inbound: Inbound, payload: etree._Element) -> etree._Element:
        if inbound.verified_signer is not None:
            # The channel verified the signature over what it hands in; only the signer is left to match.
            if inbound.verified_signer != inbound.agency:
                raise SignatureError(f"signed by {inbound.verified_signer!r}, not {inbound.agency!r}",
                                     agency=inbound.agency)
            return payload
        if payload.find(f"{{{DS}}}Signature") is None:
            if inbound.require_signature:
                raise SignatureError(f"{inbound.agency} must sign {inbound.message_type}", agency=inbound.agency)
            return payload
        # The agency signed this element as its own document (URI=""): verified as one, which the verifier
        # consumes. A payload still inside a larger tree (its caller's) is copied out of it; one the caller
        # has detached (the gateway, from the SOAP request it no longer reads) is verified as it is.
        standalone = payload if payload.getparent() is None else copy.deepcopy(payload)
        return self.verifier.verify(standalone, expected_signer=inbound.agency).element

    def for_party(self, party: str, message_type: str, body: etree._Element) -> Projected | None:
        """``body`` as ``party`` may receive it, None when it may receive it whole: every road out calls this.

        access.toml lets only optional elements be withheld (checked when it is
        loaded); a message that is still invalid once projected (an alternative
        of a choice withheld, say) is a ConfigError, refused like any input,
        rather than a message its receiver cannot read.
        """
        projection = self.projections(party, message_type)
        if projection is None:
            return None
        projected = projection.apply(body)
        try:
            canonical.validate(projected.body)
        except SchemaError as exc:
            raise ConfigError(f"access.toml fields.{message_type} for {party} leaves an invalid message: "
                              f"{exc.reason}") from exc
        return projected

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


def _expect_report(header, signer: str, addressed_to: str, message_type: str) -> None:
    """SignatureError when the envelope names another sender than its signer, InputError when it is not
    ``message_type`` for ``addressed_to``."""
    if header.source_agency != signer:
        raise SignatureError(f"signed by {signer!r} but sent as {header.source_agency!r}", agency=signer)
    if header.destination != addressed_to or header.message_type != message_type:
        raise InputError(f"{header.message_type} for {header.destination!r} reached {addressed_to!r}, "
                         f"which takes {message_type} only", agency=signer, message_id=header.message_id)


def _body_terms(message_type: str, body: etree._Element) -> tuple[str, ...] | None:
    """The search terms of a body that is its own document (a mapping's result); None: the log reads the envelope."""
    return search.terms_in(message_type, body) if body.getparent() is None else None


def _hub_answer(question_id: str, agency: str, answer: bytes, answer_type: str, *,
               projection: str | None = None) -> Accepted:
    """The record of the hub's signed answer to ``agency`` about message ``question_id``."""
    header = new_header(message_type=answer_type, source_agency="hub", source_system="gateway",
                        destination=agency, raw_payload=answer, correlation_id=question_id)
    # the header's PayloadDigest is the answer's own SHA-256: the log does not take it again
    return Accepted.from_header(header, answer, answer, raw_sha256=header.payload_digest, projection=projection)
