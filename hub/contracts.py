"""The agencies' own XSDs: requests and answers are checked in the agency's terms before mapping.

A request that breaks the agency's published contract is refused in the
agency's terms (its element, its line) before any mapping runs. Schemas are
compiled once per thread (an XMLSchema keeps its error log) and looked up by
target namespace, so one folder can hold several contracts.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from hub.canonical import SCHEMA_COMPILE_LOCK
from hub.errors import ConfigError, SchemaError


class AgencyContracts:
    """Every ``*.xsd`` under an agency's schema folder, by target namespace."""

    def __init__(self, folder: Path, agency: str) -> None:
        self.folder = Path(folder)
        self.agency = agency
        self._local = threading.local()

    def _schemas(self) -> dict[str, etree.XMLSchema]:
        schemas = getattr(self._local, "schemas", None)
        if schemas is None:
            schemas = {}
            for path in sorted(self.folder.glob("*.xsd")):
                document = etree.parse(str(path))  # our own contract files
                namespace = document.getroot().get("targetNamespace")
                try:
                    with SCHEMA_COMPILE_LOCK:
                        schemas[namespace] = etree.XMLSchema(document)
                except etree.XMLSchemaParseError as exc:
                    raise ConfigError(f"{path} does not compile: {exc}", agency=self.agency) from exc
            self._local.schemas = schemas
        return schemas

    def validate(self, element: etree._Element) -> None:
        """SchemaError naming the line and the rule, when a contract covers the element."""
        schema = self._schemas().get(etree.QName(element).namespace)
        if schema is None or schema.validate(element):
            return
        error = schema.error_log.last_error
        raise SchemaError(
            f"line {error.line}: {error.message} (rule {error.type_name})",
            line=error.line, rule=error.type_name, agency=self.agency,
        )

    def covers(self, element: etree._Element) -> bool:
        return etree.QName(element).namespace in self._schemas()
