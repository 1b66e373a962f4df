"""A signature of a shape that has verified before is read by position, not checked part by part again.

A partner's SOAP stack, and the hub's own signer, writes the same
``ds:Signature`` on every message: the same elements in the same order with
the same algorithm attributes; only the digest, the signature value and the
certificate differ. :func:`hub.verify.read_parts` checks that shape element by
element, which is most of a verification's Python time. Once a signature of
some shape has verified, the next of the same shape only has its values read,
each checked as the full reading checks it. The shape has two halves:

* ``ds:SignedInfo`` is known by its exclusive C14N — the very bytes its
  signature value is checked over, so they are made anyway: a template keeps
  them cut around the DigestValue's text. C14N writes every element, prefix
  binding, attribute, text and processing instruction (a ``<`` or ``&`` in
  text is escaped), so a SignedInfo whose canonical form is the template's
  with another text in that one place is the template's tree with another
  digest. Only SignedInfos without comments or processing instructions, and
  with a DigestValue holding text alone, are kept: then the form made with
  comments, the one compared, is also the form without them, the one signed.
* the rest — ``ds:Signature`` itself, ``ds:SignatureValue`` and ``ds:KeyInfo``
  — is every node's tag, attributes and number of children in document order
  (comments and processing instructions included), which fixes that tree.

Shapes are remembered only after a signature's value verified against a
pinned key, so a stranger cannot fill the table; it is bounded all the same.
A shape naming its certificate by issuer and serial is never remembered: its
reading depends on text the shape does not fix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from hub.verify import (
    DS,
    SignatureParts,
    certificate_bytes,
    check_named,
    child_elements,
    decode_base64,
    digest_of_text,
    read_parts,
    the_signature,
)

MAX_SHAPES = 64
"""Shapes kept per verifier: a deployment's partners write a handful."""

_KEY_NAME, _X509_CERTIFICATE, _X509_ISSUER_SERIAL, _SIGNED_INFO = (
    f"{{{DS}}}{name}" for name in ("KeyName", "X509Certificate", "X509IssuerSerial", "SignedInfo"))
_SLOT = "rabt-digest-value-slot"
"""Put in the DigestValue for a moment to find where its text sits in the canonical SignedInfo."""

Shape = tuple


@dataclass(frozen=True)
class _Template:
    """Where a shape's values sit (indexes into the signature's nodes, see :func:`_nodes_and_shape`), the canonical
    SignedInfo around its digest, and what its structure already said."""

    signed_info: int
    signature_value: int
    key_parts: tuple[tuple[int, bool], ...]
    """(node, is a certificate) for each X509Data part, in order; the others are names that must say something."""
    head: bytes
    tail: bytes
    """The canonical SignedInfo (comments kept) before and after the DigestValue's text."""
    comments: bool
    """Whether it holds comments: then what is signed, the form without them, is made apart."""
    signed_info_prefixes: tuple[str, ...] | None
    method: str
    content_prefixes: tuple[str, ...] | None

    def digest_text(self, canonical: bytes) -> str | None:
        """The DigestValue's text if ``canonical`` is this template's SignedInfo, else None."""
        head, tail = self.head, self.tail
        start, end = len(head), len(canonical) - len(tail)
        if end < start or not (canonical.startswith(head) and canonical.endswith(tail)):
            return None
        # markup, or text C14N escaped: the full reading says what it is. find, not `in`: bytes' `in` first tries
        # its operand as an integer, and the TypeError it builds and drops costs more than the search
        if canonical.find(b"<", start, end) >= 0 or canonical.find(b"&", start, end) >= 0:
            return None
        return canonical[start:end].decode("utf-8")

    def read(self, nodes: list, canonical: bytes, digest_text: str, agency: str | None) -> SignatureParts:
        """The parts, values checked in the order :func:`~hub.verify.read_parts` checks them."""
        digest = digest_of_text(digest_text, agency)
        certificates = []
        for index, is_certificate in self.key_parts:
            if is_certificate:
                certificates.append(certificate_bytes(nodes[index].text, agency))
            else:
                check_named(nodes[index], agency)
        value = decode_base64(nodes[self.signature_value], "ds:SignatureValue", agency)
        return SignatureParts(nodes[0], nodes[self.signed_info], self.signed_info_prefixes, self.method,
                              self.content_prefixes, digest, value, tuple(certificates), (), canonical)


class ReadSignature(NamedTuple):  # a tuple: one is made on every verification
    """A signature's parts, with what :meth:`SignatureShapes.remember` needs once they verified."""

    parts: SignatureParts
    shape: Shape
    nodes: list
    known: bool


class SignatureShapes:
    """The shapes one verifier has seen verify; safe to share between threads."""

    def __init__(self, limit: int = MAX_SHAPES) -> None:
        self.limit = limit
        self._templates: dict[Shape, tuple[_Template, ...]] = {}
        self._adding = threading.Lock()

    def read(self, document: etree._Element, agency: str | None) -> ReadSignature:
        """``document``'s signature read by its shape's template, or checked part by part if the shape is new."""
        signature = the_signature(document, agency)
        nodes, shape = _nodes_and_shape(signature)
        templates = self._templates.get(shape)
        if templates is not None:
            parts = _read_known(templates, nodes, agency)
            if parts is not None:
                return ReadSignature(parts, shape, nodes, known=True)
        return ReadSignature(read_parts(signature, agency), shape, nodes, known=False)

    def remember(self, read: ReadSignature) -> None:
        """Keep the shape of a signature whose value has just verified."""
        if read.known or len(self) >= self.limit:
            return
        template = _template_of(read.parts, read.nodes)
        if template is not None:
            with self._adding:
                known = self._templates.get(read.shape, ())
                if len(self) < self.limit and template not in known:  # read in full for its text, say
                    self._templates[read.shape] = (*known, template)

    def __len__(self) -> int:
        return sum(map(len, self._templates.values()))


def _nodes_and_shape(signature: etree._Element) -> tuple[list, Shape]:
    """``ds:Signature`` and its nodes in document order (comments and processing instructions too), but for
    those inside its first ``ds:SignedInfo``: the canonical form of that stands for them; and the shape, each
    node's tag, number of children and attributes. One pass: a child's tag and size are read once, and a child
    without children is taken as it is rather than through an iterator over its subtree."""
    nodes, shape, signed_info_met = [signature], [(signature.tag, len(signature), *signature.items())], False
    for child in signature:
        tag, size = child.tag, len(child)
        if size == 0 or (tag == _SIGNED_INFO and not signed_info_met):
            signed_info_met = signed_info_met or tag == _SIGNED_INFO
            nodes.append(child)
            shape.append((tag, size, *child.items()))
        else:
            for node in child.iter():
                nodes.append(node)
                shape.append((node.tag, len(node), *node.items()))
    return nodes, tuple(shape)


def _read_known(templates: tuple[_Template, ...], nodes: list, agency: str | None) -> SignatureParts | None:
    """The parts by the template whose SignedInfo this is (None if none is); one shape, one SignedInfo place."""
    signed_info = nodes[templates[0].signed_info]
    made_with, canonical = None, None
    for template in templates:
        if canonical is None or template.signed_info_prefixes != made_with:
            made_with, canonical = template.signed_info_prefixes, _canonical(signed_info, made_with, comments=True)
        digest_text = template.digest_text(canonical)
        if digest_text is not None:
            signed = _canonical(signed_info, made_with, comments=False) if template.comments else canonical
            return template.read(nodes, signed, digest_text, agency)
    return None


def _canonical(signed_info: etree._Element, prefixes, *, comments: bool) -> bytes:
    return etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=comments,
                          inclusive_ns_prefixes=prefixes)


def _template_of(parts: SignatureParts, nodes: list) -> _Template | None:
    place = {id(node): index for index, node in enumerate(nodes)}  # the nodes are held, so ids stay theirs
    children = child_elements(parts.signature)
    key_parts = []
    for child in (child_elements(children[2]) if len(children) == 3 else ()):
        if child.tag == _KEY_NAME:
            continue
        for part in child_elements(child):
            if part.tag == _X509_ISSUER_SERIAL:
                return None
            key_parts.append((place[id(part)], part.tag == _X509_CERTIFICATE))
    around = _around_digest(parts)
    if around is None:
        return None
    head, tail = around
    return _Template(place[id(parts.signed_info)], place[id(children[1])], tuple(key_parts), head, tail, b"<!--" in head + tail,
                     parts.signed_info_prefixes, parts.method, parts.content_prefixes)


def _around_digest(parts: SignatureParts) -> tuple[bytes, bytes] | None:
    """The canonical SignedInfo (comments kept) before and after the DigestValue's text; None when the
    DigestValue holds more than text, or the slot's mark is found anywhere else."""
    digest_value = child_elements(child_elements(parts.signed_info)[2])[2]
    if len(digest_value):
        return None
    text = digest_value.text
    digest_value.text = _SLOT  # the document is the verifier's until it answers: no one else sees this
    try:
        marked = _canonical(parts.signed_info, parts.signed_info_prefixes, comments=True)
    finally:
        digest_value.text = text
    pieces = marked.split(_SLOT.encode("ascii"))
    return (pieces[0], pieces[1]) if len(pieces) == 2 else None
