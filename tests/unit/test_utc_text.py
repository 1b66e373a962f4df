"""UTC times written without ``isoformat`` (:mod:`hub.utc_text`) read exactly as ``isoformat`` writes them.

The envelope's times and the message log's stored times are hashed and
signed: a character of difference would change every envelope and chain
record. Each form is compared with the ``isoformat`` text it replaces, for
times over the whole calendar, at every kind of fraction, from UTC and from
other offsets.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from hub import utc_text
from hub.envelope import _format_time, new_header, utc_now
from hub.messagelog.schema import timestamp

OFFSETS = [timezone.utc, timezone(timedelta(hours=4)), timezone(timedelta(hours=-9, minutes=-30))]


def moments(count: int = 5000):
    chance = random.Random(19)
    yield from (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2026, 12, 31, 23, 59, 59, 999999, timezone.utc),
                datetime(1000, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, 0, timezone.utc))
    for _ in range(count):
        moment = datetime(1, 1, 2, tzinfo=timezone.utc) + timedelta(
            seconds=chance.randrange(0, 315_000_000_000), microseconds=chance.choice(
                [0, 1000 * chance.randrange(1000), chance.randrange(1_000_000)]))
        yield moment.astimezone(chance.choice(OFFSETS)) if moment.year > 1 else moment


def test_microseconds_and_milliseconds_are_isoformats():
    for moment in moments():
        utc = moment.astimezone(timezone.utc)
        assert utc_text.in_utc(moment) == utc and utc_text.in_utc(moment).tzinfo is timezone.utc
        assert utc_text.microseconds(utc) == utc.replace(tzinfo=None).isoformat(timespec="microseconds")
        assert utc_text.milliseconds(utc) == utc.replace(tzinfo=None).isoformat(timespec="milliseconds")


def test_the_logs_and_the_envelopes_times_read_as_before():
    for moment in moments():
        utc = moment.astimezone(timezone.utc)
        assert _format_time(moment) == utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if utc.year >= 1000:
            assert timestamp(moment) == utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        else:
            assert timestamp(moment) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_naive_times_are_still_refused():
    with pytest.raises(ValueError):
        timestamp(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        _format_time(datetime(2026, 1, 1))


def test_now_is_utc_cut_to_the_millisecond():
    before = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    now = utc_now()
    assert now.tzinfo is timezone.utc and now.microsecond % 1000 == 0
    assert before <= now <= datetime.now(timezone.utc)
    header = new_header(message_type="WorkerArrival", source_agency="police", source_system="border",
                        destination="licensing", raw_payload=b"raw")
    assert header.created_at.microsecond % 1000 == 0 and header.created_at.tzinfo is timezone.utc


def test_a_minute_kept_is_not_mistaken_for_another():
    for minute in range(3 * utc_text._minute_text.cache_info().maxsize):  # past the number kept: forgotten, made again alike
        moment = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minute, seconds=7)
        assert utc_text.microseconds(moment) == moment.replace(tzinfo=None).isoformat(timespec="microseconds")
