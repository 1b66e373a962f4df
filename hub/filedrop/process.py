"""Turning one claimed file into canonical messages — all of them, or none.

    inspect   size, emptiness, binary content, SHA-256 (size checked before reading)
    read      the adapter's reader streams the file; every bad record is collected
    check     each item goes through the pipeline (map, validate, envelope, sign)
    commit    the messages of one or more files are stored in one transaction
    refuse    a rejected file is recorded and counted, once, through the pipeline

Nothing is stored unless every item of the file passed ``read`` and
``check``. A file with more than ``keep_items`` items is not held in memory:
it is read once to check it and once more to store it in chunks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from hub.adapter import FileDrop, FileItem
from hub.errors import InputError, RabtError
from hub.filedrop.folders import Claim
from hub.filedrop.names import source_message_id
from hub.filedrop.report import ItemReceipt, Outcome
from hub.messagelog import Accepted
from hub.pipeline import Pipeline
from hub.pipeline_types import Inbound

_CHUNK = 1024 * 1024
#: files up to this size are kept in memory after inspection (they become the raw payload)
KEEP_BYTES = 16 * 1024 * 1024


class Rejected(Exception):
    """The file is refused; ``reason`` is the headline of its report."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


@dataclass
class Prepared:
    """A file whose items all passed, with the signed records ready to store."""

    claim: Claim
    drop: FileDrop
    outcome: Outcome
    data: bytes | None
    received_at: datetime
    records: list[tuple[FileItem, str, Accepted]] | None = field(default=None)
    """(item without its payload, source message id, record) in file order; None for a streamed (big) file."""
    items: list[FileItem] | None = field(default=None)
    """The items read, between reading and checking (None for a file too big to hold)."""

    @classmethod
    def start(cls, agency: str, claim: Claim, drop: FileDrop) -> Prepared:
        """A claimed file before anything is known about it (its outcome says failed until stored)."""
        return cls(claim, drop, Outcome(agency, claim.path.name, "failed", message_type=drop.message_type),
                   None, now())


def inspect(claim: Claim, drop: FileDrop, outcome: Outcome) -> bytes | None:
    """Check size and content type, fill in size and SHA-256; the bytes if small enough to keep.

    Read with ``pread`` on the claim's descriptor, in pieces of at most the
    size it has: a buffered file object cost five system calls before the
    first byte (fstat, ioctl, three seeks) and two reads of 1 MB buffers at
    the end, for a wage file of 2 KB. The size is the one the claim's lock
    saw, and a piece shorter than asked for is the end of the file: a wage
    file takes one ``pread``, no ``fstat`` and no read of zero bytes.
    """
    size = outcome.size = claim.size if claim.size >= 0 else os.fstat(claim.fd).st_size
    if size > drop.max_bytes:
        raise Rejected(f"file is {size} bytes, over the limit of {drop.max_bytes} bytes; it was not read")
    if size == 0:
        raise Rejected("file is empty")
    digest, kept, offset, utf16 = hashlib.sha256(), [], 0, None
    asked = min(_CHUNK, size + 1)  # one byte more than the size: a file that grew since is read on
    while chunk := os.pread(claim.fd, asked, offset):
        if utf16 is None:  # a UTF-16 text has NUL bytes: its BOM says text
            utf16 = chunk[:2] in (b"\xff\xfe", b"\xfe\xff")
        nul = -1 if utf16 else chunk.find(b"\0")
        if nul >= 0:
            raise Rejected(f"binary content (NUL byte at offset {offset + nul}): expected a text file")
        digest.update(chunk)
        offset += len(chunk)
        if size <= KEEP_BYTES:
            kept.append(chunk)
        if len(chunk) < asked:
            break  # the end of the file: the next pread would return nothing
    # the bytes hashed: a file written to after its claim (against the protocol) is described as it was read
    outcome.size, outcome.sha256 = offset, digest.hexdigest()
    return b"".join(kept) if size <= KEEP_BYTES else None


def read_items(claim: Claim, drop: FileDrop, outcome: Outcome, keep_items: int,
               data: bytes | None = None) -> list[FileItem] | None:
    """Stream the reader once: bad records go to ``outcome``; the items if at most ``keep_items``.

    ``data``: the file's bytes when :func:`inspect` kept them, read from there by a drop that can.
    """
    kept: list[FileItem] | None = []
    count = 0
    for item in _guarded(drop, claim, data):
        if item.error is not None or item.payload is None:
            outcome.add_error(item.line, item.error or "record could not be read")
            continue
        count += 1
        if kept is not None and count <= keep_items:
            kept.append(item)
        else:
            kept = None  # too many to hold: checked now, read again to store
    if outcome.error_count:
        raise Rejected(f"{outcome.error_count} problem(s) in the file")
    if count == 0:
        raise Rejected("file holds no records")
    return kept


def _guarded(drop: FileDrop, claim: Claim, data: bytes | None = None) -> Iterator[FileItem]:
    """The reader's items; an exception from it ends the file as a rejection, never a crash."""
    try:
        if data is not None and drop.content_reader is not None:
            yield from drop.content_reader(claim.path.name, data)
        else:
            yield from drop.reader(claim.path)
    except RabtError as exc:
        raise Rejected(f"{exc.code}: {exc.reason}", getattr(exc, "line", 0) or 0) from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise Rejected(f"file could not be read: {exc}") from exc


def inbound_for(agency: str, drop: FileDrop, item: FileItem, raw: bytes, sha256: str,
                received_at: datetime, *, raw_is_file: bool = False) -> Inbound:
    """The pipeline input for one item; its agency message id is derived from the content.

    ``sha256`` is the file's digest; when ``raw`` is the whole file it is also
    the payload's, and the pipeline does not take it again.
    """
    return Inbound(agency=agency, system=drop.system, message_type=drop.message_type,
                   destination=drop.destination, raw=raw,
                   source_message_id=source_message_id(sha256, item.source_id), received_at=received_at,
                   raw_sha256=sha256 if raw_is_file else None)


def raw_of(item: FileItem, single: bool, data: bytes) -> bytes:
    """What the message log keeps as received: the whole file when it is one item, else the item."""
    return data if single else etree.tostring(item.payload, encoding="utf-8")


def canonicalize_all(pipeline: Pipeline, prepared: Prepared, items: Sequence[FileItem] | Iterator[FileItem],
                     single: bool, *, keep: bool) -> list[tuple[FileItem, str, Accepted]]:
    """Run every item through the pipeline; any refusal rejects the file with every bad line listed."""
    outcome, records = prepared.outcome, []
    for item in items:
        inbound = inbound_for(outcome.agency, prepared.drop, item, raw_of(item, single, prepared.data),
                              outcome.sha256, prepared.received_at, raw_is_file=single)
        try:
            record = pipeline.check(inbound, item.payload)
        except RabtError as exc:
            outcome.add_error(item.line, f"{exc.code}: {exc.reason}")
            continue
        if keep:  # the parsed payload is let go: a slice of files waiting to be stored holds only bytes
            records.append((FileItem(item.line, source_id=item.source_id), inbound.source_message_id, record))
    if outcome.error_count:
        raise Rejected(f"{outcome.error_count} record(s) refused by the hub; nothing from this file was accepted")
    return records


def commit(pipeline: Pipeline, files: Sequence[Prepared]) -> None:
    """Store the records of ``files`` in one transaction and fill in each outcome's items.

    Raises MessageLogError when the log is unavailable (nothing is stored
    then), Rejected when the log refuses the records (an id reused with
    other content).
    """
    records = [record for prepared in files for _, _, record in prepared.records]
    try:
        result = pipeline.accept_batch(records)
    except InputError as exc:
        raise Rejected(f"{exc.code}: {exc.reason}") from exc
    stored, repeats = set(result.stored), iter(result.duplicates)
    for prepared in files:
        for item, smid, record in prepared.records:
            if record.message_id in stored:
                receipt = ItemReceipt(item.line, item.source_id, smid, record.message_id)
            else:
                receipt = ItemReceipt(item.line, item.source_id, smid, next(repeats).first_message_id, True)
            prepared.outcome.items.append(receipt)


def commit_streamed(pipeline: Pipeline, prepared: Prepared, chunk: int) -> None:
    """Store a big file chunk by chunk, reading it again; a resumed file only adds what is missing."""
    items = (item for item in _guarded(prepared.drop, prepared.claim) if item.payload is not None)
    while True:
        part = [item for _, item in zip(range(chunk), items)]
        if not part:
            return
        piece = Prepared(prepared.claim, prepared.drop, prepared.outcome, prepared.data, prepared.received_at)
        piece.records = canonicalize_all(pipeline, piece, part, False, keep=True)
        commit(pipeline, [piece])


def now() -> datetime:
    return datetime.now(UTC)


#: the ``code`` of a rejected file in the refusal record and ``rabt_messages_refused_total``
FILE_REFUSED = "file-rejected"


def keep_refusal(pipeline: Pipeline, outcome: Outcome, data: bytes | None) -> None:
    """Record and count the rejected file as a refusal: its digest and first bytes, never all of it."""
    pipeline.refuse(data or b"", agency=outcome.agency, code=FILE_REFUSED,
                    reason=f"file {outcome.name}: {outcome.reason}",
                    input_sha256=outcome.sha256 or None, input_size=outcome.size)
