"""The few DER/BER pieces a streamed CMS envelope needs: a header written for a known length, headers read one by one.

asn1crypto parses and dumps whole values in memory; an archive's encrypted
content can be gigabytes, so the envelope around it is written and read here
a header at a time, and only the small values (the recipients, the algorithm)
go through asn1crypto.
"""

from __future__ import annotations

from typing import BinaryIO

from hub.errors import InputError

SEQUENCE, SET, OCTET_STRING, OID, INTEGER = 0x30, 0x31, 0x04, 0x06, 0x02
#: [0] EXPLICIT (constructed) and [0] IMPLICIT OCTET STRING (primitive)
CONTEXT_0_CONSTRUCTED, CONTEXT_0_PRIMITIVE = 0xA0, 0x80


def head(tag: int, length: int) -> bytes:
    """The DER identifier and length octets of a value of ``length`` bytes."""
    if length < 0x80:
        return bytes([tag, length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size


def tlv(tag: int, value: bytes) -> bytes:
    """A whole DER value."""
    return head(tag, len(value)) + value


class Reader:
    """Reads BER values from a file a header at a time; anything malformed is an :class:`InputError`."""

    def __init__(self, stream: BinaryIO, what: str) -> None:
        self.stream, self.what = stream, what

    def exactly(self, count: int) -> bytes:
        data = self.stream.read(count)
        if len(data) != count:
            raise InputError(f"{self.what} is cut short (the file ends inside its structure)")
        return data

    def chunks(self, length: int, size: int):
        """The next ``length`` bytes, ``size`` at a time."""
        while length > 0:
            chunk = self.exactly(min(size, length))
            length -= len(chunk)
            yield chunk

    def header(self) -> tuple[int, int | None, bytes]:
        """(tag, length or None when indefinite, the header's own bytes)."""
        first = self.exactly(2)
        tag, octet = first[0], first[1]
        if octet < 0x80:
            return tag, octet, first
        if octet == 0x80:
            return tag, None, first
        count = octet & 0x7F
        if count > 8:
            raise InputError(f"{self.what} has a length of {count} octets: not an archive envelope")
        size = self.exactly(count)
        return tag, int.from_bytes(size, "big"), first + size

    def expect(self, tag: int, name: str) -> int | None:
        """Read a header that must carry ``tag``; its length."""
        found, length, _raw = self.header()
        if found != tag:
            raise InputError(f"{self.what}: expected {name} (tag 0x{tag:02x}), found tag 0x{found:02x}")
        return length

    def whole(self, tag: int, name: str) -> bytes:
        """A small definite-length value with ``tag``, header included (to hand to asn1crypto)."""
        raw, contents = self._small(tag, name)
        return raw + contents

    def value(self, tag: int, name: str) -> bytes:
        """The contents of a small definite-length value with ``tag``."""
        return self._small(tag, name)[1]

    def _small(self, tag: int, name: str) -> tuple[bytes, bytes]:
        """(header bytes, contents) of a small definite-length value with ``tag``."""
        found, length, raw = self.header()
        if found != tag or length is None:
            raise InputError(f"{self.what}: expected {name} (tag 0x{tag:02x}, definite length), "
                             f"found tag 0x{found:02x}")
        if length > 1 << 20:
            raise InputError(f"{self.what}: {name} of {length} bytes is not plausible")
        return raw, self.exactly(length)
