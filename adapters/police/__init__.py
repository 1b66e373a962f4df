"""Royal Oman Police: border notifications and visa checks in (SOAP gateway).

Declarations only (see :mod:`hub.adapter`); mappings are in
``mappings/police/``, contracts in ``schemas/agencies/police/``.
"""

from __future__ import annotations

from adapters.police.inbound import BORDER_NS, INBOUND, VISA_NS
from adapters.police.outbound import OUTBOUND
from hub.adapter import Adapter

ADAPTER = Adapter(
    name="police",
    title="Royal Oman Police",
    inbound=INBOUND,
    outbound=OUTBOUND,
    gateway_wsdl="inbound.wsdl",
    fault_namespace=BORDER_NS,  # the WSDL's ServiceError fault detail is bdr:ServiceError
    namespaces={"bdr": BORDER_NS, "visa": VISA_NS},
)
