"""Reports a party sends the hub itself (delivery receipts): checked and stored by the pipeline.

A report is not agency input to map and route: it is a party's signed
canonical message addressed to the hub. These are methods of
:class:`hub.pipeline.Pipeline`, kept here as the mixin :class:`Reports`
because their checks differ from the push road's (the party's own envelope,
not a mapping), while refusals and metrics still go through the pipeline.
:mod:`hub.receipts` is their caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from hub import canonical, metrics
from hub.config import XmlLimits
from hub.envelope import canonical_envelope, new_header, read_envelope
from hub.errors import AccessDeniedError, InputError, SignatureError
from hub.messagelog import Accepted, MessageLog
from hub.pipeline_types import AccessPolicy, Receipt
from hub.signing import Signer, Verifier
from hub.xmlsafe import parse_xml


class Reports:
    """The report road of :class:`hub.pipeline.Pipeline` (a mixin: the pipeline holds the parts)."""

    log: MessageLog
    signer: Signer
    verifier: Verifier
    may_send: AccessPolicy
    limits: XmlLimits | None

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


def _expect_report(header, signer: str, addressed_to: str, message_type: str) -> None:
    """SignatureError when the envelope names another sender than its signer, InputError when it is not
    ``message_type`` for ``addressed_to``."""
    if header.source_agency != signer:
        raise SignatureError(f"signed by {signer!r} but sent as {header.source_agency!r}", agency=signer)
    if header.destination != addressed_to or header.message_type != message_type:
        raise InputError(f"{header.message_type} for {header.destination!r} reached {addressed_to!r}, "
                         f"which takes {message_type} only", agency=signer, message_id=header.message_id)
