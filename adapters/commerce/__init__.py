"""Ministry of Commerce (commercial registry) and Chamber of Commerce: what licensing asks them.

Declarations only (see :mod:`hub.adapter`): mappings in ``mappings/commerce/``,
contracts in ``schemas/agencies/commerce/``. Two services, two endpoints:

* ``CommercialRegistrationQuery`` → ``GetCommercialRegistration`` (``registry.wsdl``,
  ``RABT_COMMERCE_REGISTRY_URL``) → ``CommercialRegistrationRecord``;
* ``ChamberMembershipQuery`` → ``GetChamberMembership`` (``chamber.wsdl``,
  ``RABT_COMMERCE_CHAMBER_URL``) → ``ChamberMembershipRecord``.

Unknown CR numbers (``Client.UnknownCR``, ``Client.NotAMember``) come back as
canonical ``not-found`` Faults (``AgencyFault.xsl``).
"""

from __future__ import annotations

from hub.adapter import Adapter, OutboundService

OUTBOUND: tuple[OutboundService, ...] = (
    OutboundService(
        query_type="CommercialRegistrationQuery", reply_type="CommercialRegistrationRecord",
        wsdl="registry.wsdl", operation="GetCommercialRegistration", system="commercial-registry",
        endpoint_setting="RABT_COMMERCE_REGISTRY_URL", service="CommercialRegistryService",
        port="CommercialRegistryPort",
    ),
    OutboundService(
        query_type="ChamberMembershipQuery", reply_type="ChamberMembershipRecord",
        wsdl="chamber.wsdl", operation="GetChamberMembership", system="chamber-of-commerce",
        endpoint_setting="RABT_COMMERCE_CHAMBER_URL", service="ChamberMembershipService",
        port="ChamberMembershipPort",
    ),
)

ADAPTER = Adapter(
    name="commerce",
    title="Ministry of Commerce, Industry and Investment Promotion; Oman Chamber of Commerce and Industry",
    outbound=OUTBOUND,
)
