"""RFC 3161 tokens on the anchors: which anchors wait for one, attaching one, checking every stored one.

An anchor's token sits outside the anchor's hash (see
:mod:`hub.messagelog.anchors`), so it is attached by an UPDATE after the
anchor is written — only while the anchor has none and still has the hash
that was stamped, so two stampers racing for one anchor keep the first token.
:func:`check_tokens` re-verifies every stored token offline against the
pinned TSA certificate and lists what does not hold, naming the anchor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.engine import Engine

from hub.messagelog import db
from hub.messagelog.schema import anchors, parse_timestamp
from hub.timestamps import TimestampError, verify_token

#: how far a token's genTime may lie before its anchor's own time (the two clocks differ a little)
CLOCK_SKEW = timedelta(seconds=5)
#: findings listed in full; more are counted
MAX_FINDINGS = 20
_PAGE = 500
_a = anchors
_UNSTAMPED = (sa.select(_a.c.anchor_seq, _a.c.at, _a.c.hash).where(_a.c.timestamp_token.is_(None))
              .order_by(_a.c.anchor_seq).limit(sa.bindparam("limit")))
_BACKLOG = sa.select(sa.func.count(), sa.func.min(_a.c.at)).where(_a.c.timestamp_token.is_(None))
_ATTACH = (sa.update(_a).where(_a.c.anchor_seq == sa.bindparam("seq"), _a.c.hash == sa.bindparam("anchor_hash"),
                               _a.c.timestamp_token.is_(None))
           .values(timestamp_token=sa.bindparam("token")))
_ALL = (sa.select(_a.c.anchor_seq, _a.c.at, _a.c.hash, _a.c.timestamp_token)
        .where(_a.c.anchor_seq > sa.bindparam("after")).order_by(_a.c.anchor_seq).limit(_PAGE))


@dataclass(frozen=True)
class Backlog:
    """Anchors without a token: how many, and when the oldest was taken."""

    count: int
    oldest_at: datetime | None

    def oldest_age(self, now: datetime | None = None) -> float:
        """Seconds since the oldest unstamped anchor was taken; 0 when none waits."""
        if self.oldest_at is None:
            return 0.0
        return max(0.0, ((now or datetime.now(timezone.utc)) - self.oldest_at).total_seconds())


def unstamped(engine: Engine, limit: int = 100) -> list:
    """Up to ``limit`` anchors without a token, oldest first: rows of (anchor_seq, at, hash)."""
    with db.translated("read the unstamped anchors"), engine.connect() as conn:
        return conn.execute(_UNSTAMPED, {"limit": limit}).all()


def backlog(engine: Engine) -> Backlog:
    """How many anchors wait for a token, and the oldest one's time."""
    with db.translated("count the unstamped anchors"), engine.connect() as conn:
        count, oldest = conn.execute(_BACKLOG).one()
    return Backlog(count, parse_timestamp(oldest))


def attach(engine: Engine, anchor_seq: int, anchor_hash: str, token: bytes) -> bool:
    """Store ``token`` on the anchor; False when it has one already (another stamper was first)."""
    with db.translated(f"store the token of anchor {anchor_seq}"), db.write_transaction(engine) as conn:
        result = conn.execute(_ATTACH, {"seq": anchor_seq, "anchor_hash": anchor_hash, "token": token})
    return result.rowcount == 1


@dataclass
class StampReport:
    """What :func:`check_tokens` found."""

    stamped: int = 0
    """Anchors whose token verified."""
    waiting: int = 0
    """Anchors without a token, younger than the grace period (the stamper has not come round yet)."""
    findings: list[str] = field(default_factory=list)
    """One line per anchor that does not hold: a bad token, or no token past the grace period."""
    more: int = 0
    """Findings beyond :data:`MAX_FINDINGS`, counted only."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        else:
            self.more += 1


def check_tokens(engine: Engine, tsa_cert: x509.Certificate, *, grace: float,
                 now: datetime | None = None) -> StampReport:
    """Verify every anchor's token (signed by ``tsa_cert``, stamping the anchor's hash, genTime plausible).

    An anchor without a token is a finding once it is older than ``grace`` seconds.
    """
    now, report, after = now or datetime.now(timezone.utc), StampReport(), 0
    with db.translated("read the anchors' tokens"), engine.connect() as conn:
        while rows := conn.execute(_ALL, {"after": after}).all():
            for row in rows:
                _check_one(row, tsa_cert, grace, now, report)
            after = rows[-1].anchor_seq
    return report


def _check_one(row, tsa_cert: x509.Certificate, grace: float, now: datetime, report: StampReport) -> None:
    taken = parse_timestamp(row.at)
    if row.timestamp_token is None:
        if (now - taken).total_seconds() > grace:
            report.add(f"anchor {row.anchor_seq} (taken {row.at}) has no timestamp token after the "
                       f"{grace:.0f} s grace period")
        else:
            report.waiting += 1
        return
    try:
        info = verify_token(bytes(row.timestamp_token), row.hash, tsa_cert)
    except TimestampError as exc:
        report.add(f"anchor {row.anchor_seq}: its timestamp token does not hold: {exc.reason}")
        return
    if info.gen_time < taken - CLOCK_SKEW or info.gen_time > now + CLOCK_SKEW:
        report.add(f"anchor {row.anchor_seq}: its token's time {info.gen_time.isoformat()} is implausible "
                   f"for an anchor taken {row.at}")
        return
    report.stamped += 1
