"""The one hardened parser for XML that comes from outside the hub.

Every agency payload, SOAP request, file-drop batch and envelope read from a
queue goes through :func:`parse_xml`. It refuses, with a reason and quickly:

* any DOCTYPE (so no internal or external DTD, no entity declarations: this
  is what stops XXE, billion laughs and quadratic blow-up — an entity can only
  be declared inside a DTD);
* network access and entity resolution (belt and braces, should a DTD slip by);
* documents larger than ``XmlLimits.max_bytes`` (checked before parsing);
* nesting deeper than ``XmlLimits.max_depth`` (checked while parsing, so a
  deep document is refused without being built);
* anything libxml2 finds not well-formed (reported with its line).

Processing instructions and comments are dropped: nothing downstream needs
them and they only widen what a signature or a mapping could be fooled by.
"""

from __future__ import annotations

import re

from lxml import etree

from hub.config import XmlLimits
from hub.errors import ParseError

_DEFAULT_LIMITS = XmlLimits()
_CHUNK = 64 * 1024


def _new_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _refuse_doctype(element: etree._Element, *, agency: str | None) -> None:
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ParseError("DOCTYPE is not allowed (DTDs and entities are refused)", agency=agency)


def parse_xml(
    data: bytes,
    limits: XmlLimits | None = None,
    *,
    agency: str | None = None,
) -> etree._Element:
    """Parse outside XML safely and return its root element.

    Raises :class:`~hub.errors.ParseError` naming the reason (and the line
    where libxml2 knows it) for anything hostile or malformed.
    """
    limits = limits or _DEFAULT_LIMITS
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("XML must be given as bytes, not text", agency=agency)
    if len(data) > limits.max_bytes:
        raise ParseError(
            f"document is {len(data)} bytes, over the limit of {limits.max_bytes}", agency=agency
        )
    if not data.strip():
        raise ParseError("document is empty", agency=agency)
    parser = _new_parser()
    depth = 0
    root = None
    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(bytes(data[offset : offset + _CHUNK]))
            for event, element in parser.read_events():
                if event == "start":
                    if root is None:
                        root = element
                        _refuse_doctype(root, agency=agency)
                    depth += 1
                    if depth > limits.max_depth:
                        raise ParseError(
                            f"nesting deeper than {limits.max_depth} levels", agency=agency,
                            line=element.sourceline,
                        )
                else:
                    depth -= 1
        result = parser.close()
    except etree.XMLSyntaxError as exc:
        raise _diagnose(bytes(data), agency) from exc
    _refuse_doctype(result, agency=agency)
    return result


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_DIAGNOSTIC_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def _diagnose(data: bytes, agency: str | None) -> ParseError:
    """Say precisely why a document failed.

    The incremental parser reports only "no element found", so on the failure
    path the (size-capped) input is parsed once more, non-incrementally and
    with the same protections, for libxml2's real message and line.
    """
    if _DOCTYPE.search(data):
        return ParseError("DOCTYPE is not allowed (DTDs and entities are refused)", agency=agency)
    try:
        etree.fromstring(data, _DIAGNOSTIC_PARSER)
    except etree.XMLSyntaxError as exc:
        message = (exc.msg or str(exc)).strip()
        if "depth" in message.lower():
            message = "nesting too deep"
        elif "entity" in message.lower():
            message = f"entities are refused ({message})"
        return ParseError(f"not well-formed: {message}", line=exc.lineno or None, agency=agency)
    return ParseError("not well-formed: truncated document", agency=agency)


def parse_xml_file(path, limits: XmlLimits | None = None, *, agency: str | None = None) -> etree._Element:
    """Read a file and parse it with :func:`parse_xml`, refusing oversize files before reading."""
    limits = limits or _DEFAULT_LIMITS
    try:
        with open(path, "rb") as stream:
            data = stream.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror}", agency=agency) from exc
    return parse_xml(data, limits, agency=agency)
