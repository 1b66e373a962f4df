"""The inbound pipeline: agency document → signed canonical message in the outbox.

    verify (if signed) → access check → map → validate → envelope → sign → log

Plain functions and one small class wired with its parts passed in: every
channel — the SOAP gateway, the file-drop watcher, adapter workers handling
an agency's answer — calls :meth:`Pipeline.accept` and gets the same checks.
Publishing is the outbox relay's job: a message is safe once ``accept``
returns, whether or not the broker is up.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from hub import canonical, metrics
from hub.envelope import canonical_envelope, new_header
from hub.errors import AccessDeniedError, DuplicateMessageError, RabtError, SignatureError
from hub.mapping import Mappings
from hub.messagelog import Accepted, GroupCommitter, MessageLog
from hub.signing import DS, Signer, Verifier

#: ``may_send(agency, message_type)``: the access rights, kept as data by the caller
AccessPolicy = Callable[[str, str], bool]


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


@dataclass(frozen=True)
class Receipt:
    """What the hub answers: its message id, and whether this was a repeat."""

    message_id: str
    duplicate: bool = False


class Pipeline:
    """Turns agency documents into signed canonical messages stored for publishing."""

    def __init__(self, *, mappings: Mappings, signer: Signer, verifier: Verifier,
                 log: MessageLog, may_send: AccessPolicy, committer: GroupCommitter | None = None) -> None:
        self.mappings = mappings
        self.signer = signer
        self.verifier = verifier
        self.log = log
        self.may_send = may_send
        # Threads accepting at once share one commit through the committer (see hub.messagelog.group).
        self._store = committer or log

    def canonicalize(self, inbound: Inbound, payload: etree._Element) -> tuple[Accepted, etree._Element]:
        """Everything but storing: returns the record to log and the canonical body."""
        if not self.may_send(inbound.agency, inbound.message_type):
            raise AccessDeniedError(
                f"agency {inbound.agency!r} may not send {inbound.message_type}", agency=inbound.agency)
        payload = self._verified(inbound, payload)
        body = self.mappings.transform(inbound.agency, inbound.message_type, payload)
        canonical.validate(body)
        header = new_header(
            message_type=inbound.message_type, source_agency=inbound.agency, source_system=inbound.system,
            destination=inbound.destination, raw_payload=inbound.raw, correlation_id=inbound.correlation_id,
            source_message_id=inbound.source_message_id, received_at=inbound.received_at,
        )
        envelope = self.signer.sign_canonical(canonical_envelope(header, body))
        return Accepted.from_header(header, inbound.raw, envelope), body

    def accept(self, inbound: Inbound, payload: etree._Element) -> Receipt:
        """Canonicalize and store in the outbox; a repeat returns the first receipt."""
        try:
            record, _ = self.canonicalize(inbound, payload)
        except RabtError as exc:
            exc.agency = exc.agency or inbound.agency
            self.log.refuse(inbound.raw, inbound.agency, f"{exc.code}: {exc.reason}")
            metrics.record_refused(inbound.agency, exc.code)
            raise
        try:
            receipt = Receipt(self._store.accept(record))
        except DuplicateMessageError as exc:
            return Receipt(exc.first_message_id, duplicate=True)
        metrics.record_received(inbound.agency, inbound.message_type)
        metrics.mark_processed()
        return receipt

    def _verified(self, inbound: Inbound, payload: etree._Element) -> etree._Element:
        if payload.find(f"{{{DS}}}Signature") is None:
            if inbound.require_signature:
                raise SignatureError(f"{inbound.agency} must sign {inbound.message_type}", agency=inbound.agency)
            return payload
        # The agency signed this element as its own document (URI=""); taken out of
        # the SOAP body it verifies the same, as exclusive C14N ignores the context.
        standalone = copy.deepcopy(payload)
        return self.verifier.verify(standalone, expected_signer=inbound.agency).element
