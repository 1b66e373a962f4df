"""Where an archive starts: its base anchor, in its signed manifest, and the register of archives written.

An archive continues from a base: the covering anchor of the archive before
it (or the log's start, anchor 0, for the first or a full archive). It holds
the records after every lane's head at the base, and the anchors after it.
The manifest carries the whole base anchor (the columns its hash is made of)
and every lane head it bound, so a reader checks the base on its own (its
hash, its Merkle root over the heads) and walks each lane from there; with
the archive before it at hand, the base must be that archive's last anchor
(:func:`check_continues`). An archive without a base (written before bases
existed) starts at the log's start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from lxml import etree

from hub.archive import layout
from hub.errors import AuditChainError
from hub.messagelog import db
from hub.messagelog.anchors import ANCHOR_GENESIS, Head, anchor_hash, merkle_root
from hub.messagelog.schema import timestamp, written_archives

_w = written_archives
_ANCHOR_ATTRIBUTES = (("anchor_seq", "anchor"), ("hash", "hash"), ("prev_hash", "prevHash"), ("at", "at"),
                      ("lanes", "lanes"), ("records", "records"), ("root", "root"))


@dataclass(frozen=True)
class ArchiveBase:
    """The anchor an archive continues from, and every lane head it bound (anchor 0: the log's start)."""

    anchor_seq: int = 0
    hash: str = ANCHOR_GENESIS
    prev_hash: str = ""
    at: str = ""
    lanes: int = 0
    records: int = 0
    root: str = ""
    heads: list[Head] = field(default_factory=list)

    @property
    def genesis(self) -> bool:
        return self.anchor_seq == 0

    def head(self, lane_id: str) -> tuple[int, str] | None:
        """(seq, hash) lane ``lane_id`` starts after; None: from its genesis."""
        return next(((seq, hash_) for lane, seq, hash_ in self.heads if lane == lane_id), None)

    def element(self) -> etree._Element:
        """The manifest's ``Base`` element."""
        base = etree.Element(f"{{{layout.NAMESPACE}}}Base")
        for name, attribute in _ANCHOR_ATTRIBUTES:
            if not self.genesis or name in ("anchor_seq", "hash"):
                base.set(attribute, str(getattr(self, name)))
        for lane_id, seq, hash_ in self.heads:
            etree.SubElement(base, f"{{{layout.NAMESPACE}}}Head", lane=lane_id, seq=str(seq), hash=hash_)
        return base

    def check(self) -> None:
        """AuditChainError unless the base anchor makes its hash and its heads its Merkle root."""
        if self.genesis:
            if self.hash != ANCHOR_GENESIS or self.heads:
                raise AuditChainError("the manifest's base is the log's start but carries a hash or lane heads")
            return
        made = anchor_hash(self.prev_hash, self.anchor_seq, self.at, self.lanes, self.records, self.root)
        if made != self.hash:
            raise AuditChainError(f"the base anchor {self.anchor_seq} in the manifest does not make its hash")
        if merkle_root(sorted(self.heads)) != self.root or len(self.heads) != self.lanes:
            raise AuditChainError(f"the lane heads of base anchor {self.anchor_seq} do not make its Merkle root")


def from_anchor(row, heads: list[Head]) -> ArchiveBase:
    """The base an ``anchors`` row (and the heads bound at it) makes."""
    return ArchiveBase(row.anchor_seq, row.hash, row.prev_hash, row.at, row.lanes, row.records, row.root,
                       sorted(heads))


def parse_base(manifest) -> ArchiveBase:
    """The base a manifest names (the log's start when it names none); AuditChainError when malformed."""
    element = manifest.find(f"{{{layout.NAMESPACE}}}Base")
    if element is None:
        return ArchiveBase()
    try:
        values = {name: element.get(attribute) for name, attribute in _ANCHOR_ATTRIBUTES}
        values = {name: value for name, value in values.items() if value is not None}
        for name in ("anchor_seq", "lanes", "records"):
            if name in values:
                values[name] = int(values[name])
        heads = [(head.get("lane"), int(head.get("seq")), head.get("hash"))
                 for head in element.iter(f"{{{layout.NAMESPACE}}}Head")]
        if any(not isinstance(lane, str) or not isinstance(hash_, str) for lane, _, hash_ in heads):
            raise ValueError("a head without lane or hash")
    except (TypeError, ValueError):
        raise AuditChainError("the manifest's base is not what an archive writes") from None
    return ArchiveBase(**values, heads=sorted(heads))


def check_continues(report, previous, name: str = "the archive", previous_name: str = "the previous one") -> None:
    """AuditChainError unless ``report``'s archive starts exactly where ``previous``'s ends (both verified)."""
    base = report.base
    if base.anchor_seq != previous.anchor_seq or base.hash != previous.anchor_hash:
        raise AuditChainError(
            f"{name} does not continue {previous_name}: it starts after anchor {base.anchor_seq} "
            f"(hash {base.hash[:16]}…), {previous_name} ends at anchor {previous.anchor_seq} "
            f"(hash {previous.anchor_hash[:16]}…)")
    if sorted(base.heads) != sorted(tuple(head) for head in previous.heads):
        raise AuditChainError(f"{name} does not continue {previous_name}: its base lane heads differ from "
                              f"those {previous_name}'s last anchor binds")


def record_written(log, written) -> None:
    """Register an archive written (and verified): the next one continues from its anchor."""
    row = {"archive_id": written.manifest_sha256, "name": written.path.name, "until": written.until,
           "anchor_seq": written.anchor_seq, "anchor_hash": written.anchor_hash,
           "base_anchor": written.base_anchor, "written_at": timestamp()}
    with db.translated("register the archive"), db.write_transaction(log.engine) as conn:
        if conn.execute(sa.select(_w.c.archive_id).where(_w.c.archive_id == row["archive_id"])).first() is None:
            conn.execute(sa.insert(_w), row)


def names_ending_at(log, anchor_seq: int) -> list[str]:
    """The registered file names of the archives that end at anchor ``anchor_seq`` (more than one when the
    same period was written twice, by hand and by the retention role)."""
    query = sa.select(_w.c.name).where(_w.c.anchor_seq == anchor_seq).order_by(_w.c.written_at)
    with db.translated("read the archives register"), log.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def base_anchor_for(conn: sa.Connection, covering: int, until: datetime) -> int:
    """The anchor an archive of the period up to ``until`` (covered by anchor ``covering``) continues from.

    The newest archive written up to ``covering`` — but an archive of this
    very period written before (the command run again) keeps its own base, so
    it comes out the same.
    """
    again = conn.execute(sa.select(sa.func.max(_w.c.base_anchor))
                         .where(_w.c.anchor_seq == covering, _w.c.until == timestamp(until))).scalar()
    if again is not None:
        return again
    newest = conn.execute(sa.select(sa.func.max(_w.c.anchor_seq)).where(_w.c.anchor_seq <= covering)).scalar()
    return newest or 0
