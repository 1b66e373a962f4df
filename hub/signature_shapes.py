"""A signature of a shape that has verified before is read by position, not checked part by part again.

A partner's SOAP stack, and the hub's own signer, writes the same
``ds:Signature`` on every message: the same elements in the same order with
the same algorithm attributes; only the digest, the signature value and the
certificate differ. :func:`hub.verify.read_parts` checks that shape element by
element, which is most of a verification's Python time. The shape is every
node's tag, attributes and number of children in document order (comments and
processing instructions included), which fixes the tree; two signatures of one
shape pass or fail the profile's structural checks alike. So once a signature
of some shape has verified, the next of the same shape only has its values
read, each checked as the full reading checks it.

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
    digest_bytes,
    read_parts,
    the_signature,
)

MAX_SHAPES = 64
"""Shapes kept per verifier: a deployment's partners write a handful."""

_KEY_NAME, _X509_CERTIFICATE, _X509_ISSUER_SERIAL = (
    f"{{{DS}}}{name}" for name in ("KeyName", "X509Certificate", "X509IssuerSerial"))

Shape = tuple


@dataclass(frozen=True)
class _Template:
    """Where a shape's values sit (indexes into the signature's nodes in document order), and what its
    structure already said."""

    signed_info: int
    signature_value: int
    digest_value: int
    key_parts: tuple[tuple[int, bool], ...]
    """(node, is a certificate) for each X509Data part, in order; the others are names that must say something."""
    signed_info_prefixes: tuple[str, ...] | None
    method: str
    content_prefixes: tuple[str, ...] | None

    def read(self, nodes: tuple[etree._Element, ...], agency: str | None) -> SignatureParts:
        """The parts, values checked in the order :func:`~hub.verify.read_parts` checks them."""
        digest = digest_bytes(nodes[self.digest_value], agency)
        certificates = []
        for index, is_certificate in self.key_parts:
            if is_certificate:
                certificates.append(certificate_bytes(nodes[index].text, agency))
            else:
                check_named(nodes[index], agency)
        value = decode_base64(nodes[self.signature_value], "ds:SignatureValue", agency)
        return SignatureParts(nodes[0], nodes[self.signed_info], self.signed_info_prefixes, self.method,
                              self.content_prefixes, digest, value, tuple(certificates), ())


class ReadSignature(NamedTuple):  # a tuple: one is made on every verification
    """A signature's parts, with what :meth:`SignatureShapes.remember` needs once they verified."""

    parts: SignatureParts
    shape: Shape
    nodes: tuple[etree._Element, ...]
    known: bool


class SignatureShapes:
    """The shapes one verifier has seen verify; safe to share between threads."""

    def __init__(self, limit: int = MAX_SHAPES) -> None:
        self.limit = limit
        self._templates: dict[Shape, _Template] = {}
        self._adding = threading.Lock()

    def read(self, document: etree._Element, agency: str | None) -> ReadSignature:
        """``document``'s signature read by its shape's template, or checked part by part if the shape is new."""
        signature = the_signature(document, agency)
        nodes = tuple(signature.iter())
        shape = tuple((node.tag, len(node), tuple(node.items())) for node in nodes)
        template = self._templates.get(shape)
        if template is not None:
            return ReadSignature(template.read(nodes, agency), shape, nodes, known=True)
        return ReadSignature(read_parts(signature, agency), shape, nodes, known=False)

    def remember(self, read: ReadSignature) -> None:
        """Keep the shape of a signature whose value has just verified."""
        if read.known or len(self._templates) >= self.limit:
            return
        template = _template_of(read.parts, read.nodes)
        if template is not None:
            with self._adding:
                if len(self._templates) < self.limit:
                    self._templates[read.shape] = template

    def __len__(self) -> int:
        return len(self._templates)


def _template_of(parts: SignatureParts, nodes: tuple[etree._Element, ...]) -> _Template | None:
    place = {id(node): index for index, node in enumerate(nodes)}  # the nodes are held, so ids stay theirs
    children = child_elements(parts.signature)
    reference = child_elements(parts.signed_info)[2]
    key_parts = []
    for child in (child_elements(children[2]) if len(children) == 3 else ()):
        if child.tag == _KEY_NAME:
            continue
        for part in child_elements(child):
            if part.tag == _X509_ISSUER_SERIAL:
                return None
            key_parts.append((place[id(part)], part.tag == _X509_CERTIFICATE))
    return _Template(place[id(parts.signed_info)], place[id(children[1])], place[id(child_elements(reference)[2])],
                     tuple(key_parts), parts.signed_info_prefixes, parts.method, parts.content_prefixes)
