"""UTC times written as text, and now to the millisecond, without ``datetime.isoformat`` and ``replace``.

A push writes seven times (its envelope's two, the log's five) and takes now
three times. ``isoformat`` formats through a printf per field and ``replace``
and ``astimezone`` parse keyword arguments: together about 3% of a push's
instructions, for text that changes only in its seconds from one message to
the next. Here a minute's ``YYYY-MM-DDTHH:MM:`` is made once and kept; the
seconds and the fraction are appended. The text is exactly what
``isoformat`` gives (tests/unit/test_utc_text.py compares them).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: "00" … "59" (and up to 99): a field of two digits without formatting an integer
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(100))


def in_utc(moment: datetime) -> datetime:
    """``moment`` (time-zone aware) in UTC: itself when it already is (``astimezone`` parses its arguments)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def microseconds(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` of a UTC ``moment``: ``isoformat(timespec="microseconds")`` without its offset."""
    return f"{_minute(moment)}{_TWO_DIGITS[moment.second]}.{str(1_000_000 + moment.microsecond)[1:]}"


def milliseconds(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` of a UTC ``moment``: ``isoformat(timespec="milliseconds")`` without its offset."""
    return f"{_minute(moment)}{_TWO_DIGITS[moment.second]}.{str(1000 + moment.microsecond // 1000)[1:]}"


def now_to_the_millisecond() -> datetime:
    """Now in UTC, cut to the millisecond: ``datetime.now(UTC)`` with its microseconds cut, in integers."""
    millis = time.time_ns() // 1_000_000
    return _EPOCH + timedelta(0, millis // 1000, millis % 1000 * 1000)


def _minute(moment: datetime) -> str:
    return _minute_text(moment.year, moment.month, moment.day, moment.hour, moment.minute)


@lru_cache(maxsize=4096)
def _minute_text(year: int, month: int, day: int, hour: int, minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:``, kept for the minutes met lately."""
    return "%04d-%02d-%02dT%02d:%02d:" % (year, month, day, hour, minute)
