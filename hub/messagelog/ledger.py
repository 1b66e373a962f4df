"""The disclosure ledger: every message the log holds about one person, from the search index.

A worker may ask who received data about them. The log already indexes the
civil number of every stored canonical message (:mod:`hub.messagelog.search`),
so the ledger is an index lookup joined to the messages and to each message's
acceptance record — never a scan of payloads. Each entry says who sent what,
to whom, when, on which legal basis (as fixed in the acceptance record when the
message was accepted, see :mod:`hub.access`), how it went, and the chain record
it traces to. Questions (``…Query``) list their answers: the destination's, and
the hub's signed answer to the asker — what the asker actually received. Where
the receiver may have only some fields (``fields.<Type>`` in access.toml), an
entry's ``projections`` name the fields it was sent and those withheld. Pages
follow the chain record numbers (keyset paging), so a person with thousands of
entries is read a page at a time.

Every look-up is itself chained (:func:`consultation_entry`): who asked, for
which civil number, and the digest of the report they were given. The number is
kept in clear there: it is 8 or 9 digits, so a plain hash of it is reversed by
trying every number in seconds and would only pretend to hide it; the same log
already holds it in clear in the payloads and the search index; and in clear it
lets the ledger show a person who consulted their ledger (:func:`consultations`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from hub.errors import InputError
from hub.messagelog import db
from hub.messagelog.chain import LEGAL_BASIS, ChainEntry, fields_detail
from hub.messagelog.schema import audit_chain, messages, timestamp
from hub.messagelog.search import search_terms
from hub.projection import read_description

#: a civil number as the canonical schemas define it (rabt:CivilNumber)
CIVIL_NUMBER = re.compile("[0-9]{8,9}")
#: entries per page, at most
MAX_PAGE = 1000
#: the canonical types that ask (their answers are listed with them) end so
QUESTION_SUFFIX = "Query"
#: the chain status of a ledger consultation, and the prefix of the id its record is filed under
CONSULTED = "ledger-query"
_SUBJECT = "ledger:"

_m, _c, _t = messages, audit_chain, search_terms
_ENTRIES = (
    sa.select(_m.c.message_id, _m.c.message_type, _m.c.source_agency, _m.c.source_system, _m.c.destination,
              _m.c.correlation_id, _m.c.status, _m.c.received_at, _m.c.published_at, _m.c.chain_seq,
              _c.c.lane, _c.c.lane_seq, _c.c.hash, _c.c.detail)
    .select_from(_t.join(_m, _m.c.message_id == _t.c.message_id).join(_c, _c.c.seq == _m.c.chain_seq))
    .where(_t.c.term == sa.bindparam("term"), _m.c.chain_seq > sa.bindparam("after"),
           _m.c.received_at >= sa.bindparam("since"), _m.c.received_at < sa.bindparam("until"))
    .order_by(_m.c.chain_seq)
    .limit(sa.bindparam("limit"))
)
_ANSWERS = (
    sa.select(_m.c.message_id, _m.c.correlation_id, _m.c.message_type, _m.c.source_agency, _m.c.destination,
              _m.c.status, _m.c.received_at, _c.c.detail)
    .select_from(_m.join(_c, _c.c.seq == _m.c.chain_seq))
    .where(_m.c.correlation_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_m.c.chain_seq)
)
_PROJECTIONS = (
    sa.select(_c.c.message_id, _c.c.detail)
    .where(_c.c.message_id.in_(sa.bindparam("ids", expanding=True)), _c.c.status == "projected")
    .order_by(_c.c.seq)
)
_CONSULTATIONS = (
    sa.select(_c.c.at, _c.c.actor, _c.c.lane, _c.c.lane_seq, _c.c.hash)
    .where(_c.c.message_id == sa.bindparam("subject"), _c.c.status == CONSULTED)
    .order_by(_c.c.seq.desc()).limit(sa.bindparam("limit"))
)
_EARLIEST, _LATEST = "0000-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"


def civil_number(text: str) -> str:
    """``text`` if it is a civil number (8 or 9 digits), else an InputError saying so."""
    if not isinstance(text, str) or not CIVIL_NUMBER.fullmatch(text):
        shown = text[:20] if isinstance(text, str) else type(text).__name__
        raise InputError(f"a civil number is 8 or 9 digits, got {shown!r}")
    return text


def moment(name: str, text: str) -> datetime:
    """``text`` (ISO-8601; UTC when it names no zone) as an aware datetime, else an InputError naming ``name``."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name} must be an ISO-8601 date or time like 2026-03-01 or 2026-03-01T08:00:00Z, "
                         f"got {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Window:
    """Which entries to read: received in [since, until), after chain record ``after``, at most ``limit``."""

    since: datetime | None = None
    until: datetime | None = None
    after: int = 0
    limit: int = 100

    def check(self) -> Window:
        """Self, or an InputError naming the bad bound."""
        if not 1 <= self.limit <= MAX_PAGE:
            raise InputError(f"limit must be from 1 to {MAX_PAGE}, got {self.limit}")
        if self.after < 0:
            raise InputError(f"after must be a chain record number (0 or more), got {self.after}")
        if self.since and self.until and self.since >= self.until:
            raise InputError("the period is empty: from must be before until")
        return self


@dataclass(frozen=True)
class LedgerPage:
    """One page of a person's ledger: its entries in acceptance order, and where the next page starts."""

    entries: list[dict]
    next_after: int | None
    """Pass as ``Window.after`` for the next page; None when this is the last."""


def entries(engine: sa.Engine, civil: str, window: Window) -> LedgerPage:
    """The ledger entries of civil number ``civil`` in ``window`` (see the module docstring)."""
    window = window.check()
    params = {"term": civil_number(civil), "after": window.after, "limit": window.limit + 1,
              "since": timestamp(window.since) if window.since else _EARLIEST,
              "until": timestamp(window.until) if window.until else _LATEST}
    with db.translated("read the disclosure ledger"), engine.connect() as conn:
        rows = conn.execute(_ENTRIES, params).all()
        more = len(rows) > window.limit
        rows = rows[:window.limit]
        answers = _answers(conn, rows)
        ids = [row.message_id for row in rows] + [a["message_id"] for found in answers.values() for a in found]
        projections = _projections(conn, ids)
    for found in answers.values():
        for answer in found:
            answer["projections"] = projections.get(answer["message_id"], [])
    page = [_entry(row, answers.get(row.message_id, []), projections.get(row.message_id, [])) for row in rows]
    return LedgerPage(page, rows[-1].chain_seq if more else None)


def _answers(conn: sa.Connection, rows: list[sa.Row]) -> dict[str, list[dict]]:
    """Question id → the messages answering it: the destination's answer shares the question's correlation
    id, and the hub's answer to the asker is correlated to the question's own id."""
    questions = [row for row in rows if row.message_type.endswith(QUESTION_SUFFIX)]
    keys = {key for row in questions for key in (row.message_id, row.correlation_id) if key}
    found = conn.execute(_ANSWERS, {"ids": sorted(keys)}).all() if keys else []
    return {row.message_id: [_answer(answer) for answer in found if answer.message_id != row.message_id
                             and answer.correlation_id in (row.message_id, row.correlation_id)]
            for row in questions}


def _projections(conn: sa.Connection, ids: list[str]) -> dict[str, list[dict]]:
    """Message id → the projections chained for it: which fields its receiver was sent, which withheld."""
    found: dict[str, list[dict]] = {}
    for row in conn.execute(_PROJECTIONS, {"ids": ids}).all() if ids else []:
        if (projection := read_description(row.detail)) is not None:
            found.setdefault(row.message_id, []).append(projection)
    return found


def _answer(row: sa.Row) -> dict:
    return {"message_id": row.message_id, "message_type": row.message_type, "sender": row.source_agency,
            "receiver": row.destination, "outcome": row.status, "at": row.received_at,
            "legal_basis": _basis(row.detail)}


def _entry(row: sa.Row, answers: list[dict], projections: list[dict]) -> dict:
    return {
        "message_id": row.message_id, "at": row.received_at, "message_type": row.message_type,
        "sender": {"agency": row.source_agency, "system": row.source_system},
        "receiver": row.destination, "correlation_id": row.correlation_id,
        "legal_basis": _basis(row.detail), "outcome": row.status, "published_at": row.published_at,
        "answers": answers, "projections": projections,
        "record": {"seq": row.chain_seq, "lane": row.lane, "lane_seq": row.lane_seq, "hash": row.hash},
    }


def _basis(detail: str) -> str | None:
    """The legal basis the acceptance record fixed (None for messages accepted without one)."""
    try:
        return json.loads(detail).get(LEGAL_BASIS)
    except (ValueError, AttributeError):
        return None


def consultation_entry(civil: str, asked_by: str, detail: dict) -> ChainEntry:
    """The chain record of one ledger consultation: who asked, for whom, and what they were given."""
    text = fields_detail({"civil_number": civil_number(civil), **detail}, ("civil_number", *sorted(detail)))
    return ChainEntry("action", CONSULTED, timestamp(), _SUBJECT + civil, text, asked_by)


def consultations(engine: sa.Engine, civil: str, limit: int = 100) -> list[dict]:
    """The newest ``limit`` consultations of ``civil``'s ledger: when, by whom, and their chain record."""
    with db.translated("read the ledger's consultations"), engine.connect() as conn:
        rows = conn.execute(_CONSULTATIONS, {"subject": _SUBJECT + civil_number(civil), "limit": limit}).all()
    return [{"at": row.at, "asked_by": row.actor, "record": {"lane": row.lane, "lane_seq": row.lane_seq,
                                                              "hash": row.hash}} for row in rows]
