"""Anchors: a chain of records that each bind every lane's head.

Lanes (:mod:`hub.messagelog.lanes`) keep writers apart, but a lane alone
cannot show that its newest records were cut off: whoever deletes them can
move its head row back too. An anchor fixes, at one moment, the head
(lane, seq, hash) of every lane as a Merkle root over the heads sorted by lane
id (RFC 6962's tree hash, so a later archive can prove one head with a short
path), and chains to the anchor before it. Verification then catches a
deleted lane tail as the records the next anchor bound and the lane no
longer has.

An anchor's ``hash`` — SHA-256 over a JSON array of (previous anchor hash,
anchor number, time, lanes, records, root) — is what an RFC 3161 time-stamping
authority will stamp: the token goes into the anchor's ``timestamp_token``,
outside the hash it stamps, so it can be attached after the anchor is written.

An anchor stores only the heads that moved since the anchor before (its
``heads``); verification carries the others forward. Any writing process
takes an anchor when its schedule says so (:class:`AnchorSchedule`): anchor
writers queue on one lock, which ordinary appends never take.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog import db
from hub.messagelog.schema import anchored_lanes, anchors, lanes, parse_timestamp, timestamp

#: previous hash of the first anchor
ANCHOR_GENESIS = "0" * 64
#: a lane head as an anchor binds it: (lane id, its newest record's number in the lane, that record's hash)
Head = tuple[str, int, str]

_NEWEST = sa.select(anchors.c.anchor_seq, anchors.c.at, anchors.c.hash).order_by(anchors.c.anchor_seq.desc()).limit(1)
_HEADS = sa.select(lanes.c.lane_id, lanes.c.seq, lanes.c.hash).where(lanes.c.seq > 0)
_BOUND = sa.select(anchored_lanes.c.lane_id, anchored_lanes.c.seq, anchored_lanes.c.hash)
_ANCHOR_LOCK_KEY = 0x72616274_616E6368  # "rabtanch": the anchor writers' advisory lock on PostgreSQL


@dataclass(frozen=True)
class AnchorPolicy:
    """When a writing process takes an anchor."""

    every_seconds: float = 60.0
    """About this long at most between anchors of a log that is being written (any process may take it)."""

    every_records: int = 10_000
    """A process anchors after appending this many records since its last anchor, however soon."""

    def __post_init__(self) -> None:
        if not self.every_seconds > 0 or not isinstance(self.every_records, int) or self.every_records < 1:
            raise MessageLogError(f"anchor policy needs positive limits, got {self!r}")


@dataclass(frozen=True)
class Anchor:
    """One anchor record."""

    anchor_seq: int
    at: str
    lanes: int
    """Lanes bound (every lane with at least one record)."""

    records: int
    """Records bound: the sum of the heads' numbers."""

    root: str
    """Merkle root over the heads, sorted by lane id."""

    prev_hash: str
    hash: str


def merkle_root(heads: Iterable[Head]) -> str:
    """RFC 6962 tree hash over ``heads`` sorted by lane id (hex); the empty tree's for none."""
    leaves = [hashlib.sha256(b"\x00" + _head_json(head)).digest() for head in sorted(heads)]
    return _tree(leaves).hex() if leaves else hashlib.sha256(b"").hexdigest()


def _tree(nodes: Sequence[bytes]) -> bytes:
    if len(nodes) == 1:
        return nodes[0]
    split = 1 << ((len(nodes) - 1).bit_length() - 1)  # the largest power of two below the count
    return hashlib.sha256(b"\x01" + _tree(nodes[:split]) + _tree(nodes[split:])).digest()


def _head_json(head: Head) -> bytes:
    return json.dumps(list(head), separators=(",", ":")).encode()


def anchor_hash(prev_hash: str, anchor_seq: int, at: str, lane_count: int, records: int, root: str) -> str:
    """The hash of an anchor (what a timestamp token stamps)."""
    fields = [prev_hash, anchor_seq, at, lane_count, records, root]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def encode_heads(heads: Iterable[Head]) -> str:
    """The stored form of an anchor's moved heads."""
    return json.dumps([list(head) for head in sorted(heads)], separators=(",", ":"))


def decode_heads(text: str) -> list[Head]:
    """An anchor's moved heads; ValueError when the text is not what :func:`encode_heads` wrote."""
    heads = json.loads(text)
    if not isinstance(heads, list) or not all(_is_head(head) for head in heads):
        raise ValueError("not a list of [lane, seq, hash]")
    return [tuple(head) for head in heads]


def _is_head(head) -> bool:
    return (isinstance(head, list) and len(head) == 3 and isinstance(head[0], str)
            and isinstance(head[1], int) and not isinstance(head[1], bool) and isinstance(head[2], str))


def take(engine: Engine, *, unless_younger_than: float | None = None) -> Anchor | None:
    """Write an anchor binding every lane's head now; None when skipped.

    Skipped when nothing moved since the newest anchor, or (with
    ``unless_younger_than``) when another process anchored less than that
    many seconds ago.
    """
    with db.translated("anchor the audit chain"), db.write_transaction(engine) as conn:
        _lock_anchor_writers(conn)
        newest = conn.execute(_NEWEST).first()
        if newest is not None and unless_younger_than is not None and _age(newest.at) < unless_younger_than:
            return None
        bound = {row.lane_id: (row.lane_id, row.seq, row.hash) for row in conn.execute(_BOUND)}
        heads = [tuple(row) for row in conn.execute(_HEADS)]
        moved = [head for head in heads if bound.get(head[0]) != head]
        if not moved and newest is not None:
            return None
        return _write(conn, newest, heads, moved)


def _write(conn: Connection, newest, heads: list[Head], moved: list[Head]) -> Anchor:
    anchor_seq = 1 if newest is None else newest.anchor_seq + 1
    prev = ANCHOR_GENESIS if newest is None else newest.hash
    at, root, records = timestamp(), merkle_root(heads), sum(seq for _, seq, _ in heads)
    anchor = Anchor(anchor_seq, at, len(heads), records, root, prev,
                    anchor_hash(prev, anchor_seq, at, len(heads), records, root))
    conn.execute(sa.insert(anchors), {**vars(anchor), "heads": encode_heads(moved)})
    moved_ids = [lane_id for lane_id, _, _ in moved]
    conn.execute(sa.delete(anchored_lanes).where(anchored_lanes.c.lane_id.in_(moved_ids)))
    if moved:
        conn.execute(sa.insert(anchored_lanes), [
            {"lane_id": lane_id, "seq": seq, "hash": hash_, "anchor_seq": anchor_seq}
            for lane_id, seq, hash_ in moved])
    return anchor


def _lock_anchor_writers(conn: Connection) -> None:
    """One anchor writer at a time, reading only after the one before committed (SQLite: BEGIN IMMEDIATE)."""
    if not db.is_sqlite(conn.engine):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ANCHOR_LOCK_KEY)))


def _age(at: str) -> float:
    return time.time() - parse_timestamp(at).timestamp()


class AnchorSchedule:
    """Decides when this process anchors: after ``every_records`` of its own records, or once
    ``every_seconds`` passed since it last looked (skipped if another process anchored meanwhile).

    Thread-safe: one thread of the process anchors at a time; the others go on.
    """

    def __init__(self, policy: AnchorPolicy, clock=time.monotonic) -> None:
        self.policy, self._clock = policy, clock
        self._busy = threading.Lock()
        self._last_check = clock()
        self._appended_at_anchor = 0

    def after_write(self, engine: Engine, appended: int) -> Anchor | None:
        """Anchor if due, given the lane's running count of appended records; the anchor written."""
        if appended < self._appended_at_anchor:  # a new lane (after a fork) counts from zero
            self._appended_at_anchor = 0
        by_records = appended - self._appended_at_anchor >= self.policy.every_records
        by_time = appended > self._appended_at_anchor and self._clock() - self._last_check >= self.policy.every_seconds
        if not (by_records or by_time) or not self._busy.acquire(blocking=False):
            return None
        try:
            anchor = take(engine, unless_younger_than=None if by_records else self.policy.every_seconds)
            self._last_check, self._appended_at_anchor = self._clock(), appended
            return anchor
        finally:
            self._busy.release()
