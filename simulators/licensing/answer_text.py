"""Licensing's answers written as text: the VisaEligibilityResult and the DeliveryReceipt in exclusive C14N form.

Every visa check is answered with one. Built as a tree of six elements and
serialized twice (for the payload's digest and for the envelope's canonical
form), it cost more than the answer's header; written as text it is the same
bytes as the tree :mod:`canonical_io`'s element builders would make, in its
canonical form, and serves as the payload and the envelope's body at once.
Likewise every applied message's outcome in a DeliveryReceipt: as a tree,
three elements an outcome, the receipt cost ~51k instructions per message
(callgrind), as much as reading the message's fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hub.envelope import c14n_text
from hub.errors import SchemaError
from simulators.licensing import rules
from simulators.licensing.canonical_io import NAMESPACE
from simulators.licensing.receipt_store import Outcome

_RESULT_OPEN = f'<rabt:VisaEligibilityResult xmlns:rabt="{NAMESPACE}">'
_RECEIPT_OPEN = f'<rabt:DeliveryReceipt xmlns:rabt="{NAMESPACE}">'
#: the schema's ReasonCode
_CODE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_ELIGIBLE = {True: "<rabt:Eligible>true</rabt:Eligible>", False: "<rabt:Eligible>false</rabt:Eligible>"}
#: characters XML 1.0 cannot carry (lxml refuses them in a tree), and lone surrogates UTF-8 cannot encode
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def visa_eligibility_result(licence_number: str, verdict: rules.VisaAnswer) -> bytes:
    """The VisaEligibilityResult answering a VisaEligibilityQuery, in exclusive C14N form.

    SchemaError when a value holds a character XML cannot carry.
    """
    parts = [_RESULT_OPEN, _text("LicenceNumber", licence_number), _ELIGIBLE[verdict.eligible],
             "<rabt:Reason>", _text("Code", verdict.reason.code)]
    if verdict.reason.text:
        parts.append(f'<rabt:Text xml:lang="en">{c14n_text(verdict.reason.text[:4000])}</rabt:Text>')
    parts.append("</rabt:Reason>")
    if verdict.remaining is not None:
        parts.append(_text("RemainingVacancies", str(verdict.remaining)))
    text = "".join(parts) + "</rabt:VisaEligibilityResult>"
    if bad := _NOT_XML.search(text):
        raise SchemaError(f"VisaEligibilityResult would hold a character XML cannot carry (U+{ord(bad.group()):04X})")
    return text.encode()


def _text(tag: str, value: str) -> str:
    return f"<rabt:{tag}>{c14n_text(value)}</rabt:{tag}>"


def delivery_receipt(consumer: str, committed_at: str, outcomes: Sequence[Outcome]) -> bytes:
    """The DeliveryReceipt listing ``outcomes`` in exclusive C14N form. A failure's code the schema would refuse
    is "internal"; a character XML cannot carry in a reason becomes U+FFFD (the tree refused the whole receipt)."""
    parts = [_RECEIPT_OPEN, _text("Consumer", consumer), _text("CommittedAt", committed_at)]
    for message_id, result, code, reason in outcomes:
        parts.append(f"<rabt:Outcome>{_text('MessageId', message_id)}{_text('Result', result)}")
        if result == "failed":
            parts.append(_text("Code", code if _CODE.fullmatch(code or "") else "internal"))
            parts.append(_text("Reason", _NOT_XML.sub("\ufffd", reason or "no reason given")))
        parts.append("</rabt:Outcome>")
    text = "".join(parts) + "</rabt:DeliveryReceipt>"
    if bad := _NOT_XML.search(text):
        raise SchemaError(f"DeliveryReceipt would hold a character XML cannot carry (U+{ord(bad.group()):04X})")
    return text.encode()
