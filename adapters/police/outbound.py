"""What the hub asks the police: the civil registry's marital-status enquiry.

Licensing's ``CivilStatusQuery`` arrives on the police queue; the outbound
worker calls ``GetMaritalStatus`` (``civil-registry.wsdl``) at the URL in
``RABT_POLICE_CIVIL_REGISTRY_URL`` and answers with a ``CivilStatusRecord``
(mappings ``CivilStatusQuery.xsl`` / ``CivilStatusRecord.xsl``; the registry's
faults through ``AgencyFault.xsl``, unknown civil number → ``not-found``).
"""

from __future__ import annotations

from hub.adapter import OutboundService

OUTBOUND: tuple[OutboundService, ...] = (
    OutboundService(
        query_type="CivilStatusQuery", reply_type="CivilStatusRecord", wsdl="civil-registry.wsdl",
        operation="GetMaritalStatus", system="civil-registry", endpoint_setting="RABT_POLICE_CIVIL_REGISTRY_URL",
        service="CivilRegistryService", port="CivilRegistryPort",
    ),
)
