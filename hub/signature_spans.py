"""A known signature found inside one exclusive C14N of the whole signed document: one C14N per verification.

The enveloped-signature transform takes ``ds:Signature`` out before the
content's exclusive C14N, and SignedInfo is canonicalized again for its
signature value: two C14N runs, a detach and a walk over the signature's nodes
(:mod:`hub.signature_shapes`), most of a verification's time beside the key
operation. Here the document is canonicalized once, signature included, and
both are cut out of those bytes:

* the document is the only one read this way when its canonical form (made
  with comments) holds no comment and no processing instruction — then every
  ``<`` in it starts a tag (text and attribute values have theirs escaped) —
  and ``ds:Signature`` is the root's last child;
* the root's end tag starts at the form's last ``<``; the tag before it is the
  end tag of the root's last element child, the signature, so the signature's
  canonical form ends there. It is matched, backwards, against a template: the
  exclusive C14N of a signature that verified before, on its own, cut around
  the text of its DigestValue, SignatureValue and X509Certificates (elements
  holding text alone). A hole may hold no ``<``, ``>`` or ``&`` (nothing C14N
  escaped), so each hole starts after the last ``>`` before it, and a match is
  the template byte for byte with other texts in those places: the same
  elements, attributes, namespace declarations and algorithms, which is why
  the profile's checks need not run again. The template declares every prefix
  it uses, so its meaning does not depend on where it sits;
* exclusive C14N renders no node differently for a sibling beside it, so the
  form without the signature's bytes is the content's canonical form, the
  digested one; and the canonical SignedInfo, the signed one, is the
  template's SignedInfo around the digest's text.

Only signatures without InclusiveNamespaces prefix lists and without
X509IssuerSerial are kept (their canonical forms depend on more than the
bytes matched); others, documents with comments, and shapes not seen yet go
through :mod:`hub.signature_shapes` and :mod:`hub.verify`'s full reading.
Templates are kept only after a signature's value verified against a pinned
key, and at most :data:`~hub.signature_shapes.MAX_SHAPES` of them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from lxml import etree

from hub.signature_shapes import MAX_SHAPES, around_digest
from hub.verify import DS, SignatureParts, base64_of_text, certificate_bytes, child_elements, digest_of_text

_X509_CERTIFICATE = f"{{{DS}}}X509Certificate"
_ESCAPED = re.compile("[&<>\r]")
"""What exclusive C14N writes otherwise in text: a DigestValue holding one is read another way."""


@dataclass(frozen=True)
class _Template:
    """A signature's canonical form with its holes emptied: DigestValue, SignatureValue, then each certificate."""

    paths: tuple[tuple[int, ...], ...]
    """Where each hole is, as child indexes from ``ds:Signature``."""
    emptied: bytes
    """The canonical ``ds:Signature`` on its own, every hole without text."""
    signed_info_head: bytes
    signed_info_tail: bytes
    """The canonical SignedInfo (on its own) before and after the DigestValue's text."""
    method: str

    def holes(self, signature: etree._Element) -> list[etree._Element] | None:
        """The elements in this template's holes, if ``signature`` has elements there."""
        try:
            holes = []
            for path in self.paths:
                node = signature
                for index in path:
                    node = node[index]
                holes.append(node)
            return holes
        except IndexError:
            return None

    def read(self, signature: etree._Element, texts: list[str | None], agency: str | None) -> SignatureParts:
        """The parts, values checked as :func:`~hub.verify.read_parts` checks them, in its order."""
        digest = digest_of_text(texts[0], agency)
        certificates = tuple(certificate_bytes(text, agency) for text in texts[2:])
        value = base64_of_text(texts[1], "ds:SignatureValue", agency)
        signed_info = b"".join((self.signed_info_head, texts[0].encode("utf-8"), self.signed_info_tail))
        return SignatureParts(signature, None, None, self.method, None, digest, value, certificates, (),
                              signed_info)


class SignatureSpans:
    """The signature templates one verifier has seen verify; safe to share between threads."""

    def __init__(self, limit: int = MAX_SHAPES) -> None:
        self.limit = limit
        self._templates: tuple[_Template, ...] = ()
        self._adding = threading.Lock()

    def read(self, document: etree._Element, signature: etree._Element,
             agency: str | None) -> tuple[SignatureParts, bytes] | None:
        """The signature's parts and the SHA-256 of the content's canonical form, or None: read it another way.

        ``document`` is left as it came.
        """
        if signature.getnext() is not None:
            return None
        for template in self._templates:
            holes = template.holes(signature)
            if holes is None:
                continue
            texts = [hole.text for hole in holes]
            if not texts[0] or _ESCAPED.search(texts[0]):
                continue
            canonical = _canonical_emptied(document, holes, texts)
            if canonical is None:
                return None
            end = _end_of_last_child(canonical)
            if canonical.endswith(template.emptied, 0, end):
                whole = memoryview(canonical)
                digest = hashlib.sha256(whole[:end - len(template.emptied)])
                digest.update(whole[end:])
                return template.read(signature, texts, agency), digest.digest()
        return None

    def remember(self, parts: SignatureParts) -> None:
        """Keep the template of a signature whose value has just verified, if it is of a kind kept."""
        if (len(self) >= self.limit or parts.signed_info_prefixes is not None or parts.content_prefixes is not None
                or parts.serials or parts.signed_info is None):
            return
        template = _template_of(parts)
        if template is not None:
            with self._adding:
                if len(self) < self.limit and template not in self._templates:
                    self._templates = (*self._templates, template)

    def __len__(self) -> int:
        return len(self._templates)


def _canonical_emptied(document: etree._Element, holes: list[etree._Element], texts: list[str | None]) -> bytes | None:
    """The document's exclusive C14N with the holes' texts taken out for the time it takes; None if it holds
    a comment or a processing instruction (then a "<" may be other than a tag) or cannot be made."""
    try:  # the document is the verifier's until it answers: no one else sees the holes empty
        for hole in holes:
            hole.text = None
        canonical = etree.tostring(document, method="c14n", exclusive=True, with_comments=True)
    except etree.C14NError:  # a relative namespace URI, say: the full reading says what is wrong, as it did
        return None
    finally:
        for hole, text in zip(holes, texts, strict=True):
            hole.text = text
    # find, not `in` (see hub.signature_checks); a one-byte search first, a memchr
    if (canonical.find(b"!") >= 0 and canonical.find(b"<!--") >= 0) or (
            canonical.find(b"?") >= 0 and canonical.find(b"<?") >= 0):
        return None
    return canonical


def _end_of_last_child(canonical: bytes) -> int:
    """Where the end tag of the root's last element child ends: the root's end tag starts at the last "<"."""
    root_end = canonical.rfind(b"<")
    return canonical.find(b">", canonical.rfind(b"<", 0, root_end)) + 1


def _template_of(parts: SignatureParts) -> _Template | None:
    around = around_digest(parts)
    paths = _hole_paths(parts)
    if around is None or paths is None:
        return None
    signature = parts.signature
    holes = [_at(signature, path) for path in paths]
    texts = [hole.text for hole in holes]
    try:
        for hole in holes:
            hole.text = None
        emptied = etree.tostring(signature, method="c14n", exclusive=True, with_comments=True)
    finally:
        for hole, text in zip(holes, texts, strict=True):
            hole.text = text
    if emptied.find(b"<!--") >= 0 or emptied.find(b"<?") >= 0:
        return None
    return _Template(paths, emptied, around[0], around[1], parts.method)


def _at(signature: etree._Element, path: tuple[int, ...]) -> etree._Element:
    node = signature
    for index in path:
        node = node[index]
    return node


def _hole_paths(parts: SignatureParts) -> tuple[tuple[int, ...], ...] | None:
    """Where DigestValue, SignatureValue and every X509Certificate are, each holding text alone; None if one
    holds more."""
    signature = parts.signature
    digest_value = child_elements(child_elements(parts.signed_info)[2])[2]
    holes = [digest_value, child_elements(signature)[1]]
    key_info = child_elements(signature)[2:]
    for data in child_elements(key_info[0]) if key_info else ():
        holes += [part for part in child_elements(data) if part.tag == _X509_CERTIFICATE]
    if any(len(hole) or not hole.text for hole in holes):
        return None
    paths = []
    for hole in holes:
        path = []
        node = hole
        while node is not signature:
            parent = node.getparent()
            path.append(parent.index(node))
            node = parent
        paths.append(tuple(reversed(path)))
    return tuple(paths)
