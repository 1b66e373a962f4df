"""The zeep plugins through which the hub adds to an agency call what zeep does not do itself.

They use zeep's public plugin hooks (``egress``/``ingress``), so zeep's own
features — WS-Addressing, WS-Security, SOAP headers, other plugins — keep
working around them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import zeep
from lxml import etree

from hub.errors import SchemaError

log = logging.getLogger(__name__)


class RequestBody(zeep.Plugin):
    """Egress plugin: the mapping's request element replaces the empty one zeep rendered.

    The element travels per thread, so one client may serve several threads.
    """

    def __init__(self) -> None:
        self._pending = threading.local()

    @contextmanager
    def carrying(self, element: etree._Element) -> Iterator[None]:
        """Within this block, calls made on this thread send ``element`` as their body."""
        self._pending.element = element
        try:
            yield
        finally:
            self._pending.element = None

    def egress(self, envelope, http_headers, operation, binding_options):
        element = getattr(self._pending, "element", None)
        if element is not None:
            body = envelope.find(f"{{{etree.QName(envelope).namespace}}}Body")
            placeholder = body.find(element.tag)
            if placeholder is None:  # rendered by zeep from the same WSDL: only a hub bug gets here
                raise SchemaError(f"zeep rendered no {element.tag} to replace")
            body.replace(placeholder, element)
        return envelope, http_headers


class CallLog(zeep.Plugin):
    """Logs each call's operation and answer size at DEBUG; never the content (personal data)."""

    def __init__(self, agency: str) -> None:
        self.agency = agency

    def egress(self, envelope, http_headers, operation, binding_options):
        log.debug("%s: calling %s at %s", self.agency, operation.name, binding_options.get("address"))
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        log.debug("%s: %s answered %s", self.agency, operation.name, etree.QName(envelope).localname)
        return envelope, http_headers
