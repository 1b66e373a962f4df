"""Frozen dataclasses with an ``__init__`` of their own (every field set at once, see
:class:`hub.messagelog.chain.ChainEntry`) build exactly what the dataclass's generated one builds.

A field added to the class must be added to its ``__init__`` too: the signatures are compared here.
"""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from hub.messagelog.chain import ChainEntry
from hub.pipeline_types import Inbound

OWN_INITS = (ChainEntry, Inbound)


def generated(cls):
    """``cls`` as the dataclass decorator would have made it, with the generated ``__init__``."""
    namespace = {"__annotations__": dict(cls.__annotations__)}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            namespace[field.name] = field.default
    return dataclasses.dataclass(frozen=True)(type(cls.__name__, (), namespace))


@pytest.mark.parametrize("cls", OWN_INITS)
def test_the_signature_is_the_generated_ones(cls):
    own = inspect.signature(cls.__init__).parameters
    made = inspect.signature(generated(cls).__init__).parameters
    assert [(p.name, p.kind, p.default) for p in own.values()] == [(p.name, p.kind, p.default) for p in made.values()]


def examples():
    at = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    yield ChainEntry, ("event", "published", "2026-12-07T23:00:00.000Z"), {}
    yield ChainEntry, ("accepted", "received", "t", "m-1", '{"a": 1}'), {"actor": "x", "raw_sha256": "a" * 64,
                                                                          "envelope_sha256": "b" * 64}
    yield ChainEntry, ("refused", "refused", "t", None, "", None, None, "c" * 64), {}
    yield Inbound, ("police", "border", "WorkerArrival", "licensing", b"<raw/>"), {}
    yield Inbound, ("police", "border", "WorkerArrival", "licensing", b"<raw/>", "ROP-1", "c-1", at, True, "1.2.3.4",
                    "police", "f" * 64), {}
    yield Inbound, (), dict(agency="police", system="s", message_type="m", destination="d", raw=b"x",
                            require_signature=True, received_at=at, verified_signer="police")


@pytest.mark.parametrize("cls, args, kwargs", list(examples()))
def test_an_instance_is_the_generated_constructors(cls, args, kwargs):
    own, made = cls(*args, **kwargs), generated(cls)(*args, **kwargs)
    assert vars(own) == vars(made) and list(vars(own)) == list(vars(made))
    assert repr(own) == repr(made).replace(made.__class__.__qualname__, cls.__qualname__, 1)
    assert own == cls(*args, **kwargs) and hash(own) == hash(cls(*args, **kwargs))
    assert dataclasses.astuple(own) == dataclasses.astuple(made)
    assert dataclasses.replace(own) == own
    with pytest.raises(dataclasses.FrozenInstanceError):
        own.agency = "other"  # any field, or none: frozen either way


@pytest.mark.parametrize("cls", OWN_INITS)
def test_a_missing_or_unknown_argument_is_refused_as_before(cls):
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls(*range(20))
    with pytest.raises(TypeError):
        cls(unknown=1)
