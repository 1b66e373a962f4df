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
    ask, answer, answered, accept_answered   the roads where an answer comes back (:mod:`hub.pipeline_answers`)
    check_report + store_report   a party's report to the hub itself (:mod:`hub.pipeline_reports`)
    refuse        anything refused before or inside it (a bounded digest, budgeted per source)

This module holds the pushed and filed roads and the steps every road shares;
what goes in and comes out (:class:`~hub.pipeline_types.Inbound`,
:class:`~hub.pipeline_types.Receipt`...) is in :mod:`hub.pipeline_types`.

Publishing is the outbox relay's job: a message is safe once ``accept``
returns, whether or not the broker is up.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Sequence

from lxml import etree

from hub import canonical, metrics
from hub.config import XmlLimits
from hub.envelope import canonical_envelope, new_header
from hub.errors import (
    AccessDeniedError, ConfigError, DuplicateMessageError, InputError, RabtError, SchemaError, SignatureError,
)
from hub.mapping import Mappings
from hub.messagelog import Accepted, BatchResult, GroupCommitter, MessageLog, search
from hub.pipeline_answers import Answers
from hub.pipeline_reports import Reports
from hub.pipeline_types import AccessPolicy, BasisPolicy, Inbound, Receipt, no_basis
from hub.projection import Projected, ProjectionPolicy, send_everything
from hub.refusals import RefusalBook, RefusalBudget
from hub.signing import DS, Signer, Verifier


class Pipeline(Answers, Reports):
    """Turns agency documents into signed canonical messages stored for publishing.

    The roads where an answer comes back and the report road are mixed in
    (:class:`~hub.pipeline_answers.Answers`, :class:`~hub.pipeline_reports.Reports`).
    """

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
        envelope, envelope_sha256 = self.signer.sign_canonical_digested(canonical_envelope(header, body))
        return Accepted.from_header(header, inbound.raw, envelope, raw_sha256=header.payload_digest,
                                    projection=projected.describe() if projected else None,
                                    legal_basis=self.legal_basis(inbound.agency, inbound.message_type),
                                    search_terms=terms, envelope_sha256=envelope_sha256)

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


def _body_terms(message_type: str, body: etree._Element) -> tuple[str, ...] | None:
    """The search terms of a body that is its own document (a mapping's result); None: the log reads the envelope."""
    return search.terms_in(message_type, body) if body.getparent() is None else None

