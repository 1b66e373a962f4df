"""Mutations of valid inputs, as hypothesis strategies: bytes, XML trees, whole documents.

Every mutation is plain data (a tuple naming the edit and where), applied to
a valid input by a pure function, so hypothesis can shrink a failing case to
the one edit that matters and print it for an ``@example``. Positions are
taken modulo the input's size or element count: the same edit applies to
any sample.

* byte edits: flip a bit, insert, delete, repeat, truncate;
* tree edits on any XML document (a signed SOAP request, a court batch):
  raw text injected into an element (markup, entities, CDATA, controls, huge
  values), elements dropped, duplicated, swapped, wrapped, moved (the
  ``ds:Signature`` in particular), nested deep, given foreign attributes or
  namespace declarations;
* document edits: another encoding, with or without a byte order mark or a
  matching declaration, and something put before the root (DOCTYPE with
  entities, processing instructions, comments, a second root).
"""

from __future__ import annotations

import codecs
import re
from copy import deepcopy

from hypothesis import strategies as st
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
#: fragments a hostile or broken sender puts where a value belongs (raw: they are not escaped)
HOSTILE_FRAGMENTS = [
    b"", b" ", b"&xxe;", b"&lt;", b"&amp;amp;", b"&#0;", b"&#x1;", b"&#xFFFE;", b"&#xD800;", b"&#x202E;",
    b"&#1114112;", b"<![CDATA[<x>]]>", b"]]>", b"<!-- c -->", b"<?pi x?>", b"<x/>", b"</a>", b"<a>", b"<",
    b"&", b"\x00", b"\x07", b"\x1b[31m", b"\xc3", b"\xff\xfe", b"\xef\xbb\xbf", b"\xe2\x80\xae", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80", b"\r\n", b"\t", "\u202eRTL".encode(), "٠١٢٣".encode(), "Ｔ４８２７３６１".encode(),
    b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>", b"' or '1'='1", b"${jndi:ldap://x}",
]
#: declarations of a namespace prefix that is already in use, or odd
NAMESPACE_DECLARATIONS = [
    b'xmlns="urn:x"', b'xmlns:bdr="urn:evil"', b'xmlns:ds="urn:evil"', b'xmlns:soap="urn:evil"',
    b'xmlns:x="http://www.w3.org/2000/09/xmldsig#"', b'xmlns=""', b'xmlns:xml="urn:x"', b'xmlns:p=""',
]
_TEXT_MARK = "fuzz-text-{}"
_ATTR_MARK = "fuzz-attr-{}"


# ------------------------------------------------------------------ bytes


def byte_edits(max_edits: int = 4):
    """1 to ``max_edits`` edits of raw bytes."""
    position = st.integers(0, 1 << 20)
    edit = st.one_of(
        st.tuples(st.just("flip"), position, st.integers(0, 7)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("insert"), position, st.sampled_from(HOSTILE_FRAGMENTS)),
        st.tuples(st.just("delete"), position, st.integers(1, 64)),
        st.tuples(st.just("repeat"), position, st.integers(1, 64)),
        st.tuples(st.just("truncate"), position, st.just(0)),
    )
    return st.lists(edit, min_size=1, max_size=max_edits)


def apply_byte_edits(data: bytes, edits) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        at = position % (len(buffer) + 1)
        if kind == "flip" and at < len(buffer):
            buffer[at] ^= 1 << value
        elif kind == "insert":
            buffer[at:at] = value
        elif kind == "delete":
            del buffer[at:at + value]
        elif kind == "repeat":
            buffer[at:at] = buffer[at:at + value]
        elif kind == "truncate":
            del buffer[at:]
    return bytes(buffer)


# ------------------------------------------------------------------ trees


def values():
    """What goes where a value was: any text, hostile fragments, huge or empty."""
    return st.one_of(
        st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from(HOSTILE_FRAGMENTS),
        st.tuples(st.sampled_from([b"9", b"A", "\u0628".encode(), b" ", b"&#x202E;"]),
                  st.sampled_from([1000, 70_000, 300_000])).map(lambda p: p[0] * p[1]),
    )


def tree_edits(max_edits: int = 3):
    """1 to ``max_edits`` XML-aware edits; element indexes are taken modulo the element count."""
    index = st.integers(0, 500)
    edit = st.one_of(
        st.tuples(st.just("text"), index, values()),
        st.tuples(st.just("tail"), index, values()),
        st.tuples(st.just("drop"), index, st.just(0)),
        st.tuples(st.just("duplicate"), index, st.just(0)),
        st.tuples(st.just("swap"), index, st.just(0)),
        st.tuples(st.just("wrap"), index, st.sampled_from(["{urn:x}Wrapper", "Wrapper", f"{{{DS}}}Object"])),
        st.tuples(st.just("move"), index, index),
        st.tuples(st.just("move_signature"), index, st.just(0)),
        st.tuples(st.just("deep"), index, st.sampled_from([8, 20, 70, 300])),
        st.tuples(st.just("attribute"), index, st.sampled_from([
            b'Id="x"', b'wsu:Id="x" xmlns:wsu="urn:wsu"', b'xml:lang="ar"', b'xml:space="preserve"',
            b'a="&#x202E;"', b'a="&lt;b&gt;"', b'soap:mustUnderstand="1"', b'xsi:nil="true"',
            b'xsi:type="xs:string" xmlns:xs="http://www.w3.org/2001/XMLSchema"',
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"', b'URI=""'])),
        st.tuples(st.just("attribute"), index, st.sampled_from(NAMESPACE_DECLARATIONS)),
    )
    return st.lists(edit, min_size=1, max_size=max_edits)


def apply_tree_edits(data: bytes, edits) -> bytes:
    """``data`` (well-formed XML) with ``edits`` applied; raw fragments are spliced in after serializing."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    raw: dict[bytes, bytes] = {}
    for number, (kind, index, value) in enumerate(edits):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        element = elements[index % len(elements)]
        _edit_tree(root, elements, element, kind, value, number, raw)
    text = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    for mark, fragment in raw.items():
        text = text.replace(mark, fragment)
    return text


def _edit_tree(root, elements, element, kind, value, number, raw) -> None:
    parent = element.getparent()
    if kind in ("text", "tail"):
        mark = _TEXT_MARK.format(number)
        setattr(element, kind, mark)
        raw[mark.encode()] = value
    elif kind == "attribute":
        mark = _ATTR_MARK.format(number)
        element.set(mark, "1")
        raw[f'{mark}="1"'.encode()] = value
    elif kind == "deep":
        for _ in range(value):
            element = etree.SubElement(element, element.tag)
    elif kind == "move_signature":
        signature = root.find(f".//{{{DS}}}Signature")
        if signature is not None and element is not signature and signature not in element.iterancestors():
            element.append(signature)
    elif parent is None:
        return  # the root is not dropped, duplicated, swapped, wrapped or moved
    elif kind == "drop":
        parent.remove(element)
    elif kind == "duplicate":
        element.addnext(deepcopy(element))
    elif kind == "swap" and element.getnext() is not None:
        element.getnext().addnext(element)
    elif kind == "wrap":
        wrapper = etree.Element(value)
        element.addprevious(wrapper)
        wrapper.append(element)
    elif kind == "move":
        target = elements[value % len(elements)]
        if target is not element and element not in target.iterancestors():
            target.append(element)


# ------------------------------------------------------------------ documents

#: (codec the bytes are written in, encoding the declaration names or None for no declaration, BOM)
ENCODINGS = [
    ("utf-8", "UTF-8", b""), ("utf-8", "UTF-8", codecs.BOM_UTF8), ("utf-8", None, codecs.BOM_UTF8),
    ("utf-16-le", "UTF-16", codecs.BOM_UTF16_LE), ("utf-16-be", "UTF-16", codecs.BOM_UTF16_BE),
    ("utf-16-le", "UTF-16", b""), ("utf-16-le", "UTF-8", codecs.BOM_UTF16_LE),
    ("utf-32-le", "UTF-32", codecs.BOM_UTF32_LE),
    ("latin-1", "ISO-8859-1", b""), ("latin-1", "UTF-8", b""), ("cp1256", "windows-1256", b""),
    ("ascii", "US-ASCII", b""), ("utf-8", "ISO-8859-1", b""), ("utf-8", "UTF-16", b""), ("cp037", "EBCDIC-US", b""),
    ("utf-8", "x-no-such-charset", b""), ("utf-8", "UTF-7", b""),
]
PROLOGS = [
    b'<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE e SYSTEM "http://127.0.0.1:1/evil.dtd">', b"<?xml-stylesheet href='x.xsl'?>", b"<!-- hi -->",
    b"<other/>", b"\n\n  ", b"\x00", b"<?xml version='1.0'?>",
]
_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>")


def document_edits():
    """Another encoding (maybe mismatching its declaration), or something before the root."""
    return st.one_of(st.tuples(st.just("encoding"), st.sampled_from(ENCODINGS)),
                     st.tuples(st.just("prolog"), st.sampled_from(PROLOGS)))


def apply_document_edit(data: bytes, edit) -> bytes:
    kind, value = edit
    body = _DECLARATION.sub(b"", data, count=1)
    if kind == "prolog":
        return _DECLARATION.match(data).group() + value + body if _DECLARATION.match(data) else value + data
    codec, declared, bom = value
    text = body.decode("utf-8", "replace")  # an injected broken sequence stays broken, as U+FFFD
    declaration = f"<?xml version='1.0' encoding='{declared}'?>" if declared else ""
    return bom + (declaration + text).encode(codec, "xmlcharrefreplace")
