"""Social Protection Fund: income proof from the social insurance and civil-service pension funds.

Declarations only (see :mod:`hub.adapter`): mappings in ``mappings/insurance/``,
contracts in ``schemas/agencies/insurance/``.

One canonical ``IncomeQuery``, two services of the same contract
(``income-proof.xsd``), each answering only for the people it insures and
answering ``Client.NotInsured`` for anyone else. So both are declared for the
query type, in this order, and the outbound worker asks them in turn:

* a query naming its ``Source`` goes to that fund only (``IncomeQuery.xsl``
  answers ``outbound:Skip`` for the other);
* otherwise social insurance is asked first (most applicants work in the
  private sector), then the civil-service pension; the first record wins.
  When both say "not insured" the asker gets a ``not-found`` Fault; when one
  fund is unreachable and the other does not know the person, there is no
  conclusion yet and the delivery is retried.

Social insurance subscribes to ``WorkerDataCorrected`` (``[subscriptions]``
in routes.toml): each copy is delivered to its ``NotifyInsuredPersonCorrected``,
a notification; the fund's RECEIVED or NOT_INSURED is its acknowledgement.
"""

from __future__ import annotations

from hub.adapter import Adapter, OutboundService


def _fund(system: str, wsdl: str, service: str, port: str, endpoint_setting: str) -> OutboundService:
    return OutboundService(query_type="IncomeQuery", reply_type="IncomeRecord", wsdl=wsdl,
                           operation="GetIncomeProof", system=system, endpoint_setting=endpoint_setting,
                           service=service, port=port)


OUTBOUND: tuple[OutboundService, ...] = (
    _fund("social-insurance", "social-insurance.wsdl", "SocialInsuranceService", "SocialInsurancePort",
          "RABT_INSURANCE_SOCIAL_INSURANCE_URL"),
    _fund("civil-service-pension", "civil-service-pension.wsdl", "CivilServicePensionService",
          "CivilServicePensionPort", "RABT_INSURANCE_CIVIL_SERVICE_PENSION_URL"),
    OutboundService(query_type="WorkerDataCorrected", reply_type=None, wsdl="social-insurance.wsdl",
                    operation="NotifyInsuredPersonCorrected", system="social-insurance",
                    endpoint_setting="RABT_INSURANCE_SOCIAL_INSURANCE_URL", service="SocialInsuranceService",
                    port="SocialInsurancePort"),
)

ADAPTER = Adapter(
    name="insurance",
    title="Social Protection Fund (social insurance, civil-service pension)",
    outbound=OUTBOUND,
)
