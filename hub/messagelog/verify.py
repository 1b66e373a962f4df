"""Streamed verification of the anchors and every lane against the stored messages.

The anchors are checked first: each must follow the one before and make its
Merkle root from the heads it binds, and the newest head bound of each lane
is what that lane must still hold. Then each lane's records are read in
order a page at a time (keyset paging on the unique (lane, lane_seq) key:
each page is an index range joined to its messages by key, so neither
database sorts or holds a whole lane), inside one read snapshot, so millions
of records are checked in constant memory while writers keep appending.
The first record that does not fit is named by its lane and its number there.

A message whose payloads row is gone passes only where a purge record covers
it (see :mod:`hub.messagelog.retention`); its header's digests must still be
the chain's. The walkers themselves live in :mod:`hub.messagelog.walk`, shared
with the check of an archive (:mod:`hub.archive.reader`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from hub.errors import AuditChainError
from hub.messagelog.anchors import merkle_root
from hub.messagelog.chain import HEADER_FIELDS, REFUSAL_FIELDS
from hub.messagelog.schema import anchors, archives, audit_chain, lanes, messages, payloads, raw_payload, refused
from hub.messagelog.walk import PURGE_KIND, AnchorWalker, Check, LaneWalker, PurgeCoverage

Progress = Callable[[int, int], None]
#: rows fetched per round trip while streaming
_BATCH = 1000
_c, _m, _p, _r, _a = audit_chain, messages, payloads, refused, archives
_STREAM = (
    sa.select(
        _c,
        _m.c.message_id.label("m_id"), raw_payload.label("m_raw"), _p.c.envelope.label("m_envelope"),
        _m.c.raw_sha256.label("m_raw_sha256"), _m.c.envelope_sha256.label("m_envelope_sha256"),
        _m.c.chain_seq.label("m_chain_seq"), *(_m.c[n].label(f"m_{n}") for n in HEADER_FIELDS),
        _r.c.refusal_id.label("r_id"), _r.c.raw.label("r_raw"), _r.c.raw_sha256.label("r_raw_sha256"),
        _r.c.chain_seq.label("r_chain_seq"), _r.c.agency.label("r_agency"), _r.c.reason.label("r_reason"),
        _a.c.archive_id.label("a_id"), _a.c.chain_seq.label("a_chain_seq"),
    )
    .select_from(
        _c.outerjoin(_m, sa.and_(_c.c.kind == "accepted", _m.c.message_id == _c.c.message_id))
        .outerjoin(_p, _p.c.message_id == _m.c.message_id)
        .outerjoin(_r, sa.and_(_c.c.kind == "refused", _r.c.refusal_id == _c.c.message_id))
        .outerjoin(_a, sa.and_(_c.c.kind == PURGE_KIND, _a.c.archive_id == _c.c.message_id))
    )
    .where(_c.c.lane == sa.bindparam("lane"), _c.c.lane_seq > sa.bindparam("after"))
    .order_by(_c.c.lane_seq)
    .limit(sa.bindparam("page"))
)
_LANES = sa.select(lanes.c.lane_id, lanes.c.seq, lanes.c.hash).order_by(lanes.c.lane_id)
_ANCHORS = (sa.select(anchors).where(anchors.c.anchor_seq > sa.bindparam("after"))
            .order_by(anchors.c.anchor_seq).limit(sa.bindparam("page")))
_COUNT_RECORDS = sa.select(sa.func.count()).select_from(_c)
_STRAY = (sa.select(_c.c.lane, _c.c.lane_seq).where(_c.c.lane.not_in(sa.select(lanes.c.lane_id)))
          .order_by(_c.c.seq).limit(1))


def _orphans(table: sa.Table, key: sa.Column, kind: str) -> sa.Select:
    """Rows of ``table`` that no chain record of ``kind`` vouches for (by primary key lookup)."""
    vouched = sa.and_(_c.c.seq == table.c.chain_seq, _c.c.kind == kind, _c.c.message_id == key)
    return (sa.select(key, table.c.chain_seq).select_from(table.outerjoin(_c, _c.c.seq == table.c.chain_seq))
            .where(sa.or_(_c.c.seq.is_(None), ~vouched)).limit(1))


_ORPHAN_MESSAGE = _orphans(_m, _m.c.message_id, "accepted")
_ORPHAN_REFUSAL = _orphans(_r, _r.c.refusal_id, "refused")
_ORPHAN_ARCHIVE = _orphans(_a, _a.c.archive_id, PURGE_KIND)
_COUNTS = sa.select(*(sa.select(sa.func.count()).select_from(table).scalar_subquery() for table in (_m, _r, _a)))
#: the purge records, found through the archive register (a handful of rows, read before the lanes)
_PURGES = sa.select(_c).select_from(_a.join(_c, _c.c.seq == _a.c.chain_seq)).order_by(_c.c.seq)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of one verification run."""

    records: int
    """Chain records checked, in every lane."""

    head_hash: str
    """Merkle root over every lane's head (what an anchor taken now would bind)."""

    ok: bool = True
    record_id: int | None = None
    """First broken record's number in its lane, when not ``ok``."""

    reason: str = ""
    lane: str | None = None
    """The lane of ``record_id``."""

    lanes: int = 0
    """Lanes checked."""

    anchors: int = 0
    """Anchors checked."""

    anchor_id: int | None = None
    """The anchor that does not fit, when one does not."""

    def raise_for_error(self) -> ChainReport:
        """Raise :class:`AuditChainError` naming the first broken record, or return self."""
        if not self.ok:
            raise AuditChainError(self.reason, record_id=self.record_id)
        return self


def verify(engine: Engine, progress: Progress | None = None, every: int = 10_000) -> ChainReport:
    """Check every anchor, every lane's records, every stored payload and every lane's head."""
    with read_snapshot(engine) as conn:
        return _Verification(conn, progress, every).run()


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """A connection reading one snapshot of the log for the whole block, while writers go on appending."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


class _Verification:
    """One run: the anchors first (they say what each lane must still hold), then lane by lane."""

    def __init__(self, conn: sa.Connection, progress: Progress | None, every: int) -> None:
        self.conn, self.progress, self.every = conn, progress, every
        self.heads = conn.execute(_LANES).all()
        self.total = sum(head.seq for head in self.heads)
        self.checked = self.accepted = self.refused = self.purges = 0
        self.anchors = 0
        self.coverage = PurgeCoverage()
        self.checks = db_checks(self.coverage)

    def report(self, **failure) -> ChainReport:
        heads = [(head.lane_id, head.seq, head.hash) for head in self.heads if head.seq]
        return ChainReport(self.checked, merkle_root(heads), lanes=len(self.heads), anchors=self.anchors,
                           ok=not failure, **failure)

    def run(self) -> ChainReport:
        for row in self.conn.execute(_PURGES):
            if (reason := self.coverage.add(row)) is not None:
                return self.report(lane=row.lane, record_id=row.lane_seq, reason=reason)
        walker = AnchorWalker()
        for row in paged(self.conn, _ANCHORS, "anchor_seq"):
            if (reason := walker.step(row) or self.coverage.check_anchor(walker)) is not None:
                return self.report(anchor_id=row.anchor_seq, reason=f"anchor {row.anchor_seq}: {reason}")
        if (reason := self.coverage.check_all_anchored(walker)) is not None:
            return self.report(reason=reason)
        self.anchors = walker.count
        registered = {head.lane_id for head in self.heads}
        for lane_id, (seq, _, anchor_seq) in sorted(walker.bound.items()):
            if lane_id not in registered:
                return self.report(lane=lane_id, record_id=seq, anchor_id=anchor_seq,
                                   reason=f"lane {lane_id} is missing: anchor {anchor_seq} bound its record {seq}")
        for head in self.heads:
            if (broken := self._walk_lane(head, walker.bound.get(head.lane_id))) is not None:
                return broken
        if self.progress and not (self.every and self.checked and self.checked % self.every == 0):
            self.progress(self.checked, self.total)  # the final figure, unless just reported
        return self._stray_records() or self._orphans() or self.report()

    def _walk_lane(self, head: Row, anchored) -> ChainReport | None:
        lane = LaneWalker(head.lane_id, anchored, self.checks)
        for row in paged(self.conn, _STREAM, "lane_seq", lane=head.lane_id):
            if (reason := lane.step(row)) is not None:
                return self.report(lane=head.lane_id, record_id=lane.failed_at, reason=reason)
            self.checked += 1
            self.accepted += row.kind == "accepted"
            self.refused += row.kind == "refused"
            self.purges += row.kind == PURGE_KIND
            if self.progress and self.every and self.checked % self.every == 0:
                self.progress(self.checked, self.total)
        if (reason := lane.finish(head.seq, head.hash)) is not None:
            return self.report(lane=head.lane_id, record_id=lane.failed_at, reason=reason)
        return None

    def _stray_records(self) -> ChainReport | None:
        """Records of a lane the log has no head for (walked by no lane)."""
        if self.conn.execute(_COUNT_RECORDS).scalar_one() == self.checked:
            return None
        stray = self.conn.execute(_STRAY).first()
        lane, seq = stray if stray is not None else ("?", None)
        return self.report(lane=lane, record_id=seq, reason=f"lane {lane} record {seq} belongs to no lane of the log")

    def _orphans(self) -> ChainReport | None:
        """Rows no chain record vouches for (inserted behind the log's back).

        Every chain record already matched one distinct row, so equal counts
        prove there is none; the search for the culprit runs only when not.
        """
        counts = self.conn.execute(_COUNTS).one()
        for count, vouched, query, what in ((counts[0], self.accepted, _ORPHAN_MESSAGE, "message"),
                                            (counts[1], self.refused, _ORPHAN_REFUSAL, "refused input"),
                                            (counts[2], self.purges, _ORPHAN_ARCHIVE, "archive")):
            if count != vouched:
                orphan = self.conn.execute(query).first()
                name, claim = orphan if orphan is not None else ("?", None)
                return self.report(record_id=claim,
                                   reason=f"{what} {name} is not in the chain (it claims record {claim})")
        return None


def paged(conn: sa.Connection, query: sa.Select, key: str, *, start: int = 0, **params):
    """The rows of ``query`` in ``key`` order after ``start``, a page per round trip (keyset paging)."""
    after = start
    while rows := conn.execute(query, {**params, "after": after, "page": _BATCH}).all():
        yield from rows
        after = getattr(rows[-1], key)


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def db_checks(coverage: PurgeCoverage) -> dict[str, Check]:
    """What each kind of record must find in the database; a payload may be gone only where ``coverage`` says."""

    def accepted(row: Row) -> str | None:
        who = f"message {row.message_id}"
        if row.m_id is None:
            return f"{who} is missing from the message log"
        if row.m_raw_sha256 != row.raw_sha256 or row.m_envelope_sha256 != row.envelope_sha256:
            return f"the payload digests of {who} differ from the digests in the chain"
        if row.m_raw is None and row.m_envelope is None:  # no payloads row: purged, or deleted
            if not coverage.covers(row.lane, row.lane_seq):
                return f"the payloads of {who} are missing and no archive's purge covers them"
        elif _sha(row.m_raw) != row.raw_sha256:
            return f"the raw payload of {who} does not match the digest in the chain"
        elif _sha(row.m_envelope) != row.envelope_sha256:
            return f"the signed envelope of {who} does not match the digest in the chain"
        return _check_fields(row, who, HEADER_FIELDS, row.m_chain_seq)

    def purge(row: Row) -> str | None:
        if row.a_id is None:
            return f"archive {row.message_id} is missing from the message log's archive register"
        if row.a_chain_seq != row.seq or row.hash not in coverage.records:
            return f"archive {row.message_id} points at chain record {row.a_chain_seq}"
        return None

    return {"accepted": accepted, "refused": _check_refused, PURGE_KIND: purge}


def _check_refused(row: Row) -> str | None:
    who = f"refused input {row.message_id}"
    if row.r_id is None:
        return f"{who} is missing from the message log"
    if _sha(row.r_raw) != row.raw_sha256 or row.r_raw_sha256 != row.raw_sha256:
        return f"the raw payload of {who} does not match the digest in the chain"
    return _check_fields(row, who, REFUSAL_FIELDS, row.r_chain_seq, prefix="r_")


def _check_fields(row: Row, who: str, names, chain_seq: int, prefix: str = "m_") -> str | None:
    if chain_seq != row.seq:
        return f"{who} points at chain record {chain_seq}"
    try:
        fixed = json.loads(row.detail)
    except ValueError:
        return f"the detail of {who} is not the JSON it was written as"
    for name in names:
        if fixed.get(name) != getattr(row, prefix + name):
            return f"field {name!r} of {who} differs from the chain"
    return None

