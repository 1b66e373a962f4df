"""Operator input read into the hub's terms: dead-letter filters, chained actions as rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from hub.deadletters import LetterFilter
from hub.errors import InputError
from hub.messagelog import MessageLog

_FIELDS = {"queue": "queue", "agency": "agency", "type": "message_type"}


def letter_filter(given: Mapping) -> LetterFilter:
    """A :class:`LetterFilter` from query arguments or a JSON body (queue, agency, type, since, until).

    Times are ISO-8601 (``2026-03-01T08:00:00Z``; without a zone, UTC).
    """
    values = {}
    for key, field in _FIELDS.items():
        value = given.get(key)
        if value not in (None, ""):
            if not isinstance(value, str) or len(value) > 200:
                raise InputError(f"{key!r} must be text of at most 200 characters")
            values[field] = value
    for key in ("since", "until"):
        if given.get(key) not in (None, ""):
            values[key] = _unix(key, given[key])
    return LetterFilter(**values)


def _unix(key: str, text) -> float:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{key!r} must be an ISO-8601 time like 2026-03-01T08:00:00Z, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def chained_actions(log: MessageLog, limit: int) -> list[dict]:
    """Operator actions as the message log's hash chain holds them (record number, who, what, on what)."""
    return [{"seq": a.seq, "at": a.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "actor": a.actor,
             "action": a.status, "message_id": a.message_id, "detail": a.detail} for a in log.actions(limit)]
