"""Numbers the console derives from the message log: counts per interval,
latency percentiles against their targets, refusals by reason.

Every query starts from a bounded range of the audit chain or a time range
of an indexed column, so none of them scans a whole table of millions of rows.

* :func:`chain_counts` — chain records per (kind, status, destination,
  agency) between two moments; the history sampler's counts per interval.
* :func:`latencies` — p50 and p99 per agency and operation (message type)
  over the last hour: for a message the hub received, from its receipt to the
  broker's confirm (``published_at``); for a question the hub asked an
  agency, from the question to the agency's answer (the answer's correlation
  id is the question's message id). Each row is held against :data:`SLO_TARGETS`.
* :func:`refusals_by_reason` — refusals per agency and error code (a refusal's
  reason is stored as ``"<code>: <text>"`` by the pipeline).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from hub.messagelog import db
from hub.messagelog.chain import HEAD
from hub.messagelog.schema import audit_chain, messages, outbox, parse_timestamp, refused, timestamp

_c, _m, _r = audit_chain, messages, refused


@dataclass(frozen=True)
class Target:
    """A latency objective: ``p99`` seconds for an agency's operation (``*`` matches any)."""

    agency: str
    operation: str
    p99: float
    why: str


#: latency objectives, most specific first; the first row that matches an (agency, operation) applies
SLO_TARGETS: tuple[Target, ...] = (
    Target("police", "VisaCheck", 2.0, "a visa officer waits at the counter for the answer"),
    Target("police", "*", 5.0, "border pushes must reach licensing while the worker is at the airport"),
    Target("*", "*", 30.0, "anything else: within half a minute of receipt"),
)
#: chain records looked at for latencies and refusals (newest first): enough for an hour of traffic
LATENCY_SAMPLE = 20_000


def target_for(agency: str, operation: str) -> Target:
    """The first objective of :data:`SLO_TARGETS` that matches."""
    return next(t for t in SLO_TARGETS if t.agency in ("*", agency) and t.operation in ("*", operation))


@dataclass(frozen=True)
class CountRow:
    """Chain records of one kind and status for one destination and agency within an interval."""

    kind: str
    status: str
    destination: str | None
    agency: str | None
    count: int


def _floor(conn, window: int) -> int:
    head = conn.execute(HEAD).first()
    return max(0, (head.seq if head else 0) - window)


def chain_counts(engine: Engine, start: datetime, end: datetime, window: int = 50_000) -> list[CountRow]:
    """Chain records at or after ``start`` and before ``end``, among the newest ``window``, grouped."""
    agency = sa.func.coalesce(_m.c.source_agency, _r.c.agency)
    query = (
        sa.select(_c.c.kind, _c.c.status, _m.c.destination, agency, sa.func.count())
        .select_from(_c.outerjoin(_m, _m.c.message_id == _c.c.message_id)
                     .outerjoin(_r, sa.and_(_c.c.kind == "refused", _r.c.refusal_id == _c.c.message_id)))
        .where(_c.c.seq > sa.bindparam("floor"), _c.c.at >= timestamp(start), _c.c.at < timestamp(end))
        .group_by(_c.c.kind, _c.c.status, _m.c.destination, agency)
    )
    with db.translated("count recent activity"), engine.connect() as conn:
        rows = conn.execute(query, {"floor": _floor(conn, window)}).all()
    return [CountRow(k, s, d, a, int(n)) for k, s, d, a, n in rows]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (not empty)."""
    rank = max(1, -(-len(sorted_values) * fraction // 1))  # ceil without importing math
    return sorted_values[int(rank) - 1]


def latencies(engine: Engine, since: datetime, window: int = LATENCY_SAMPLE) -> list[dict]:
    """p50/p99 seconds per agency and operation since ``since``, each against its target.

    Messages are reached through the newest ``window`` accepted chain records
    (the chain's primary key), never by scanning ``messages``.
    """
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    question = aliased(_m)
    recent = sa.and_(_c.c.seq > sa.bindparam("floor"), _c.c.kind == "accepted", _m.c.received_at >= timestamp(since))
    published = (sa.select(_m.c.source_agency, _m.c.message_type, _m.c.received_at, _m.c.published_at)
                 .select_from(_c.join(_m, _m.c.message_id == _c.c.message_id))
                 .where(recent, _m.c.published_at.is_not(None)))
    answered = (sa.select(_m.c.source_agency, question.c.message_type, question.c.received_at, _m.c.received_at)
                .select_from(_c.join(_m, _m.c.message_id == _c.c.message_id)
                             .join(question, question.c.message_id == _m.c.correlation_id))
                .where(recent, question.c.message_id != _m.c.message_id))  # a message may correlate to itself
    with db.translated("measure latencies"), engine.connect() as conn:
        floor = _floor(conn, window)
        for query in (published, answered):
            for agency, operation, began, ended in conn.execute(query, {"floor": floor}):
                seconds = (parse_timestamp(ended) - parse_timestamp(began)).total_seconds()
                samples[(agency, operation)].append(max(0.0, seconds))
    return [_latency_row(agency, operation, sorted(values)) for (agency, operation), values in sorted(samples.items())]


def _latency_row(agency: str, operation: str, values: list[float]) -> dict:
    target = target_for(agency, operation)
    p99 = percentile(values, 0.99)
    return {"agency": agency, "operation": operation, "count": len(values),
            "p50": round(percentile(values, 0.5), 4), "p99": round(p99, 4),
            "target_p99": target.p99, "met": p99 <= target.p99, "target_why": target.why}


def refusals_by_reason(engine: Engine, since: datetime, window: int = LATENCY_SAMPLE) -> list[dict]:
    """``[{agency, code, count}]`` of refusals since ``since`` (newest ``window`` chain records), most first."""
    query = (sa.select(_r.c.agency, sa.func.substr(_r.c.reason, 1, 80))
             .select_from(_c.join(_r, _r.c.refusal_id == _c.c.message_id))
             .where(_c.c.seq > sa.bindparam("floor"), _c.c.kind == "refused", _c.c.at >= timestamp(since)))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    with db.translated("count refusals"), engine.connect() as conn:
        for agency, reason in conn.execute(query, {"floor": _floor(conn, window)}):
            counts[(agency, reason.partition(":")[0].strip() or "unknown")] += 1
    rows = [{"agency": a, "code": c, "count": n} for (a, c), n in counts.items()]
    return sorted(rows, key=lambda row: (-row["count"], row["agency"], row["code"]))


def oldest_unpublished(engine: Engine) -> datetime | None:
    """When the oldest message still waiting in the outbox was stored (None: the outbox is empty)."""
    with db.translated("read the outbox"), engine.connect() as conn:
        return parse_timestamp(conn.execute(sa.select(sa.func.min(outbox.c.enqueued_at))).scalar())
