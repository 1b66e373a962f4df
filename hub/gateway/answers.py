"""Every answer the gateway sends is signed by the hub, in the style the request was signed in.

* a request signed the enveloped way (a ``ds:Signature`` in its payload
  element) gets its answer element signed the same way: the ``ds:Signature``
  is the last child of the receipt or reply, and of the ``ServiceError`` in a
  fault's detail (its ``ErrorCode`` names the refusal, its ``ErrorText`` is the
  faultstring, so the signature covers what the fault says);
* a request signed with WS-Security gets a ``wsse:Security`` header whose
  signature covers the whole response Body (the fault included);
* when the style cannot be known — the request was not SOAP, came for an
  unknown agency, with the wrong media type — or the agency declares no fault
  detail, the fault is signed with WS-Security over the Body.

Faults always travel with HTTP 500 (WS-I Basic Profile R1126), so SOAP
stacks raise them as faults rather than transport errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from lxml import etree

from hub.signing import Signer
from hub.soap import SoapFault, envelope, envelope_around, fault_element, service_error
from hub.wssec import signed_envelope


class Style(Enum):
    """How a request was signed, and so how its answer is."""

    ENVELOPED = "enveloped"
    WS_SECURITY = "ws-security"


@dataclass(frozen=True)
class Reply:
    """What goes back over HTTP: the signed envelope and its status (200, or 500 for any fault)."""

    body: bytes
    status: int = 200


class AnswerSigner:
    """Signs answers and faults with the hub's identity."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def answer(self, payload: etree._Element, style: Style) -> Reply:
        """A receipt or reply, signed."""
        if style is Style.WS_SECURITY:
            return Reply(signed_envelope(payload, self.signer))
        return Reply(envelope_around(self.signer.sign_bytes(payload)))

    def fault(self, fault: SoapFault, style: Style, detail_namespace: str | None) -> Reply:
        """A fault, signed; HTTP 500 whatever the fault."""
        if style is Style.ENVELOPED and detail_namespace:
            detail = fault.detail if fault.detail is not None else service_error(
                detail_namespace, fault.code, fault.text)
            signed = SoapFault(fault.code, fault.text, detail=self.signer.sign(detail))
            return Reply(envelope(fault_element(signed)), 500)
        return Reply(signed_envelope(fault_element(fault), self.signer), 500)
