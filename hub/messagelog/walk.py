"""Walking the hash chains, wherever their rows come from: the database, or an archive.

:class:`AnchorWalker` and :class:`LaneWalker` only read attributes of the
rows they are given (the columns of ``anchors`` and ``audit_chain``), so the
same code checks a live log (:mod:`hub.messagelog.verify`) and an archive
read back without any database (:mod:`hub.archive.reader`). What a record
vouches for beyond itself — a stored payload, a refused input's head, an
archive's purge — is checked by the per-kind checks the caller passes.

A purge (:mod:`hub.messagelog.retention`) removes the payloads of archived
messages and leaves a chain record naming the archive and the lane heads it
covers; :class:`PurgeCoverage` is what those records allow to be missing.
A payload missing anywhere else is a deletion, never a purge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping

from hub.messagelog.anchors import ANCHOR_GENESIS, Head, anchor_hash, decode_heads, merkle_root
from hub.messagelog.chain import ChainEntry, entry_hash, fields_detail
from hub.messagelog.lanes import genesis

#: a check of what one record vouches for: None when it holds, else why not
Check = Callable[[object], "str | None"]
#: the kind and status of a purge's chain record
PURGE_KIND = "purge"
PURGE_STATUS = "purged"
#: the purge record's detail fields, in the order they are serialised
PURGE_FIELDS = ("archive", "anchor", "heads")


def record_entry(row) -> ChainEntry:
    """The chain entry a row (``audit_chain`` columns as attributes) holds."""
    return ChainEntry(**{name: getattr(row, name) for name in ChainEntry.__dataclass_fields__})


def record_intact(row) -> bool:
    """Whether the row's contents make its hash (its place in the lane is checked by the walk)."""
    return entry_hash(row.prev_hash, row.lane_seq, record_entry(row)) == row.hash


class PurgeCoverage:
    """The lane records whose payloads purges removed: per lane, up to the newest head an archive covered."""

    def __init__(self) -> None:
        self.upto: dict[str, int] = {}
        self.records: set[str] = set()
        """Hashes of the purge records that made it (each must be met in its lane)."""
        self.claims: dict[int, list[tuple[str, list[Head]]]] = {}
        """anchor number → (archive, heads) of each purge that says that anchor bound those heads."""

    def add(self, row) -> str | None:
        """Count the purge record ``row`` in; why it cannot be, or None."""
        if row.kind != PURGE_KIND:
            return f"lane {row.lane} record {row.lane_seq} is listed as a purge but is a {row.kind} record"
        if not record_intact(row):
            return f"lane {row.lane} record {row.lane_seq} (a purge) was altered: its contents do not match its hash"
        try:
            detail = json.loads(row.detail)
            heads, anchor_seq = decode_heads(json.dumps(detail["heads"])), int(detail["anchor"])
        except (ValueError, KeyError, TypeError):
            return f"lane {row.lane} record {row.lane_seq} (a purge): its detail is not the JSON it was written as"
        for lane_id, seq, _hash in heads:
            self.upto[lane_id] = max(seq, self.upto.get(lane_id, 0))
        self.records.add(row.hash)
        self.claims.setdefault(anchor_seq, []).append((row.message_id, sorted(heads)))
        return None

    def check_anchor(self, walker: AnchorWalker) -> str | None:
        """After ``walker`` stepped: a purge naming this anchor must cover exactly the heads it bound."""
        for archive, heads in self.claims.get(walker.count, ()):
            if heads != walker.heads():
                return f"the purge of archive {archive} covers other lane heads than anchor {walker.count} bound"
        return None

    def check_all_anchored(self, walker: AnchorWalker) -> str | None:
        """After the last anchor: every purge names an anchor that was there."""
        beyond = [(anchor, archive) for anchor, claims in self.claims.items() for archive, _ in claims
                  if anchor > walker.count or anchor < 1]
        if beyond:
            anchor, archive = min(beyond)
            return f"the purge of archive {archive} names anchor {anchor}, which the anchors do not reach"
        return None

    def covers(self, lane_id: str, lane_seq: int) -> bool:
        """Whether a purge may have removed the payloads of record ``lane_seq`` of ``lane_id``."""
        return lane_seq <= self.upto.get(lane_id, 0)


def purge_detail(archive: str, anchor_seq: int, heads: Iterable[Head]) -> str:
    """The detail of a purge record: the archive's name, its anchor and every lane head it covers."""
    values = {"archive": archive, "anchor": anchor_seq, "heads": [list(head) for head in sorted(heads)]}
    return fields_detail(values, PURGE_FIELDS)


class AnchorWalker:
    """Walks the anchors in order, carrying every lane's bound head forward."""

    def __init__(self, start: tuple[int, str, Iterable[Head]] | None = None) -> None:
        self.count, self.prev = 0, ANCHOR_GENESIS
        self.bound: dict[str, tuple[int, str, int]] = {}
        """lane id → (seq, hash, anchor number) of the newest head an anchor bound."""
        if start is not None:  # an archive's base: (anchor number, hash, every lane head it bound)
            self.count, self.prev = start[0], start[1]
            self.bound = {lane_id: (seq, hash_, start[0]) for lane_id, seq, hash_ in start[2]}

    def heads(self) -> list[Head]:
        """Every lane's head as the anchors so far bind it, sorted by lane."""
        return sorted((lane_id, seq, hash_) for lane_id, (seq, hash_, _) in self.bound.items())

    def step(self, row) -> str | None:
        """Check the next anchor; why it does not fit, or None."""
        expected = self.count + 1
        if row.anchor_seq != expected:
            return f"anchor {expected} is missing: the anchors jump from {expected - 1} to {row.anchor_seq}"
        if anchor_hash(row.prev_hash, row.anchor_seq, row.at, row.lanes, row.records, row.root) != row.hash:
            return "its contents do not match its hash"
        if row.prev_hash != self.prev:
            return f"it does not follow anchor {expected - 1}: the previous hash differs"
        try:
            moved = decode_heads(row.heads)
        except (ValueError, TypeError):
            return "its heads are not the JSON they were written as"
        for lane_id, seq, hash_ in moved:
            if seq < self.bound.get(lane_id, (0,))[0]:
                return f"it moves lane {lane_id} back to record {seq}"
            self.bound[lane_id] = (seq, hash_, row.anchor_seq)
        heads = self.heads()
        if merkle_root(heads) != row.root or len(heads) != row.lanes:
            return "the lane heads it stores do not make its Merkle root"
        self.count, self.prev = row.anchor_seq, row.hash
        return None


class LaneWalker:
    """Walks one lane's records in order, remembering only the previous hash.

    ``checks`` maps a record kind to what such a record must find beside it
    (its payload, its refused input, its archive). ``start`` is the (seq, hash)
    of the record before the first one given (an archive's base head).
    """

    def __init__(self, lane_id: str, anchored: tuple[int, str, int] | None, checks: Mapping[str, Check],
                 start: tuple[int, str] | None = None) -> None:
        self.lane_id, self.anchored, self.checks = lane_id, anchored, checks
        # an archive continuing from a base walks from the head the base bound; else from the lane's genesis
        self.count, self.prev = start if start is not None else (0, genesis(lane_id))
        self.failed_at: int | None = None

    def fail(self, seq: int, reason: str) -> str:
        self.failed_at = seq
        return reason

    def step(self, row) -> str | None:
        """Check the lane's next record; why it does not fit (``failed_at`` names it), or None."""
        expected, seq, who = self.count + 1, row.lane_seq, f"lane {self.lane_id} record {row.lane_seq}"
        if seq != expected:
            return self.fail(expected, f"lane {self.lane_id} record {expected} is missing: "
                                       f"the lane jumps from {expected - 1} to {seq}")
        if not record_intact(row):
            return self.fail(seq, f"{who} was altered: its contents do not match its hash")
        if row.prev_hash != self.prev:
            return self.fail(seq, f"{who} does not follow record {seq - 1}: "
                                  "the previous hash differs (a record was rewritten or reordered)")
        check = self.checks.get(row.kind)
        if check is not None and (reason := check(row)):
            return self.fail(seq, f"{who}: {reason}")
        if self.anchored is not None and self.anchored[0] == seq and self.anchored[1] != row.hash:
            return self.fail(seq, f"{who} is not the record anchor {self.anchored[2]} bound (the lane was rewritten)")
        self.count, self.prev = seq, row.hash
        return None

    def finish(self, head_seq: int, head_hash: str) -> str | None:
        """After the lane's last record: it must reach what the anchors bound and end at ``head_seq``."""
        if self.anchored is not None and self.anchored[0] > self.count:
            return self.fail(self.count + 1, f"lane {self.lane_id} records {self.count + 1} to {self.anchored[0]} "
                                             f"are missing: anchor {self.anchored[2]} bound record {self.anchored[0]}")
        if head_seq > self.count:
            return self.fail(self.count + 1, f"lane {self.lane_id} records {self.count + 1} to {head_seq} are missing: "
                                             f"the lane ends at {self.count} but its head is {head_seq}")
        if head_seq != self.count or head_hash != self.prev:
            return self.fail(self.count, f"lane {self.lane_id}: its head does not match record {self.count}")
        return None
