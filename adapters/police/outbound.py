"""What the hub asks or tells the police.

* The civil registry's marital-status enquiry: licensing's ``CivilStatusQuery``
  arrives on the police queue; the outbound worker calls ``GetMaritalStatus``
  (``civil-registry.wsdl``) at ``RABT_POLICE_CIVIL_REGISTRY_URL`` and answers
  with a ``CivilStatusRecord`` (mappings ``CivilStatusQuery.xsl`` /
  ``CivilStatusRecord.xsl``).
* Transfer of services (``transfer.wsdl``, at ``RABT_POLICE_TRANSFER_URL``):
  licensing's ``TransferEligibilityQuery`` is answered by
  ``CheckTransferEligibility`` with a ``TransferEligibilityRecord`` (the
  worker's residence, presence and absconding report); licensing's
  ``TransferCompleted`` is delivered to ``NotifyTransferCompleted``, a
  notification (``reply_type=None``): the police's acknowledgement is all
  that comes back.
* Worker data corrections: the police subscribe to ``WorkerDataCorrected``
  (``[subscriptions]`` in routes.toml); each copy is delivered to
  ``NotifyWorkerDataCorrected`` on the same residence service, a notification.

Faults go through ``AgencyFault.xsl``: an unknown civil number → ``not-found``.
"""

from __future__ import annotations

from hub.adapter import OutboundService

_TRANSFER = {"wsdl": "transfer.wsdl", "system": "residence", "endpoint_setting": "RABT_POLICE_TRANSFER_URL",
             "service": "TransferService", "port": "TransferPort"}

OUTBOUND: tuple[OutboundService, ...] = (
    OutboundService(
        query_type="CivilStatusQuery", reply_type="CivilStatusRecord", wsdl="civil-registry.wsdl",
        operation="GetMaritalStatus", system="civil-registry", endpoint_setting="RABT_POLICE_CIVIL_REGISTRY_URL",
        service="CivilRegistryService", port="CivilRegistryPort",
    ),
    OutboundService(query_type="TransferEligibilityQuery", reply_type="TransferEligibilityRecord",
                    operation="CheckTransferEligibility", **_TRANSFER),
    OutboundService(query_type="TransferCompleted", reply_type=None, operation="NotifyTransferCompleted",
                    **_TRANSFER),
    OutboundService(query_type="WorkerDataCorrected", reply_type=None, operation="NotifyWorkerDataCorrected",
                    **_TRANSFER),
)
