"""Storing accepted messages: duplicate check, chain records, message and outbox rows.

Runs inside a write transaction that already holds the chain lock, so the
duplicate check and the inserts are atomic with respect to every other
writer; the unique key on (source_agency, source_message_id) backs it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.errors import DuplicateMessageError, MessageLogError
from hub.messagelog import chain
from hub.messagelog.chain import HEADER_FIELDS, ChainEntry, fields_detail
from hub.messagelog.records import Accepted, sha256_hex
from hub.messagelog.schema import messages, outbox, payloads, timestamp

_m = messages
# One agency at a time: SQLite answers ``(agency, id) IN (VALUES …)`` by scanning the whole
# table (a 2.8 GB scan per batch after a month of wage files); ``agency = ? AND id IN (…)``
# searches the unique index on (source_agency, source_message_id), here and on PostgreSQL.
_BY_SOURCE = sa.select(_m.c.source_message_id, _m.c.message_id).where(
    _m.c.source_agency == sa.bindparam("agency"), _m.c.source_message_id.in_(sa.bindparam("ids", expanding=True)))
_TAKEN = sa.select(_m.c.message_id).where(_m.c.message_id.in_(sa.bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class BatchResult:
    """What :meth:`MessageLog.accept_many` stored and what it refused as duplicates."""

    stored: list[str] = field(default_factory=list)
    """Hub message ids stored, in input order."""

    duplicates: list[DuplicateMessageError] = field(default_factory=list)
    """One error per duplicate (``first_message_id`` names the earlier message)."""


def store(conn: Connection, records: Sequence[Accepted], enqueue: bool = True) -> BatchResult:
    """Store every non-duplicate record with status ``received`` (and an outbox row if ``enqueue``)."""
    for record in records:
        record.validate()
    _refuse_taken_ids(conn, records)
    fresh, duplicates = _split_duplicates(conn, records)
    if not fresh:
        return BatchResult([], duplicates)
    now = timestamp()
    rows = [_message_values(record, now) for record in fresh]
    seqs = chain.append(conn, [_entry(row, now) for row in rows])
    conn.execute(sa.insert(_m), [{**row, "chain_seq": seq} for row, seq in zip(rows, seqs)])
    conn.execute(sa.insert(payloads), [{"message_id": record.message_id, "raw": bytes(record.raw),
                                        "envelope": bytes(record.envelope)} for record in fresh])
    if enqueue:
        conn.execute(sa.insert(outbox), [{"message_id": row["message_id"], "enqueued_at": now} for row in rows])
    return BatchResult([row["message_id"] for row in rows], duplicates)


def _refuse_taken_ids(conn: Connection, records: Sequence[Accepted]) -> None:
    ids = [record.message_id for record in records]
    taken = conn.execute(_TAKEN, {"ids": ids}).scalars().first()
    if taken is None and len(set(ids)) < len(ids):
        taken = next(mid for mid in ids if ids.count(mid) > 1)
    if taken is not None:
        raise MessageLogError("a message with this id is already stored", message_id=taken)


def _split_duplicates(conn: Connection, records: Sequence[Accepted]):
    wanted: dict[str, set[str]] = {}
    for record in records:
        if record.source_message_id is not None:
            wanted.setdefault(record.source_agency, set()).add(record.source_message_id)
    seen = {(agency, smid): mid for agency, ids in wanted.items()
            for smid, mid in conn.execute(_BY_SOURCE, {"agency": agency, "ids": sorted(ids)})}
    fresh, duplicates = [], []
    for record in records:
        key = (record.source_agency, record.source_message_id)
        first = seen.get(key) if record.source_message_id is not None else None
        if first is None:
            fresh.append(record)
            if record.source_message_id is not None:
                seen[key] = record.message_id  # a repeat later in the same batch is a duplicate too
            continue
        duplicates.append(DuplicateMessageError(
            f"{record.source_agency} message {record.source_message_id!r} was already received as {first}",
            first_message_id=first, agency=record.source_agency))
    return fresh, duplicates


def _entry(row: dict, now: str) -> ChainEntry:
    return ChainEntry("accepted", "received", now, row["message_id"], fields_detail(row, HEADER_FIELDS),
                      raw_sha256=row["raw_sha256"], envelope_sha256=row["envelope_sha256"])


def _message_values(record: Accepted, now: str) -> dict:
    return {
        "message_id": record.message_id, "correlation_id": record.correlation_id,
        "message_type": record.message_type, "source_agency": record.source_agency,
        "source_system": record.source_system, "source_message_id": record.source_message_id,
        "destination": record.destination, "routing_key": record.routing_key,
        "raw_sha256": sha256_hex(record.raw), "envelope_sha256": sha256_hex(record.envelope),
        "status": "received", "created_at": timestamp(record.created_at) if record.created_at else now,
        "received_at": timestamp(record.received_at) if record.received_at else now,
        "published_at": None, "updated_at": now,
    }
