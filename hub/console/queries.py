"""Read-only queries the console needs beyond :class:`~hub.messagelog.MessageLog`'s own.

Both stay cheap at millions of rows because they start from a range of the
audit chain's primary key (the newest ``window`` records) and join messages
and refusals by their primary keys; nothing scans or sorts a whole table.

* :func:`activity` — per (kind, status, destination, agency): how many chain
  records, how many since a moment, and the newest one's time. The overview
  derives publish/deliver rates and adapter health from it.
* :func:`by_status` — the messages the newest records name, counted by their
  status now (counting every message of a years-long log would read it all on
  every refresh of every open overview).
* :func:`in_flight` — the newest messages published to a destination and not
  yet settled, found through the records of their publishing (a queue's peek).
* :func:`search` — a message id or correlation id by index; a worker's name
  (Arabic or English, normalized) or civil or passport number through the
  search-terms index filled when a message is stored; and, for messages
  stored before that index existed or an agency's own message id, an
  identifier as the whole text of an element, ``>term<``, by a substring test
  (``instr`` on SQLite, bytea ``LIKE`` on PostgreSQL) over the stored
  envelopes and raw payloads of the newest ``window`` messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.errors import InputError
from hub.messagelog import db
from hub.messagelog import search as search_terms
from hub.messagelog.chain import HEAD
from hub.messagelog.schema import audit_chain, messages, parse_timestamp, payloads, refused, timestamp

_c, _m, _r = audit_chain, messages, refused
#: identifiers searched inside payloads: letters, digits, '-', '.', '/' (no LIKE wildcards)
_PAYLOAD_TERM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{2,99}$")
_MAX_TERM = 200


@dataclass(frozen=True)
class ActivityRow:
    """Chain records of one kind and status for one destination and agency."""

    kind: str
    status: str
    destination: str | None
    agency: str | None
    total: int
    """Records among the newest ``window``."""

    recent: int
    """Of those, records at or after ``since``."""

    last_at: datetime | None

    messages: int = 0
    """Distinct messages among ``total`` (a message failing three attempts is three records, one message)."""


def ping(engine: Engine) -> str | None:
    """None when the database answers ``SELECT 1``, else why not."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    return None


def _floor(conn, window: int) -> int:
    head = conn.execute(HEAD).first()
    return max(0, (head.seq if head else 0) - max(1, int(window)))


def activity(engine: Engine, since: datetime, window: int = 20_000) -> list[ActivityRow]:
    """Group the newest ``window`` chain records (see the module docstring)."""
    agency = sa.func.coalesce(_m.c.source_agency, _r.c.agency)
    recent = sa.func.sum(sa.case((_c.c.at >= sa.bindparam("since"), 1), else_=0))
    query = (
        sa.select(_c.c.kind, _c.c.status, _m.c.destination, agency, sa.func.count(), recent, sa.func.max(_c.c.at),
                  sa.func.count(sa.distinct(_c.c.message_id)))
        .select_from(_c.outerjoin(_m, _m.c.message_id == _c.c.message_id)
                     .outerjoin(_r, sa.and_(_c.c.kind == "refused", _r.c.refusal_id == _c.c.message_id)))
        .where(_c.c.seq > sa.bindparam("floor"))
        .group_by(_c.c.kind, _c.c.status, _m.c.destination, agency)
    )
    with db.translated("read recent activity"), engine.connect() as conn:
        rows = conn.execute(query, {"floor": _floor(conn, window), "since": timestamp(since)}).all()
    return [ActivityRow(k, s, d, a, int(n), int(r or 0), parse_timestamp(t), int(m or 0))
            for k, s, d, a, n, r, t, m in rows]


def by_status(engine: Engine, window: int = 20_000) -> dict[str, int]:
    """Status now → how many of the messages named by the newest ``window`` chain records have it."""
    named = sa.select(_c.c.message_id).where(_c.c.seq > sa.bindparam("floor"), _c.c.kind.in_(("accepted", "event")))
    query = sa.select(_m.c.status, sa.func.count()).where(_m.c.message_id.in_(named)).group_by(_m.c.status)
    with db.translated("count recent messages by status"), engine.connect() as conn:
        return dict(conn.execute(query, {"floor": _floor(conn, window)}).all())


def in_flight(engine: Engine, destination: str, statuses: tuple[str, ...], limit: int,
              window: int = 50_000) -> list[sa.Row]:
    """The newest ``limit`` messages to ``destination`` whose status now is one of ``statuses`` (published,
    not yet settled), newest first (published together: the later accepted first), among those whose
    publishing is within the newest ``window`` records."""
    sent = (sa.select(_c.c.message_id)
            .where(_c.c.seq > sa.bindparam("floor"), _c.c.kind == "event", _c.c.status.in_(statuses)))
    query = (sa.select(_m.c.message_id, _m.c.correlation_id, _m.c.message_type, _m.c.source_agency, _m.c.status,
                       _m.c.published_at)
             .where(_m.c.message_id.in_(sent), _m.c.destination == destination, _m.c.status.in_(statuses))
             .order_by(_m.c.published_at.desc(), _m.c.chain_seq.desc()).limit(limit))
    with db.translated("peek a queue"), engine.connect() as conn:
        return conn.execute(query, {"floor": _floor(conn, window)}).all()


def search(engine: Engine, term: str, *, limit: int = 50, window: int = 50_000) -> list[str]:
    """Message ids matching ``term`` (newest first); InputError for an unusable term.

    In turn: a message or correlation id; the indexed search terms (every
    word of ``term`` begins a name word or a number of the message, see
    :mod:`hub.messagelog.search`); then an identifier inside the newest
    ``window`` payloads (messages stored before the index existed).
    """
    term = (term or "").strip()
    if not term or len(term) > _MAX_TERM:
        raise InputError(f"search term must be 1 to {_MAX_TERM} characters")
    exact = sa.select(_m.c.message_id).where(sa.or_(_m.c.message_id == term, _m.c.correlation_id == term))
    with db.translated("search messages"), engine.connect() as conn:
        found = conn.execute(exact.order_by(_m.c.received_at.desc()).limit(limit)).scalars().all()
        indexed = search_terms.matching(term)
        if indexed is not None and len(found) < limit:
            found += conn.execute(_newest(indexed, limit)).scalars().all()
        if _PAYLOAD_TERM.match(term) and len(found) < limit:
            found += conn.execute(_in_payloads(term, limit, engine.dialect.name), {"floor": _floor(conn, window)}).scalars().all()
    return list(dict.fromkeys(found))[:limit]


def _newest(ids: sa.Subquery, limit: int) -> sa.Select:
    return (sa.select(_m.c.message_id).join(ids, ids.c.message_id == _m.c.message_id)
            .order_by(_m.c.chain_seq.desc()).limit(limit))


def _contains(column: sa.Column, needle: bytes, dialect: str):
    # SQLite's LIKE does not look inside BLOBs, but instr() does; PostgreSQL has bytea LIKE.
    if dialect == "sqlite":
        return sa.func.instr(column, needle) > 0
    return column.op("LIKE", return_type=sa.Boolean)(b"%" + needle + b"%")


def _in_payloads(term: str, limit: int, dialect: str) -> sa.Select:
    needle = f">{term}<".encode()
    matches = sa.or_(_m.c.source_message_id == term, _contains(payloads.c.envelope, needle, dialect),
                     _contains(payloads.c.raw, needle, dialect))
    return (sa.select(_m.c.message_id)
            .select_from(_c.join(_m, _m.c.message_id == _c.c.message_id)
                         .join(payloads, payloads.c.message_id == _m.c.message_id))
            .where(_c.c.seq > sa.bindparam("floor"), _c.c.kind == "accepted", matches)
            .order_by(_c.c.seq.desc()).limit(limit))
