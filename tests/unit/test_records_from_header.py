"""Headers and accepted records built field by field (:func:`hub.envelope.new_header`,
:meth:`Accepted.from_header`) are the ones their dataclass constructors build.

Both fill a frozen dataclass's fields at once rather than through its
``__init__``; a field added to the class must be set there too, and every
value must be the constructor's, or records would compare, hash and print
differently.
"""

from __future__ import annotations

import dataclasses

import pytest

from hub.envelope import Header, new_header, utc_now
from hub.messagelog.records import Accepted


def a_header(**changes) -> Header:
    fields = dict(message_type="WorkerArrival", source_agency="police", source_system="border",
                  destination="licensing", raw_payload=b"<raw/>", source_message_id="ROP-1", received_at=utc_now())
    fields.update(changes)
    return new_header(**fields)


def test_a_new_header_is_the_constructors():
    for header in (a_header(), a_header(source_message_id=None, received_at=None, correlation_id="c-1"),
                   a_header(raw_sha256="f" * 64)):
        built = Header(**{f.name: getattr(header, f.name) for f in dataclasses.fields(Header)})
        assert header == built and hash(header) == hash(built) and repr(header) == repr(built)
        assert set(vars(header)) == {f.name for f in dataclasses.fields(Header)}
        assert vars(header) == vars(built)


def test_an_accepted_record_from_a_header_is_the_constructors():
    header = a_header()
    record = Accepted.from_header(header, b"<raw/>", b"<env/>", raw_sha256=header.payload_digest,
                                  projection="p", legal_basis="law", search_terms=("a", "b"))
    built = Accepted(
        message_id=header.message_id, message_type="WorkerArrival", source_agency="police", destination="licensing",
        routing_key="licensing.WorkerArrival.police", raw=b"<raw/>", envelope=b"<env/>",
        correlation_id=header.correlation_id, source_system="border", source_message_id="ROP-1",
        created_at=header.created_at, received_at=header.received_at, raw_sha256=header.payload_digest,
        projection="p", legal_basis="law", search_terms=("a", "b"))
    assert record == built and hash(record) == hash(built) and repr(record) == repr(built)
    assert set(vars(record)) == {f.name for f in dataclasses.fields(Accepted)}
    assert dataclasses.replace(record, legal_basis=None) == dataclasses.replace(built, legal_basis=None)


def test_they_stay_frozen():
    header = a_header()
    record = Accepted.from_header(header, b"r", b"e")
    for thing in (header, record):
        with pytest.raises(dataclasses.FrozenInstanceError):
            thing.message_id = "other"
        assert thing.message_id == header.message_id
