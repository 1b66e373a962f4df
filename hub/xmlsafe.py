"""The one hardened parser for XML that comes from outside the hub.

Every agency payload, SOAP request, file-drop batch and envelope read from a
queue goes through :func:`parse_xml`. It refuses, with a reason and quickly:

* any DOCTYPE (so no internal or external DTD, no entity declarations: this
  is what stops XXE, billion laughs and quadratic blow-up — an entity can only
  be declared inside a DTD);
* network access and entity resolution (belt and braces, should a DTD slip by);
* documents larger than ``XmlLimits.max_bytes`` (checked before parsing);
* nesting deeper than ``XmlLimits.max_depth`` (libxml2 itself stops at 256
  levels while parsing; the tree it built is then checked against the limit
  in one compiled XPath, in C);
* anything libxml2 finds not well-formed (reported with its line).

Processing instructions and comments are dropped: nothing downstream needs
them and they only widen what a signature or a mapping could be fooled by.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from hub.config import XmlLimits
from hub.errors import ParseError

_DEFAULT_LIMITS = XmlLimits()
# One parser and one depth check per thread: lxml objects keep their error log.
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
    return parser


def _deeper_than(depth: int) -> etree.XPath:
    """The elements at nesting level ``depth + 1`` (``/*/*/…``), compiled once per limit and thread."""
    found = _local.__dict__.setdefault("deeper_than", {})
    if depth not in found:
        # without lxml's EXSLT regular-expression functions, which the path never calls: they were registered
        # in the XPath context on every parse
        found[depth] = etree.XPath("/" + "/".join(["*"] * (depth + 1)), regexp=False)
    return found[depth]


_PROBE_DEPTH = 16
"""Deeper than most documents nest: a path this long is tried first (see :func:`_nested_deeper_than`)."""


def _nested_deeper_than(depth: int, root: etree._Element) -> list:
    """The elements nested deeper than ``depth``. A document that has none deeper than ``_PROBE_DEPTH`` has none
    deeper than a larger limit either, and that shorter path costs ~8k instructions less: each level of the
    path costs its step even when it finds nothing."""
    if depth > _PROBE_DEPTH and not _deeper_than(_PROBE_DEPTH)(root):
        return []
    return _deeper_than(depth)(root)


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

    Why one call into libxml2 and a check after, rather than watching parse
    events: a Python step per start and end tag cost as much as the parse
    itself. What a pull parser would have stopped early is bounded anyway:
    the size before parsing, entities never expanded, nesting at 256 levels
    by libxml2.
    """
    limits = limits or _DEFAULT_LIMITS
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParseError("XML must be given as bytes, not text", agency=agency)
    if len(data) > limits.max_bytes:
        raise ParseError(
            f"document is {len(data)} bytes, over the limit of {limits.max_bytes}", agency=agency
        )
    data = bytes(data)
    if not data.strip():
        raise ParseError("document is empty", agency=agency)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _diagnose(data, exc, agency) from exc
    _refuse_doctype(root, agency=agency)
    too_deep = _nested_deeper_than(limits.max_depth, root)
    if too_deep:
        raise ParseError(f"nesting deeper than {limits.max_depth} levels", agency=agency,
                         line=too_deep[0].sourceline)
    return root


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def _diagnose(data: bytes, exc: etree.XMLSyntaxError, agency: str | None) -> ParseError:
    """Say precisely why a document failed, in words a partner can act on."""
    if _DOCTYPE.search(data):
        return ParseError("DOCTYPE is not allowed (DTDs and entities are refused)", agency=agency)
    message = (exc.msg or str(exc)).strip()
    if "depth" in message.lower():
        message = "nesting too deep"
    elif "entity" in message.lower():
        message = f"entities are refused ({message})"
    return ParseError(f"not well-formed: {message}", line=exc.lineno or None, agency=agency)


def parse_xml_file(path, limits: XmlLimits | None = None, *, agency: str | None = None) -> etree._Element:
    """Read a file and parse it with :func:`parse_xml`, refusing oversize files before reading."""
    limits = limits or _DEFAULT_LIMITS
    try:
        with open(path, "rb") as stream:
            data = stream.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror}", agency=agency) from exc
    return parse_xml(data, limits, agency=agency)
