"""What an adapter package declares: the agency's channels, as data.

An adapter is a package under ``adapters/`` whose entry point (group
``rabt.adapters``) names an :class:`Adapter` object. The hub reads these
declarations and runs the shared machinery — SOAP gateway, outbound SOAP
workers, file drops — for each; the package itself holds no I/O loop.
Mappings live in ``mappings/<adapter name>/`` and contracts in
``schemas/agencies/<adapter name>/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from hub import resources

#: the agencies' contracts (``<agency>/*.wsdl``, ``*.xsd``), a package resource
AGENCY_SCHEMAS = resources.agency_schemas()


@dataclass(frozen=True)
class InboundOperation:
    """A SOAP operation the agency calls on the hub's gateway."""

    operation: str
    """Local name of the request element in the SOAP body (document/literal)."""

    message_type: str
    """Canonical type the mapping ``mappings/<agency>/<message_type>.xsl`` produces."""

    destination: str
    """Where the canonical message goes (a queue in routes.toml)."""

    system: str
    """The agency's system that sends it (header SourceSystem)."""

    source_id_xpath: str | None = None
    """XPath (``a`` = the request's namespace) of the agency's own message id, for de-duplication."""

    require_signature: bool = True
    """Refuse the request unless its payload is signed by the agency."""

    response_mapping: str = "Receipt"
    """Mapping (``mappings/<agency>/<name>.xsl``) that writes the agency's SOAP answer:
    from the gateway's receipt document for one-way operations, from the canonical
    answer for request/reply ones. Parameters ``source_message_id`` and
    ``hub_message_id`` are passed to it."""

    reply_type: str | None = None
    """For request/reply: the canonical answer type the gateway waits for."""


@dataclass(frozen=True)
class OutboundService:
    """An agency SOAP service the hub calls to answer a canonical query."""

    query_type: str
    """Canonical query consumed from the agency's queue, e.g. ``CivilStatusQuery``."""

    reply_type: str
    """Canonical answer produced, e.g. ``CivilStatusRecord``."""

    wsdl: str
    """WSDL path relative to ``schemas/agencies/<agency>/`` (the one copy the simulator serves)."""

    operation: str
    """Operation called on the service."""

    system: str
    """The agency system that answers (header SourceSystem)."""

    endpoint_setting: str
    """Name of the environment variable holding the service URL, e.g. ``RABT_POLICE_CIVIL_REGISTRY_URL``."""

    service: str | None = None
    port: str | None = None


@dataclass(frozen=True)
class FileItem:
    """One canonical-ready document read from a dropped file, or a bad record."""

    line: int
    payload: etree._Element | None = None
    source_id: str | None = None
    error: str | None = None


#: reads one dropped file, streaming, yielding documents (or bad records by line)
FileReader = Callable[[Path], Iterator[FileItem]]
#: reads one dropped file the watcher already holds in memory: (its name, its bytes) -> as :data:`FileReader`
ContentReader = Callable[[str, bytes], Iterator[FileItem]]


@dataclass(frozen=True)
class FileDrop:
    """Files the agency drops into ``$RABT_HOME/drop/<agency>/inbox/``."""

    pattern: str
    """Glob for accepted file names, e.g. ``SIF_*.csv``."""

    message_type: str
    destination: str
    system: str
    reader: FileReader
    max_bytes: int = 64 * 1024 * 1024
    """Larger files are refused with a report before being read."""
    content_reader: ContentReader | None = None
    """``reader`` for a file already read into memory (the watcher holds every file up to 16 MB after
    hashing it): it then is not opened and read a second time. Must yield what ``reader`` yields."""


@dataclass(frozen=True)
class Adapter:
    """Everything the hub needs to know about one agency."""

    name: str
    title: str
    inbound: tuple[InboundOperation, ...] = ()
    outbound: tuple[OutboundService, ...] = ()
    file_drops: tuple[FileDrop, ...] = ()
    gateway_wsdl: str | None = None
    """WSDL (relative to the agency's schema folder) served at ``/soap/<agency>?wsdl``."""

    fault_namespace: str | None = None
    """Namespace of the agency's ``ServiceError`` fault detail, if its contract has one."""

    namespaces: dict[str, str] = field(default_factory=dict)

    @property
    def schema_dir(self) -> Path:
        return AGENCY_SCHEMAS / self.name

    def inbound_operation(self, operation: str) -> InboundOperation | None:
        return next((op for op in self.inbound if op.operation == operation), None)

    def outbound_for(self, query_type: str) -> OutboundService | None:
        return next((s for s in self.outbound if s.query_type == query_type), None)
