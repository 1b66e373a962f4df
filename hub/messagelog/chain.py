"""The hash chain: append records in turn, and verify the whole log against it.

Every record's hash is SHA-256 over a JSON array of (previous hash, sequence
number, kind, message id, status, time, actor, detail, raw payload digest,
envelope digest). JSON quoting keeps the fields unambiguous, so no two
different records can serialise alike.

An acceptance record also fixes the message's header fields (in ``detail``)
and the digests of its raw payload and signed envelope; verification
re-hashes the stored bytes, so editing a payload, an event, a header field,
or deleting, inserting or reordering rows names the first record that no
longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.messagelog.schema import audit_chain, audit_head

#: previous hash of the first record
GENESIS = "0" * 64
#: header fields an acceptance record fixes, in the order they are serialised
HEADER_FIELDS = (
    "correlation_id", "message_type", "source_agency", "source_system",
    "source_message_id", "destination", "routing_key", "created_at", "received_at",
)
REFUSAL_FIELDS = ("agency", "reason")


@dataclass(frozen=True)
class ChainEntry:
    """What one chain record says, before it gets its place and hash."""

    kind: str
    """``accepted``, ``event`` (status change, operator action) or ``refused``."""

    status: str
    """The message status this record sets (``received`` for an acceptance)."""

    at: str
    """When, as stored text (see :func:`hub.messagelog.schema.timestamp`)."""

    message_id: str | None = None
    detail: str = ""
    actor: str | None = None
    raw_sha256: str | None = None
    envelope_sha256: str | None = None


# Built once: json.dumps with any option but the defaults builds a new encoder on every call,
# and a wage month hashes 360,000 records. (The hashed form must never change.)
_record_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_detail_json = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def entry_hash(prev_hash: str, seq: int, entry: ChainEntry) -> str:
    """The hash of record ``seq`` holding ``entry`` after ``prev_hash``."""
    fields = [
        prev_hash, seq, entry.kind, entry.message_id, entry.status, entry.at,
        entry.actor, entry.detail, entry.raw_sha256, entry.envelope_sha256,
    ]
    text = _record_json(fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fields_detail(values: dict, names: Sequence[str]) -> str:
    """``values`` restricted to ``names`` as canonical JSON (the record's detail)."""
    return _detail_json({n: values.get(n) for n in names})


#: the newest record's number and hash
HEAD = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_LOCK_HEAD = HEAD.with_for_update()
_INSERT = sa.insert(audit_chain)
_MOVE_HEAD = sa.update(audit_head).where(audit_head.c.id == 1)


def ensure_head(conn: Connection) -> None:
    """Create the head row of an empty chain (tolerates a concurrent creator)."""
    if conn.execute(HEAD).first() is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        except sa.exc.IntegrityError:
            pass


def lock(conn: Connection) -> tuple[int, str]:
    """Lock the chain head for the rest of ``conn``'s transaction; (seq, hash).

    This serialises appenders across processes on PostgreSQL; on SQLite the
    write transaction (BEGIN IMMEDIATE) already holds the database lock.
    """
    return tuple(conn.execute(_LOCK_HEAD).one())


def append(conn: Connection, entries: Sequence[ChainEntry]) -> list[int]:
    """Append ``entries`` in order inside ``conn``'s transaction; their sequence numbers.

    The head is locked first (see :func:`lock`), so the chain never forks;
    the primary key on ``seq`` would refuse a fork anyway.
    """
    seq, prev = lock(conn)
    rows = []
    for entry in entries:
        seq += 1
        digest = entry_hash(prev, seq, entry)
        # vars(), not asdict(): the fields are plain values, and asdict's deep copy cost more
        # than the hash itself (a wage month appends 360,000 records)
        rows.append({**vars(entry), "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if rows:
        conn.execute(_INSERT, rows)
        conn.execute(_MOVE_HEAD.values(seq=seq, hash=prev))
    return [row["seq"] for row in rows]
