"""What the police send to the hub's SOAP gateway (``schemas/agencies/police/inbound.wsdl``).

Border notifications (``border.xsd``) and visa-desk messages (``visa.xsd``)
share one endpoint, ``/soap/police``. Every request carries the police's
``MsgId`` (the de-duplication key: a resend keeps it) and the police's
enveloped signature. The visa check is the one request/reply operation: the
gateway asks licensing and answers with its verdict.
"""

from __future__ import annotations

from hub.adapter import InboundOperation

BORDER_NS = "urn:om:rop:border:2020"
VISA_NS = "urn:om:rop:visa:2021"
GATEWAY_NS = "urn:om:rop:hubgateway:2020"

_MSG_ID = "a:MsgId"


def _border(operation: str, message_type: str) -> InboundOperation:
    return InboundOperation(
        operation=operation, message_type=message_type, destination="licensing", system="border",
        source_id_xpath=_MSG_ID, require_signature=True, response_mapping="NotificationReceipt",
    )


INBOUND: tuple[InboundOperation, ...] = (
    _border("NotifyArrival", "WorkerArrival"),
    _border("NotifyDeparture", "WorkerDeparture"),
    _border("NotifyResidenceRenewal", "ResidenceRenewal"),
    InboundOperation(
        operation="ReportVisaIssued", message_type="VisaIssued", destination="licensing", system="visa",
        source_id_xpath=_MSG_ID, require_signature=True, response_mapping="VisaReportReceipt",
    ),
    InboundOperation(
        operation="CheckVisaEligibility", message_type="VisaEligibilityQuery", destination="licensing",
        system="visa", source_id_xpath=_MSG_ID, require_signature=True,
        response_mapping="CheckVisaEligibilityResponse", reply_type="VisaEligibilityResult",
    ),
)
