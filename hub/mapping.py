"""Declarative mappings: ``mappings/<agency>/<MessageType>.xsl`` (XSLT 1.0).

A mapping turns an agency document into one canonical message (inbound) or a
canonical message into the agency's request (outbound); which one is decided
by the adapter that calls it, the file only says how. Mappings are code we
ship, but the documents they read are not: stylesheets run with every file
and network access denied, so no input can steer ``document()`` anywhere.

A mapping refuses input by ``<xsl:message terminate="yes">reason</xsl:message>``;
the reason reaches the agency as a :class:`~hub.errors.MappingError`.
Compiled stylesheets are cached per thread (an XSLT object keeps its error
log, which threads must not share).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from hub import resources
from hub.errors import ConfigError, MappingError

_SAFE_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class Mappings:
    """The mapping files under one folder, compiled on first use."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else resources.mappings()
        self._local = threading.local()

    def path(self, agency: str, message_type: str) -> Path:
        """Where the mapping for ``agency`` / ``message_type`` lives."""
        for part in (agency, message_type):
            if not _SAFE_PART.match(part or ""):
                raise ConfigError(f"invalid mapping name {part!r}")
        return self.root / agency / f"{message_type}.xsl"

    def has(self, agency: str, message_type: str) -> bool:
        return self.path(agency, message_type).is_file()

    def available(self, agency: str) -> list[str]:
        """Message types that ``agency`` has a mapping for."""
        return sorted(p.stem for p in (self.root / agency).glob("*.xsl") if not p.stem.startswith("_"))

    def transform(self, agency: str, message_type: str, document: etree._Element,
                  **parameters: str) -> etree._Element:
        """Run one mapping; string ``parameters`` become XSLT parameters."""
        stylesheet = self._compiled(agency, message_type)
        quoted = {name: etree.XSLT.strparam(str(value)) for name, value in parameters.items()}
        try:
            result = stylesheet(document, **quoted)
        except etree.XSLTApplyError as exc:
            raise MappingError(_first_message(stylesheet.error_log, exc), agency=agency) from exc
        root = result.getroot()
        if root is None:
            raise MappingError(f"mapping {agency}/{message_type} produced no element", agency=agency)
        return root

    def _compiled(self, agency: str, message_type: str) -> etree.XSLT:
        cache = self._local.__dict__.setdefault("stylesheets", {})
        key = (agency, message_type)
        if key not in cache:
            path = self.path(agency, message_type)
            if not path.is_file():
                raise ConfigError(f"no mapping for {agency}/{message_type} (expected {path})", agency=agency)
            try:
                cache[key] = etree.XSLT(etree.parse(str(path)), access_control=etree.XSLTAccessControl.DENY_ALL)
            except (etree.XMLSyntaxError, etree.XSLTParseError) as exc:
                raise ConfigError(f"mapping {path} does not compile: {exc}", agency=agency) from exc
        return cache[key]


def _first_message(error_log, exc: Exception) -> str:
    # xsl:message text is the first entry; libxslt's own "runtime error" lines follow it.
    for entry in error_log:
        text = (entry.message or "").strip()
        if text and not text.startswith("runtime error"):
            return text
    return str(exc)
