"""The canonical XML schemas (``urn:rabt:canonical:v1``) and the validator.

``schemas/canonical/v1/rabt.xsd`` includes every other file; compiled once it
accepts a whole ``rabt:Envelope`` or any bare message element (every global
element in the ``rabt:Message`` substitution group). All schema files are
local and compile offline.

:func:`validate` turns the first XSD violation into a
:class:`~hub.errors.SchemaError` that names the line and the rule, the words a
partner agency reads in a SOAP fault or a rejection report.

Why one schema per thread: compiling takes a few milliseconds, but an
``lxml.etree.XMLSchema`` keeps its ``error_log`` on the object, so two threads
validating with the same one can read each other's errors. Each thread
compiles its own copy once, under a lock, from the same files.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from lxml import etree

from hub import resources
from hub.errors import ConfigError, SchemaError

NAMESPACE = "urn:rabt:canonical:v1"
SCHEMA_VERSION = "1.0"
NS = {"rabt": NAMESPACE}

XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"
ROOT_SCHEMA = "rabt.xsd"
MESSAGE_HEAD = f"{{{NAMESPACE}}}Message"
#: rule named when the header's MessageType disagrees with the Body's child
RULE_MESSAGE_TYPE = "RABT_MESSAGE_TYPE_MATCHES_BODY"

_R = f"{{{NAMESPACE}}}"
#: libxml2 compiles an XML Schema with process-wide state: two threads compiling at once can fail with
#: "Document is not valid XML Schema", so every schema the process compiles is compiled under this lock
SCHEMA_COMPILE_LOCK = threading.Lock()
_local = threading.local()


def schema_dir() -> Path:
    """Folder of the v1 canonical XSD files (a package resource)."""
    return resources.canonical_schemas()


def _schema_parser() -> etree.XMLParser:
    # Our own files, but still: nothing from the network, no entity tricks.
    return etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=True)


def _compile() -> etree.XMLSchema:
    path = schema_dir() / ROOT_SCHEMA
    try:
        return etree.XMLSchema(etree.parse(str(path), _schema_parser()))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigError(f"canonical schema {path} does not compile: {exc}") from exc


def schema() -> etree.XMLSchema:
    """This thread's compiled canonical schema (compiled on first use)."""
    compiled = getattr(_local, "schema", None)
    if compiled is None:
        with SCHEMA_COMPILE_LOCK:
            compiled = _compile()
        _local.schema = compiled
    return compiled


def _as_element(document) -> etree._Element:
    if isinstance(document, etree._ElementTree):
        document = document.getroot()
    if not isinstance(document, etree._Element) or not isinstance(document.tag, str):
        raise SchemaError(f"expected a parsed XML element, got {type(document).__name__}")
    return document


def _first_error(log: etree._ListErrorLog) -> SchemaError:
    if not log:
        return SchemaError("document is not valid against the canonical schema", rule="SCHEMAV")
    error = log[0]
    return SchemaError(
        f"line {error.line}: {error.message} (rule {error.type_name})",
        line=error.line, rule=error.type_name,
    )


def _check_message_type(envelope: etree._Element) -> None:
    """XSD 1.0 cannot tie two fields together; the header must name its body."""
    declared = envelope.find(f"{_R}Header/{_R}MessageType")
    body = envelope.find(f"{_R}Body")
    messages = [child for child in body if isinstance(child.tag, str)]
    actual = etree.QName(messages[0]).localname
    if declared.text.strip() != actual:
        raise SchemaError(
            f"line {declared.sourceline}: Element '{declared.tag}': header says "
            f"'{declared.text.strip()}' but the Body holds '{actual}' (rule {RULE_MESSAGE_TYPE})",
            line=declared.sourceline, rule=RULE_MESSAGE_TYPE,
        )


def validate(element) -> None:
    """Check an envelope or a bare canonical message; raise SchemaError if invalid.

    The reason names the line and the rule of the first violation, e.g.
    ``line 12: Element '{urn:rabt:canonical:v1}Nationality': [facet 'pattern']
    ... (rule SCHEMAV_CVC_PATTERN_VALID)``.
    """
    element = _as_element(element)
    compiled = schema()
    if not compiled.validate(element):
        raise _first_error(compiled.error_log)
    if element.tag == f"{_R}Envelope":
        _check_message_type(element)


def is_valid(element) -> bool:
    """True when :func:`validate` would accept ``element``."""
    try:
        validate(element)
    except SchemaError:
        return False
    return True


@lru_cache(maxsize=1)
def message_types() -> frozenset[str]:
    """Local names of every message type, read from the XSD files themselves."""
    names = set()
    for path in sorted(schema_dir().glob("*.xsd")):
        tree = etree.parse(str(path), _schema_parser())
        for declaration in tree.getroot().iterfind(f"{{{XSD_NAMESPACE}}}element"):
            group = declaration.get("substitutionGroup")
            if group and _resolve_qname(declaration, group) == MESSAGE_HEAD:
                names.add(declaration.get("name"))
    return frozenset(names)


def _resolve_qname(context: etree._Element, value: str) -> str:
    prefix, _, local = value.rpartition(":")
    namespace = context.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else local


_XS = f"{{{XSD_NAMESPACE}}}"


@lru_cache(maxsize=1)
def _declarations() -> tuple[dict[str, etree._Element], dict[str, etree._Element]]:
    """Global elements and named complex types of every canonical XSD file, by local name."""
    elements, types = {}, {}
    for path in sorted(schema_dir().glob("*.xsd")):
        root = etree.parse(str(path), _schema_parser()).getroot()
        elements |= {e.get("name"): e for e in root.iterfind(f"{_XS}element")}
        types |= {t.get("name"): t for t in root.iterfind(f"{_XS}complexType")}
    return elements, types


@lru_cache(maxsize=None)
def message_fields(message_type: str) -> dict[str, bool]:
    """Every element path of ``message_type`` (``"Worker/Name"``) → whether a valid message may leave it out.

    Read from the XSD files themselves, for the field rights in access.toml.
    An element may be left out when it or a group around it has
    ``minOccurs="0"``; an alternative of an ``xs:choice`` counts as optional
    here (which alternative a message holds is only known per message). A name
    declared twice under one parent may be left out only if both may be.
    ConfigError when ``message_type`` is not a canonical message type.
    """
    elements, types = _declarations()
    if message_type not in message_types():
        raise ConfigError(f"{message_type!r} is not a canonical message type")
    found: dict[str, bool] = {}
    _walk_type(elements[message_type], (), False, types, found)
    return found


def _walk_type(declaration: etree._Element, path: tuple[str, ...], optional: bool,
               types: dict[str, etree._Element], found: dict[str, bool]) -> None:
    """The element paths under ``declaration`` (an element, or a type's particle), into ``found``."""
    if len(path) > 16:  # no canonical type nests this deep; a recursive type would never end
        return
    type_name = (declaration.get("type") or "").rpartition(":")[2]
    content = types.get(type_name) if declaration.tag == f"{_XS}element" else None
    for particle in (content if content is not None else declaration):
        if not isinstance(particle.tag, str):
            continue
        tag = etree.QName(particle).localname
        inner = optional or particle.get("minOccurs") == "0"
        if tag in ("complexType", "sequence"):
            _walk_type(particle, path, inner, types, found)
        elif tag == "choice":
            _walk_type(particle, path, True, types, found)
        elif tag == "element":
            child = "/".join((*path, particle.get("name")))
            found[child] = found.get(child, True) and inner
            _walk_type(particle, (*path, particle.get("name")), False, types, found)
