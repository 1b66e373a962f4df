"""What the hub sends the labour court over SOAP: complaint referrals.

Licensing's ``LabourCaseReferral`` (published on the courts queue, no reply
expected) is delivered to ``ReceiveComplaintReferral`` (``labour-court.wsdl``,
``RABT_COURTS_LABOUR_COURT_URL``). The court's acknowledgement (the case
number) is all that comes back; the case's life reaches licensing through
the court's batch files. ``reply_type=None`` marks the one-way service.

The contract's ``GetCaseStatus`` lookup has no canonical query yet, so it is
not declared.
"""

from __future__ import annotations

from hub.adapter import OutboundService

OUTBOUND: tuple[OutboundService, ...] = (
    OutboundService(
        query_type="LabourCaseReferral", reply_type=None, wsdl="labour-court.wsdl",
        operation="ReceiveComplaintReferral", system="labour-court", endpoint_setting="RABT_COURTS_LABOUR_COURT_URL",
        service="LabourCourtService", port="LabourCourtPort",
    ),
)
