"""What the hub sends the labour court over SOAP: complaint referrals and case-status look-ups.

Both are operations of ``LabourCourtService`` (``labour-court.wsdl``, at
``RABT_COURTS_LABOUR_COURT_URL``), one system, one circuit breaker:

* Licensing's ``LabourCaseReferral`` (published on the courts queue, no reply
  expected) is delivered to ``ReceiveComplaintReferral``. The court's
  acknowledgement (the case number) is all that comes back; the case's life
  reaches licensing through the court's batch files. ``reply_type=None``
  marks the one-way service.
* Licensing's ``LabourCaseStatusQuery`` is answered by ``GetCaseStatus`` with a
  ``LabourCaseStatusRecord`` (mappings ``LabourCaseStatusQuery.xsl`` /
  ``LabourCaseStatusRecord.xsl``); an unknown case number
  (``Client.UnknownCase``) comes back as a canonical ``not-found`` Fault
  (``AgencyFault.xsl``).
"""

from __future__ import annotations

from hub.adapter import OutboundService

OUTBOUND: tuple[OutboundService, ...] = (
    OutboundService(
        query_type="LabourCaseReferral", reply_type=None, wsdl="labour-court.wsdl",
        operation="ReceiveComplaintReferral", system="labour-court", endpoint_setting="RABT_COURTS_LABOUR_COURT_URL",
        service="LabourCourtService", port="LabourCourtPort",
    ),
    OutboundService(
        query_type="LabourCaseStatusQuery", reply_type="LabourCaseStatusRecord", wsdl="labour-court.wsdl",
        operation="GetCaseStatus", system="labour-court", endpoint_setting="RABT_COURTS_LABOUR_COURT_URL",
        service="LabourCourtService", port="LabourCourtPort",
    ),
)
