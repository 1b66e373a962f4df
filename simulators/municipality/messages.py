"""What Muscat Municipality health cards sends the hub, built from the deterministic population.

:class:`MunicipalityMessages` writes the agency's requests (unsigned) in its own
dialect (``schemas/agencies/municipality/municipality.xsd``), the way
:class:`simulators.police.client.PoliceMessages` does for the police;
:class:`~simulators.municipality.client.MunicipalityClient` signs and posts them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from lxml import etree
from lxml.builder import ElementMaker

from simulators.population import Worker

NS = "urn:agency:municipality:hub:1"
#: the fields the municipality's contract lets it name (``ag:FieldName``)
FIELD_NAMES = frozenset({"NameAr", "NameEn", "ResidentCardNo", "Nationality", "ProfessionCode", "EmployerCRNo",
                         "LicenceNo", "WorkerStatus"})


def new_message_id() -> str:
    """A fresh municipality message id (its own numbering, in the contract's shape)."""
    return f"MUN-HC-{uuid.uuid4().hex[:16].upper()}"


class MunicipalityMessages:
    """Builds Muscat Municipality health cards's requests for population workers."""

    def __init__(self) -> None:
        self._e = ElementMaker(namespace=NS, nsmap={"ag": NS})

    def record_query(self, worker: Worker | str, *, fields: Iterable[str] = (),
                     msg_id: str | None = None) -> etree._Element:
        """``GetWorkerRecord`` for ``worker`` (or a resident card number), asking for ``fields`` (all if none)."""
        e = self._e
        card = worker if isinstance(worker, str) else worker.civil_number
        return e.GetWorkerRecord(e.MessageId(msg_id or new_message_id()), e.ResidentCardNo(card),
                                 *(e.Field(name) for name in fields))
