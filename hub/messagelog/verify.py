"""Streamed verification of the hash chain against the stored messages.

Records are read in sequence order a page at a time (keyset paging on the
primary key: each page is an index range joined to its messages by key, so
neither database sorts or holds the whole chain), inside one read snapshot,
so a chain of millions of records is checked in constant memory while
writers keep appending.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from hub.errors import AuditChainError
from hub.messagelog.chain import GENESIS, HEADER_FIELDS, REFUSAL_FIELDS, ChainEntry, entry_hash
from hub.messagelog.schema import audit_chain, audit_head, messages, payloads, refused

Progress = Callable[[int, int], None]
#: rows fetched per round trip while streaming
_BATCH = 1000
_c, _m, _p, _r = audit_chain, messages, payloads, refused
_STREAM = (
    sa.select(
        _c,
        _m.c.message_id.label("m_id"), _p.c.raw.label("m_raw"), _p.c.envelope.label("m_envelope"),
        _m.c.raw_sha256.label("m_raw_sha256"), _m.c.envelope_sha256.label("m_envelope_sha256"),
        _m.c.chain_seq.label("m_chain_seq"), *(_m.c[n].label(f"m_{n}") for n in HEADER_FIELDS),
        _r.c.refusal_id.label("r_id"), _r.c.raw.label("r_raw"), _r.c.raw_sha256.label("r_raw_sha256"),
        _r.c.chain_seq.label("r_chain_seq"), _r.c.agency.label("r_agency"), _r.c.reason.label("r_reason"),
    )
    .select_from(
        _c.outerjoin(_m, sa.and_(_c.c.kind == "accepted", _m.c.message_id == _c.c.message_id))
        .outerjoin(_p, _p.c.message_id == _m.c.message_id)
        .outerjoin(_r, sa.and_(_c.c.kind == "refused", _r.c.refusal_id == _c.c.message_id))
    )
    .where(_c.c.seq > sa.bindparam("after"))
    .order_by(_c.c.seq)
    .limit(sa.bindparam("page"))
)
_HEAD = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)


def _orphans(table: sa.Table, key: sa.Column, kind: str) -> sa.Select:
    """Rows of ``table`` that no chain record of ``kind`` vouches for (by primary key lookup)."""
    vouched = sa.and_(_c.c.seq == table.c.chain_seq, _c.c.kind == kind, _c.c.message_id == key)
    return (sa.select(key, table.c.chain_seq).select_from(table.outerjoin(_c, _c.c.seq == table.c.chain_seq))
            .where(sa.or_(_c.c.seq.is_(None), ~vouched)).limit(1))


_ORPHAN_MESSAGE = _orphans(_m, _m.c.message_id, "accepted")
_ORPHAN_REFUSAL = _orphans(_r, _r.c.refusal_id, "refused")
_COUNTS = sa.select(sa.select(sa.func.count()).select_from(_m).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(_r).scalar_subquery())


@dataclass(frozen=True)
class ChainReport:
    """The outcome of one verification run."""

    records: int
    """Chain records checked."""

    head_hash: str
    """Hash of the newest record (compare with an earlier run's to prove growth only)."""

    ok: bool = True
    record_id: int | None = None
    """First broken record, when not ``ok``."""

    reason: str = ""

    def raise_for_error(self) -> ChainReport:
        """Raise :class:`AuditChainError` naming the first broken record, or return self."""
        if not self.ok:
            raise AuditChainError(self.reason, record_id=self.record_id)
        return self


def verify(engine: Engine, progress: Progress | None = None, every: int = 10_000) -> ChainReport:
    """Check every chain record, every stored payload and the chain's head."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            head_seq, head_hash = conn.execute(_HEAD).one()
            walker = _Walker(head_seq, progress, every)
            while rows := conn.execute(_STREAM, {"after": walker.count, "page": _BATCH}).all():
                for row in rows:
                    if (broken := walker.step(row)) is not None:
                        return broken
            return walker.finish(head_hash) or _orphan_check(conn, walker)


class _Walker:
    """Walks the records in order, remembering only the previous hash."""

    def __init__(self, total: int, progress: Progress | None, every: int) -> None:
        self.total, self.progress, self.every = total, progress, every
        self.count, self.prev = 0, GENESIS
        self.accepted = self.refused = 0

    def fail(self, record_id: int | None, reason: str) -> ChainReport:
        return ChainReport(self.count, self.prev, ok=False, record_id=record_id, reason=reason)

    def step(self, row: Row) -> ChainReport | None:
        expected = self.count + 1
        if row.seq != expected:
            return self.fail(expected, f"record {expected} is missing: the chain jumps from {expected - 1} to {row.seq}")
        entry = ChainEntry(**{k: getattr(row, k) for k in ChainEntry.__dataclass_fields__})
        if entry_hash(row.prev_hash, row.seq, entry) != row.hash:
            return self.fail(row.seq, f"record {row.seq} was altered: its contents do not match its hash")
        if row.prev_hash != self.prev:
            return self.fail(row.seq, f"record {row.seq} does not follow record {row.seq - 1}: "
                                      "the previous hash differs (a record was rewritten or reordered)")
        reason = _check_accepted(row) if row.kind == "accepted" else _check_refused(row) if row.kind == "refused" else None
        if reason:
            return self.fail(row.seq, f"record {row.seq}: {reason}")
        self.count, self.prev = row.seq, row.hash
        self.accepted += row.kind == "accepted"
        self.refused += row.kind == "refused"
        if self.progress and self.every and self.count % self.every == 0:
            self.progress(self.count, self.total)
        return None

    def finish(self, head_hash: str) -> ChainReport | None:
        if self.progress and not (self.every and self.count and self.count % self.every == 0):
            self.progress(self.count, self.total)  # the final figure, unless just reported
        if self.total > self.count:
            return self.fail(self.count + 1, f"records {self.count + 1} to {self.total} are missing: "
                                             f"the chain ends at {self.count} but its head is {self.total}")
        if self.total != self.count or head_hash != self.prev:
            return self.fail(self.count, f"the chain head does not match record {self.count}")
        return None


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _check_accepted(row: Row) -> str | None:
    who = f"message {row.message_id}"
    if row.m_id is None:
        return f"{who} is missing from the message log"
    if _sha(row.m_raw) != row.raw_sha256 or row.m_raw_sha256 != row.raw_sha256:
        return f"the raw payload of {who} does not match the digest in the chain"
    if _sha(row.m_envelope) != row.envelope_sha256 or row.m_envelope_sha256 != row.envelope_sha256:
        return f"the signed envelope of {who} does not match the digest in the chain"
    return _check_fields(row, who, HEADER_FIELDS, row.m_chain_seq)


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


def _orphan_check(conn: sa.Connection, walker: _Walker) -> ChainReport:
    """Rows no chain record vouches for (inserted behind the log's back).

    Every chain record already matched one distinct row, so equal counts
    prove there is none; the search for the culprit runs only when not.
    """
    counts = conn.execute(_COUNTS).one()
    for count, vouched, query, what in ((counts[0], walker.accepted, _ORPHAN_MESSAGE, "message"),
                                        (counts[1], walker.refused, _ORPHAN_REFUSAL, "refused input")):
        if count != vouched:
            orphan = conn.execute(query).first()
            name, claim = orphan if orphan is not None else ("?", None)
            return walker.fail(claim, f"{what} {name} is not in the chain (it claims record {claim})")
    return ChainReport(walker.count, walker.prev)
