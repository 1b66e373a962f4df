"""Canonical envelopes: ``Header`` + ``Body`` (+ ``ds:Signature`` once signed).

The header says what the message is, where it came from and where it goes,
and binds the canonical message to the raw agency payload by that payload's
SHA-256, so an operator can prove what the agency actually sent.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree

from hub import utc_text
from hub.canonical import NAMESPACE, SCHEMA_VERSION
from hub.errors import SchemaError

_R = f"{{{NAMESPACE}}}"
_HEADER, _BODY = _R + "Header", _R + "Body"
_FIELDS = (
    ("MessageId", "message_id"),
    ("CorrelationId", "correlation_id"),
    ("MessageType", "message_type"),
    ("SchemaVersion", "schema_version"),
    ("SourceAgency", "source_agency"),
    ("SourceSystem", "source_system"),
    ("SourceMessageId", "source_message_id"),
    ("Destination", "destination"),
    ("CreatedAt", "created_at"),
    ("ReceivedAt", "received_at"),
    ("PayloadDigest", "payload_digest"),
)
#: each header field's element name in Clark notation, with its Header attribute
_NAMED = tuple((_R + tag, attribute) for tag, attribute in _FIELDS)


@dataclass(frozen=True)
class Header:
    """The canonical header of one message."""

    message_id: str
    correlation_id: str
    message_type: str
    source_agency: str
    source_system: str
    destination: str
    created_at: datetime
    received_at: datetime
    payload_digest: str
    source_message_id: str | None = None
    schema_version: str = SCHEMA_VERSION

    def reply_header(self, *, message_type: str, source_agency: str, source_system: str,
                     raw_payload: bytes, now: datetime | None = None) -> Header:
        """Header for an answer to this message: same correlation id, back to the asker."""
        return new_header(
            message_type=message_type, source_agency=source_agency, source_system=source_system,
            destination=self.source_agency, raw_payload=raw_payload,
            correlation_id=self.correlation_id, now=now,
        )


def payload_digest(raw_payload: bytes) -> str:
    """Lower-case hex SHA-256 of the payload exactly as received."""
    return hashlib.sha256(raw_payload).hexdigest()


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond (what the schema's timestamps carry)."""
    return utc_text.now_to_the_millisecond()


def new_message_id() -> str:
    """A fresh message id: a UUID version 7 (RFC 9562), Unix milliseconds then 74 random bits.

    Time-ordered, so the message log's indexes on message ids grow at their
    right-hand end instead of at a random leaf per message: after a month of
    wage files (180,000 messages) the log writes about 40% fewer bytes.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 4122 variant
    digits = f"{value:032x}"  # str(uuid.UUID(int=value)), without the checks UUID makes of its arguments
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_header(
    *,
    message_type: str,
    source_agency: str,
    source_system: str,
    destination: str,
    raw_payload: bytes,
    correlation_id: str | None = None,
    source_message_id: str | None = None,
    received_at: datetime | None = None,
    now: datetime | None = None,
    raw_sha256: str | None = None,
) -> Header:
    """A header with a fresh message id; the correlation id defaults to the message id.

    ``raw_sha256``: the payload's digest when the caller has already taken it
    over these very bytes (a file drop hashes every file as it reads it), so a
    payload is not hashed twice on its way in.
    """
    now = now or utc_now()
    message_id = new_message_id()
    return _header({
        "message_id": message_id,
        "correlation_id": correlation_id or message_id,
        "message_type": message_type,
        "source_agency": source_agency,
        "source_system": source_system,
        "destination": destination,
        "created_at": now,
        "received_at": received_at or now,
        "payload_digest": raw_sha256 or payload_digest(raw_payload),
        "source_message_id": source_message_id,
        "schema_version": SCHEMA_VERSION,
    })


def _header(values: dict) -> Header:
    """``Header(**values)`` for ``values`` naming every field, without the frozen dataclass's ``__init__``.

    That one sets each field through ``object.__setattr__`` (~3 µs for eleven, five times as long as a
    plain class's), and a visa check makes five headers (the hub three, licensing two). Header has no
    ``__post_init__`` and no slots: the instance's dict is all there is to it.
    """
    header = object.__new__(Header)
    header.__dict__.update(values)
    return header


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("envelope timestamps must be timezone-aware")
    return utc_text.milliseconds(utc_text.in_utc(moment)) + "Z"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def build_envelope(header: Header, body: etree._Element) -> etree._Element:
    """Wrap one canonical message element in an envelope (unsigned)."""
    _check_body(header, body)
    envelope = etree.Element(_R + "Envelope", nsmap={"rabt": NAMESPACE})
    head = etree.SubElement(envelope, _R + "Header")
    for tag, text in _header_texts(header):
        child = etree.SubElement(head, _R + tag)
        child.text = text
        if tag == "PayloadDigest":
            child.set("algorithm", "sha-256")
    etree.SubElement(envelope, _R + "Body").append(body)
    return envelope


#: what exclusive C14N escapes in text content (attribute values are not written from data here)
_C14N_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ESCAPED_CHARACTERS = "&<>\r"
_C14N_ESCAPED = re.compile(f"[{_ESCAPED_CHARACTERS}]")
_OPEN_BODY_ROOT = f' xmlns:rabt="{NAMESPACE}"'.encode()
_DIGEST_ATTRIBUTE = ' algorithm="sha-256"'
#: each header field's start tag as exclusive C14N writes it
_CANONICAL_OPENING = {tag: f'<rabt:{tag}{_DIGEST_ATTRIBUTE if tag == "PayloadDigest" else ""}>' for tag, _ in _FIELDS}
#: characters XML 1.0 cannot carry: lxml refuses them in a tree, so the text route must too
_NOT_XML_CHARACTERS = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
_NOT_XML = re.compile(f"[{_NOT_XML_CHARACTERS}]")
#: what a header text is looked at again for: a character C14N escapes, or one XML cannot carry
_SPECIAL = re.compile(f"[{_ESCAPED_CHARACTERS}{_NOT_XML_CHARACTERS}]")


def canonical_envelope(header: Header, body: etree._Element) -> bytes:
    """The exclusive C14N form of ``build_envelope(header, body)``, without building that tree.

    Moving the body into an envelope tree re-homes every node (namespace
    look-ups node by node); for a wage file's SalaryBatch that cost as much as
    canonicalizing it. Written as text instead: the header is fixed markup,
    and the body's own canonical form differs from its form inside the
    envelope only by the ``rabt`` declaration on its root, which the envelope
    root then carries. Bodies of any other shape take the tree route.
    """
    _check_body(header, body)
    content = etree.tostring(body, method="c14n", exclusive=True, with_comments=False)
    if body.prefix != "rabt" or not content.startswith(b"<rabt:" + header.message_type.encode() + _OPEN_BODY_ROOT):
        return etree.tostring(build_envelope(header, copy.deepcopy(body)), method="c14n", exclusive=True,
                              with_comments=False)
    return _around_canonical_body(header, content)


def canonical_envelope_of(header: Header, content: bytes) -> bytes:
    """:func:`canonical_envelope` for a body already in exclusive C14N form, as a sender that writes its answer
    as text has it: ``content``'s root is ``rabt:<message type>`` and declares ``xmlns:rabt`` first.

    The caller vouches for the rest of the form, as :meth:`hub.signing.Signer.sign_canonical`'s does.
    """
    if not content.startswith(b"<rabt:" + header.message_type.encode() + _OPEN_BODY_ROOT):
        raise SchemaError(f"body is not a canonical {header.message_type} in exclusive C14N form",
                          message_id=header.message_id, agency=header.source_agency)
    return _around_canonical_body(header, content)


def _around_canonical_body(header: Header, content: bytes) -> bytes:
    start = len(header.message_type) + 6
    fields = [f"{_CANONICAL_OPENING[tag]}{_c14n_text(text, header)}</rabt:{tag}>"
              for tag, text in _header_texts(header)]
    head = f'<rabt:Envelope xmlns:rabt="{NAMESPACE}"><rabt:Header>{"".join(fields)}</rabt:Header><rabt:Body>'
    return b"".join((head.encode(), content[:start], content[start + len(_OPEN_BODY_ROOT):],
                     b"</rabt:Body></rabt:Envelope>"))


def c14n_text(value: str) -> str:
    """``value`` as exclusive C14N writes text content: ``&``, ``<``, ``>`` and CR escaped.

    One search in C, which rarely finds anything, before translate(), which looks every character up in
    its table (~2 µs for a message id; a header has eleven fields, a receipt a thousand ids).
    """
    return value.translate(_C14N_TEXT) if _C14N_ESCAPED.search(value) else value


def _c14n_text(text: str, header: Header) -> str:
    """A header field's ``text`` as exclusive C14N writes text content; SchemaError if XML cannot carry it."""
    # one search for both, which rarely finds anything (the markup around the texts is the hub's own)
    if _SPECIAL.search(text) is None:
        return text
    if bad := _NOT_XML.search(text):
        raise SchemaError(f"envelope header holds a character XML cannot carry (U+{ord(bad.group()):04X})",
                          message_id=header.message_id, agency=header.source_agency)
    return c14n_text(text)


def _header_texts(header: Header):
    """(element name, text) of every header field that has a value, in envelope order."""
    formatted = written = None  # a header's two times are often one: written once
    for tag, attribute in _FIELDS:
        value = getattr(header, attribute)
        if value is None:
            continue
        if isinstance(value, datetime):
            if formatted is None or value != formatted:
                formatted, written = value, _format_time(value)
            yield tag, written
        else:
            yield tag, str(value)


def _check_body(header: Header, body: etree._Element) -> None:
    if body.tag != f"{_R}{header.message_type}":  # its name is the message type, in the canonical namespace
        raise SchemaError(
            f"body element {body.tag} does not match message type {header.message_type}",
            message_id=header.message_id, agency=header.source_agency,
        )


def read_envelope(envelope: etree._Element) -> tuple[Header, etree._Element]:
    """Read header and body from a (verified) envelope element.

    Checks the structure the rest of the hub relies on: an Envelope root, a
    header with every required field, and exactly one body message whose name
    is the header's message type.
    """
    if envelope.tag != _R + "Envelope":
        raise SchemaError(f"root element is {envelope.tag}, expected rabt:Envelope")
    head = body = None
    for child in envelope:  # the first of each, as find() takes it, without find() reading a path each time
        if child.tag == _HEADER:
            head = child if head is None else head
        elif child.tag == _BODY:
            body = child if body is None else body
    if head is None or body is None:
        raise SchemaError("envelope needs a Header and a Body")
    # One pass over the header's children, the first of each name kept (as find() would take it): a find()
    # per field cost more than the rest of reading the envelope, on every answer and delivery read.
    texts: dict = {}
    for node in head:
        texts.setdefault(node.tag, node.text or "")
    values = {attribute: None if (text := texts.get(name)) is None else text.strip() for name, attribute in _NAMED}
    missing = [tag for tag, attr in _FIELDS if values[attr] is None and attr != "source_message_id"]
    if missing:
        raise SchemaError(f"envelope header lacks {', '.join(missing)}", message_id=values["message_id"])
    messages = [child for child in body if isinstance(child.tag, str)]
    if len(messages) != 1:
        raise SchemaError(f"envelope body holds {len(messages)} messages, expected one",
                          message_id=values["message_id"])
    if etree.QName(messages[0]).localname != values["message_type"]:
        raise SchemaError(
            f"header says {values['message_type']} but the body holds {etree.QName(messages[0]).localname}",
            message_id=values["message_id"],
        )
    values["created_at"] = _parse_time(values["created_at"])
    values["received_at"] = _parse_time(values["received_at"])
    return _header(values), messages[0]

