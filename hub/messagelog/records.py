"""What goes into the message log and what comes out of it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from hub.errors import MessageLogError
from hub.routing import routing_key

#: every status a message can have, in the order they usually happen
STATUSES = (
    "received", "published", "delivered", "retried",
    "dead-lettered", "replayed", "discarded", "refused",
    # hops of an outbound query: handed to the agency, its answer, or the attempt's failure
    "called", "answered", "failed",
    # what a party was sent of the message when access.toml limits its fields (see hub.projection)
    "projected",
    # what the destination reported doing with a delivery (its DeliveryReceipt): "failed" as above
    "applied",
)


def check_status(status: str) -> str:
    """``status`` if it is one of :data:`STATUSES`, else a MessageLogError naming them."""
    if status not in STATUSES:
        raise MessageLogError(f"unknown message status {status!r}; expected one of {', '.join(STATUSES)}")
    return status


_SHA256_HEX = re.compile("[0-9a-f]{64}")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 (the digest form used in envelopes and the chain)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Accepted:
    """A message the pipeline accepted: raw payload, signed envelope, header fields."""

    message_id: str
    """The hub's id (UUID) for this message."""

    message_type: str
    source_agency: str
    destination: str
    routing_key: str
    """Topic key ``<destination>.<message_type>.<source_agency>``."""

    raw: bytes
    """The payload exactly as the agency sent it."""

    envelope: bytes
    """The signed canonical envelope that will be published."""

    correlation_id: str | None = None
    source_system: str | None = None
    source_message_id: str | None = None
    """The agency's own id; a second message with the same one is a duplicate."""

    created_at: datetime | None = None
    received_at: datetime | None = None
    raw_sha256: str | None = None
    """SHA-256 of ``raw`` when the caller has already taken it (the log takes it otherwise)."""

    projection: str | None = None
    """Which projection ``envelope`` carries (fields sent, fields withheld), None when it holds the whole
    message: chained as a ``projected`` record right after the acceptance, in the same write."""

    legal_basis: str | None = None
    """The legal basis on which the sender sent it (access.toml, as in force at acceptance); chained with it."""

    search_terms: tuple[str, ...] | None = None
    """The body's search terms when the caller had the body parsed (:func:`hub.messagelog.search.terms_in`);
    None: the log reads them from ``envelope``."""

    envelope_sha256: str | None = None
    """SHA-256 of ``envelope`` when the signer took it on the way (the log takes it otherwise)."""

    @classmethod
    def from_header(cls, header, raw: bytes, envelope: bytes, *, raw_sha256: str | None = None,
                    projection: str | None = None, legal_basis: str | None = None,
                    search_terms: tuple[str, ...] | None = None, envelope_sha256: str | None = None) -> Accepted:
        """Build from a :class:`hub.envelope.Header` and the bytes it describes.

        ``raw_sha256`` only when it is the digest of ``raw`` itself: a header's
        PayloadDigest is that only where ``raw`` is the payload it was made for.
        """
        # Every field set at once, as __init__ would set them: a frozen dataclass's __init__ sets each through
        # object.__setattr__, ~20k instructions for these sixteen (a push builds two records).
        # tests/unit/test_records_from_header.py holds this to the constructor.
        record = object.__new__(cls)
        record.__dict__.update(
            message_id=header.message_id, message_type=header.message_type,
            source_agency=header.source_agency, destination=header.destination,
            routing_key=routing_key(header.destination, header.message_type, header.source_agency),
            raw=raw, envelope=envelope, correlation_id=header.correlation_id,
            source_system=header.source_system, source_message_id=header.source_message_id,
            created_at=header.created_at, received_at=header.received_at, raw_sha256=raw_sha256,
            projection=projection, legal_basis=legal_basis, search_terms=search_terms,
            envelope_sha256=envelope_sha256,
        )
        return record

    def validate(self) -> None:
        """MessageLogError naming the first missing or malformed field."""
        for name in ("message_id", "message_type", "source_agency", "destination", "routing_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise MessageLogError(f"accepted message needs a non-empty {name}, got {value!r}",
                                      message_id=self.message_id if name != "message_id" else None)
        for name in ("raw", "envelope"):
            if not isinstance(getattr(self, name), (bytes, bytearray)):
                raise MessageLogError(f"{name} must be bytes", message_id=self.message_id)
        for name in ("created_at", "received_at"):
            moment = getattr(self, name)
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                raise MessageLogError(f"{name} must be a datetime with a time zone, got {moment!r}",
                                      message_id=self.message_id)
        for name in ("raw_sha256", "envelope_sha256"):
            digest = getattr(self, name)
            if digest is not None and not (isinstance(digest, str) and _SHA256_HEX.fullmatch(digest)):
                raise MessageLogError(f"{name} must be 64 lower-case hex digits, got {digest!r}",
                                      message_id=self.message_id)

    def raw_digest(self) -> str:
        """SHA-256 of ``raw``: the one the caller took, else taken now."""
        return self.raw_sha256 or sha256_hex(self.raw)


@dataclass(frozen=True)
class StoredMessage:
    """One message as the log holds it (payloads included)."""

    message_id: str
    correlation_id: str | None
    message_type: str
    source_agency: str
    source_system: str | None
    source_message_id: str | None
    destination: str
    routing_key: str
    raw: bytes | None
    """None once a purge removed it (see ``archived_in``)."""

    raw_sha256: str
    envelope: bytes | None
    envelope_sha256: str
    status: str
    created_at: datetime
    received_at: datetime
    published_at: datetime | None
    updated_at: datetime
    archived_in: str | None = None
    """The archive holding the payloads once a purge removed them from the log."""


@dataclass(frozen=True)
class Event:
    """One entry of a message's status history (one chain record)."""

    seq: int
    """The chain record number."""

    message_id: str | None
    status: str
    at: datetime
    detail: str
    actor: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Input that was refused (unparseable, bad signature…): the reason and a bounded digest of it."""

    refusal_id: str
    agency: str
    reason: str
    raw: bytes
    """The first bytes of the input (at most :data:`REFUSAL_HEAD_BYTES`), never all of it."""

    received_at: datetime
    input_sha256: str | None = None
    """SHA-256 of the whole input (None in logs written before refusals kept a digest)."""

    input_size: int | None = None
    """Size of the whole input in bytes."""


#: how many leading bytes of refused input the log keeps: enough to see what it was, bounded per record
REFUSAL_HEAD_BYTES = 512


@dataclass(frozen=True)
class PendingMessage:
    """A stored message the outbox has not yet seen confirmed by the broker."""

    message_id: str
    routing_key: str
    correlation_id: str | None
    message_type: str
    source_agency: str
    envelope: bytes


@dataclass(frozen=True)
class LogStats:
    """Counts an operator watches."""

    by_status: dict[str, int]
    outbox_backlog: int
    refused: int
    chain_records: int
    last_processed_at: datetime | None
    """Time of the newest chain record (anything the log did)."""


def input_digest(data: bytes, sha256: str | None = None, size: int | None = None) -> tuple[str | None, int]:
    """(SHA-256, size) of refused input: given ones win; the digest of ``data`` only if it is all of it."""
    size = len(data) if size is None else int(size)
    if sha256 is None and size == len(data):
        sha256 = sha256_hex(data)
    return sha256, size
