"""The hash chains: append records to a lane in turn.

Every record's hash is SHA-256 over a JSON array of (previous hash, its number
in its lane, kind, message id, status, time, actor, detail, raw payload digest,
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.messagelog import lanes, prepared
from hub.messagelog.db import is_sqlite
from hub.messagelog.schema import RECORD_NUMBERS, audit_chain

#: previous hash of the first record of the chain written before lanes (see :func:`lanes.genesis`)
GENESIS = lanes.LEGACY_GENESIS
#: header fields an acceptance record fixes, in the order they are serialised
HEADER_FIELDS = (
    "correlation_id", "message_type", "source_agency", "source_system",
    "source_message_id", "destination", "routing_key", "created_at", "received_at",
)
REFUSAL_FIELDS = ("agency", "reason")
#: the detail key of an acceptance record holding the legal basis the message was sent on (when it has one)
LEGAL_BASIS = "legal_basis"


@dataclass(frozen=True, init=False)
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

    def __init__(self, kind: str, status: str, at: str, message_id: str | None = None, detail: str = "",
                 actor: str | None = None, raw_sha256: str | None = None, envelope_sha256: str | None = None) -> None:
        # Every field set at once: a frozen dataclass's own __init__ sets each through object.__setattr__,
        # about half of building one (every write chains a few). tests/unit/test_frozen_inits.py holds this
        # to the constructor the dataclass would make.
        self.__dict__.update(kind=kind, status=status, at=at, message_id=message_id, detail=detail, actor=actor,
                             raw_sha256=raw_sha256, envelope_sha256=envelope_sha256)


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


#: the newest record's number in the whole log (0 when empty)
HEAD = sa.select(sa.func.coalesce(sa.func.max(audit_chain.c.seq), 0).label("seq"))
# The columns a record is written with, in the order append() builds its row.
_COLUMNS = ("seq", "kind", "message_id", "status", "at", "actor", "detail", "raw_sha256", "envelope_sha256",
            "prev_hash", "hash", "lane", "lane_seq")
# Run on the driver's cursor (see hub.messagelog.prepared): every write of the log appends here.
_INSERT = prepared.insert_sql(audit_chain, _COLUMNS)
_NEWEST = f"SELECT coalesce(max(seq), 0) FROM {audit_chain.name}"
# unnest(array_fill(…)), not generate_series(1, ?): the server planned that again on every write (a kept plan
# counts 1,000 rows for any count, so one made for the count always looked cheaper); this one it plans once.
_NEXT_NUMBERS = f"SELECT nextval('{RECORD_NUMBERS.name}') FROM unnest(array_fill(0, ARRAY[?::integer]))"


def append(conn: Connection, entries: Sequence[ChainEntry],
           numbers: Callable[[], list[int]] | None = None) -> list[int]:
    """Append ``entries`` in order to the transaction's lane; their record numbers.

    The lane's head is locked first (see :func:`hub.messagelog.lanes.lock`),
    so the lane never forks; the unique key on (lane, lane_seq) would refuse
    a fork anyway. ``numbers``, from :func:`numbers_later` sent after the
    lock, gives the record numbers (at least one per entry; the rest go
    unused); without it they are taken here.
    """
    if not entries:
        return []
    lane_id, lane_seq, prev = lanes.lock(conn)
    numbers = numbers() if numbers is not None else _record_numbers(conn, len(entries))
    if len(numbers) < len(entries):
        raise ValueError(f"{len(entries)} chain records were given {len(numbers)} record numbers")
    numbers = numbers[:len(entries)]
    rows = []
    for number, entry in zip(numbers, entries):
        lane_seq += 1
        digest = entry_hash(prev, lane_seq, entry)
        # a plain tuple, not asdict(): its deep copy cost more than the hash itself
        # (a wage month appends 360,000 records)
        rows.append((number, entry.kind, entry.message_id, entry.status, entry.at, entry.actor, entry.detail,
                     entry.raw_sha256, entry.envelope_sha256, prev, digest, lane_id, lane_seq))
        prev = digest
    prepared.execute_many(conn, _INSERT, rows)
    lanes.move_head(conn, lane_id, lane_seq, prev)
    lanes.current(conn).appended += len(rows)
    return numbers


def numbers_later(conn: Connection, count: int) -> Callable[[], list[int]]:
    """Up to ``count`` record numbers for :func:`append`, asked for now and read when the returned function is called.

    On PostgreSQL the sequence is asked at once: sent after the lane's lock
    in a pipeline (:func:`hub.messagelog.prepared.send`), the numbers share
    the round trip of the write's first reads instead of costing one of their
    own. A write that then appends fewer records (its duplicates) leaves the
    rest unused, a gap in the numbers as a rolled-back write leaves one.
    SQLite has no round trips to save; its numbers (max + 1, see
    :func:`_record_numbers`) are taken when read, so none goes unused.
    """
    if is_sqlite(conn.engine):
        return lambda: _record_numbers(conn, count)
    found = prepared.send(conn, _NEXT_NUMBERS, (max(1, count),))
    return lambda: sorted(number for (number,) in found())


def lock_and_numbers_later(conn: Connection, count: int) -> tuple[Callable[[], tuple[str, int, str]],
                                                                  Callable[[], list[int]]]:
    """The lane's lock (:func:`hub.messagelog.lanes.lock_later`) and :func:`numbers_later`, sent now.

    One statement does both when the lane is not locked yet in this
    transaction: a statement less for every write (on PostgreSQL each
    statement sent in a pipeline wakes the server up on its own; on SQLite
    each costs the driver's call and the statement's run).
    """
    locked = lanes.lock_later(conn, numbers=max(1, count))
    return locked, locked.numbers or numbers_later(conn, count)


def _record_numbers(conn: Connection, count: int) -> list[int]:
    """``count`` new record numbers, ascending: a sequence on PostgreSQL (no lock), max + 1 on SQLite."""
    if is_sqlite(conn.engine):
        # SQLite's BEGIN IMMEDIATE lets one writer in at a time, so max + 1 cannot be taken twice.
        [(newest,)] = prepared.fetch(conn, _NEWEST)
        return list(range(newest + 1, newest + 1 + count))
    return sorted(number for (number,) in prepared.fetch(conn, _NEXT_NUMBERS, (count,)))
