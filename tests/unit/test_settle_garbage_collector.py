"""A long-running process leaves what it built at start-up out of every later collection."""

from __future__ import annotations

import gc
import weakref

import pytest

from hub.roles import settle_garbage_collector


class Part:
    """Stands for what start-up builds: tracked by the collector, referenced for the process's life."""

    def __init__(self) -> None:
        self.cycle = self


@pytest.fixture
def frozen_after():
    yield
    gc.unfreeze()


def test_what_was_built_before_is_no_longer_walked_by_collections(frozen_after):
    built = Part()
    settle_garbage_collector()
    made_later = Part()

    walked = {id(o) for o in gc.get_objects()}
    assert id(built) not in walked
    assert id(made_later) in walked
    assert gc.get_freeze_count() > 0


def test_a_frozen_object_is_still_freed_when_its_last_reference_goes(frozen_after):
    class Compiled:
        """Built at start-up, referenced by no cycle."""

    compiled = Compiled()
    freed = []
    weakref.finalize(compiled, freed.append, "compiled")
    settle_garbage_collector()
    assert id(compiled) not in {id(o) for o in gc.get_objects()}

    del compiled
    assert freed == ["compiled"]


def test_garbage_made_after_the_settle_is_collected(frozen_after):
    settle_garbage_collector()
    freed = []
    part = Part()
    weakref.finalize(part, freed.append, "part")
    del part
    gc.collect()
    assert freed == ["part"]
