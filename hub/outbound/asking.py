"""Asking an agency: the outbound worker's calls, from a canonical query to a canonical answer.

For each agency service declared for the query type: the query's fields the
agency is granted (access.toml), mapped to the agency's request
(``mappings/<agency>/<QueryType>.xsl``; a mapping may decline a service by
producing ``outbound:Skip``), checked against the agency's contract, called
(retries, circuit breaker), the answer read with the hardened parser, checked
against the contract, mapped to canonical (``mappings/<agency>/<ReplyType>.xsl``)
and validated. :class:`AgencyCalls` is the part of
:class:`hub.outbound.worker.OutboundWorker` that does it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree

from hub import canonical
from hub.adapter import OutboundService
from hub.contracts import AgencyContracts
from hub.envelope import Header
from hub.errors import AgencyUnavailableError, InputError, MappingError
from hub.mapping import Mappings
from hub.outbound.answers import fault_body, fault_document, utc_text
from hub.outbound.client import AgencyClient, AgencySoapFault, AnswerRefusedError
from hub.outbound.config import OutboundSettings
from hub.outbound.resilience import Breakers, call_guarded
from hub.pipeline import Pipeline

SKIP_NS = "urn:rabt:outbound"
SKIP = f"{{{SKIP_NS}}}Skip"
"""A request mapping's way to say "this service does not take this query" (e.g. another fund)."""

FAULT_MAPPING = "AgencyFault"
"""Optional mapping ``mappings/<agency>/AgencyFault.xsl``: agency SOAP Fault → canonical Fault."""


def client_key(service: OutboundService) -> tuple[str, str]:
    """Which agency client calls ``service``: one per (system, operation), as a client calls one operation
    and one system may offer several (the labour court: case status and referrals)."""
    return service.system, service.operation


@dataclass(frozen=True)
class Reply:
    """A canonical answer body, the agency bytes it came from, and which system gave it."""

    body: etree._Element
    raw: bytes
    system: str


class AgencyCalls:
    """Calls an agency's services for a canonical query; what the worker's handler asks with."""

    agency: str
    clients: dict[tuple[str, str], AgencyClient]
    mappings: Mappings
    pipeline: Pipeline
    contracts: AgencyContracts
    breakers: Breakers
    settings: OutboundSettings
    _trail: threading.local  # the hops of the delivery this thread handles

    def ask(self, header: Header, query: etree._Element, services: list[OutboundService]) -> Reply:
        """The first record any declared service gives; else its fault, or the outage.

        The agency is asked with only the fields of the query it is granted
        (access.toml), withheld before any mapping builds its request: the
        projection is chained as a ``projected`` hop of the query.
        """
        projected = self.pipeline.for_party(self.agency, header.message_type, query)
        if projected is not None:
            query = projected.body
            self._hop(header.message_id, "projected", projected.describe())
        faults: list[AgencySoapFault] = []
        outage: AgencyUnavailableError | None = None
        for service in services:
            request = self._request(service, header, query)
            if request is None:
                continue
            try:
                return self._call(service, header, request)
            except AgencySoapFault as fault:
                faults.append(fault)
            except AgencyUnavailableError as exc:
                outage = outage or exc
        if outage is not None:
            raise outage  # someone else may hold the record: no conclusion while one is down
        if faults:
            raise _most_telling(faults)
        raise MappingError(f"no {self.agency} service takes this {header.message_type}",
                           message_id=header.message_id, agency=self.agency)

    def _request(self, service: OutboundService, header: Header, query: etree._Element) -> etree._Element | None:
        request = self.mappings.transform(self.agency, service.query_type, query, **self._parameters(service, header))
        if request.tag == SKIP:
            return None
        self.contracts.validate(request)
        return request

    def _call(self, service: OutboundService, header: Header, request: etree._Element) -> Reply:
        client = self.clients[client_key(service)]
        self._hop(header.message_id, "called", f"{self.agency}/{service.system} {service.operation}")
        breaker = self.breakers.get(self.agency, service.system, self.settings)
        answer = call_guarded(lambda: client.post(request), breaker, self.settings, agency=self.agency)
        try:
            return self._read(service, header, client, answer)
        except InputError as exc:
            reason = f"answer of {self.agency}/{service.system} refused: {exc.reason}"
            self.pipeline.refuse(answer.raw, agency=self.agency, code=exc.code, reason=reason)
            raise AnswerRefusedError(reason, raw=answer.raw, code=exc.code, message_id=header.message_id,
                                     agency=self.agency) from exc

    def _hop(self, message_id: str, status: str, detail: str) -> None:
        """A hop of the delivery being traced, chained with the others once it is handled."""
        hops = getattr(self._trail, "hops", None)
        if hops is not None:
            hops.append((message_id, status, detail, None))
        elif status == "projected":  # handled without a trace (tests, tools): the projection is still recorded
            self.pipeline.log.record_hops([(message_id, status, detail, None)])

    def _read(self, service: OutboundService, header: Header, client: AgencyClient, answer) -> Reply:
        element = client.read(answer)
        self.contracts.validate(element)
        if not service.reply_type:
            return Reply(element, answer.raw, service.system)
        body = self.mappings.transform(self.agency, service.reply_type, element, **self._parameters(service, header))
        canonical.validate(body)
        return Reply(body, answer.raw, service.system)

    def _parameters(self, service: OutboundService, header: Header) -> dict[str, str]:
        return {"system": service.system, "query_message_id": header.message_id,
                "now": utc_text()}

    def _canonical_fault(self, fault: AgencySoapFault, header: Header) -> etree._Element:
        if not self.mappings.has(self.agency, FAULT_MAPPING):
            return fault_body(code="agency-fault", reason=fault.fault_text, agency=self.agency,
                              original_message_id=header.message_id, recoverable=not fault.client_side,
                              detail=f"{fault.system}: {fault.fault_code}")
        body = self.mappings.transform(self.agency, FAULT_MAPPING, fault_document(fault, query_id=header.message_id))
        canonical.validate(body)
        return body


def _most_telling(faults: list[AgencySoapFault]) -> AgencySoapFault:
    """One fault for several services: a server-side one (may change) over "not here" ones."""
    chosen = next((f for f in faults if not f.client_side), faults[-1])
    if len(faults) > 1:
        chosen.fault_text = "; ".join(f"{f.system}: {f.fault_text}" for f in faults)
    return chosen
