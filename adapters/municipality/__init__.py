"""Muscat Municipality health cards: asks the ministry for a worker's record (scaffolded by ``rabt adapter new municipality``).

Declarations only (see :mod:`hub.adapter`): mappings in ``mappings/municipality/``,
contract in ``schemas/agencies/municipality/`` (served by the gateway at
``/soap/municipality?wsdl``), simulator in ``simulators/municipality/``, sample in
``tests/samples/municipality/``.

Before issuing a health card, the municipality's office asks for the worker's
current record (``GetWorkerRecord``, signed by the municipality): the gateway
maps it to a canonical ``WorkerRecordQuery``, asks licensing over the transport
and answers with licensing's ``WorkerRecord`` — only the fields ``access.toml``
grants the municipality (``fields.WorkerRecord``); the hub removes the rest
before it signs the answer.
"""

from __future__ import annotations

from hub.adapter import Adapter, InboundOperation

NS = "urn:agency:municipality:hub:1"

INBOUND: tuple[InboundOperation, ...] = (
    InboundOperation(
        operation="GetWorkerRecord", message_type="WorkerRecordQuery", destination="licensing",
        system="health-cards", source_id_xpath="a:MessageId", require_signature=True,
        response_mapping="WorkerRecordResponse", reply_type="WorkerRecord",
    ),
)

ADAPTER = Adapter(
    name="municipality",
    title="Muscat Municipality health cards",
    inbound=INBOUND,
    gateway_wsdl="municipality.wsdl",
    fault_namespace=NS,  # the WSDL's ServiceError fault detail
    namespaces={"ag": NS},
)
