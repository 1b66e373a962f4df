"""Mutated court labour-case batches through the real drop watcher, pipeline and log.

Valid batches come from the courts simulator (``simulators/courts/batches.py``);
each example edits the XML (values, elements, attributes, nesting, the
encoding, what comes before the root) or the raw bytes, drops the batch into
a fresh drop folder and scans it. The checks are in
:class:`fuzz_support.DropProbe`: a receipt for messages the log holds, or a
rejection report naming the problem, recorded and counted, with nothing
published.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from adapters.courts import ADAPTER
from fuzz_mutations import (
    ENCODINGS,
    PROLOGS,
    apply_byte_edits,
    apply_document_edit,
    apply_tree_edits,
    byte_edits,
    document_edits,
    tree_edits,
)
from fuzz_support import DropProbe
from simulators import names as N
from simulators.courts.batches import batch_file_name, case_events_on, render_batch
from simulators.population import Population, PopulationSpec

POPULATION = Population(PopulationSpec.scaled(100_000))
DAY = date(2024, 3, 12)


@cache
def batches() -> tuple[tuple[str, bytes], ...]:
    """The day's updates, at most three a batch, per court: (file name, bytes)."""
    by_court: dict[str, list] = {}
    for case, event in case_events_on(POPULATION, DAY):
        by_court.setdefault(case.court[0], []).append((case, event))
    courts = {court[0]: court for court in N.COURTS}
    return tuple((batch_file_name(code, DAY, 1), render_batch(updates[:3], courts[code], DAY, 1))
                 for code, updates in sorted(by_court.items()))


batch_numbers = st.integers(0, 100)


def batch(number: int) -> tuple[str, bytes]:
    return batches()[number % len(batches())]


@pytest.fixture(scope="module")
def drops(hub, tmp_path_factory) -> DropProbe:
    return DropProbe(hub, ADAPTER, tmp_path_factory.mktemp("court-drops"))


def test_the_unmutated_batches_are_accepted(drops):
    assert len(batches()) >= 3
    for name, data in batches():
        assert drops.drop(name, data) == "done"


@given(number=batch_numbers, edits=tree_edits())
@example(number=0, edits=[("deep", 3, 20)])  # deeper than the batch limit of 16 levels
@example(number=0, edits=[("duplicate", 3, 0)])  # RecordCount no longer matches
@example(number=1, edits=[("text", 8, b"&#x202E;")])
@example(number=1, edits=[("attribute", 0, b'RecordCount="99999999999999999999"')])
def test_xml_mutations(drops, number, edits):
    name, data = batch(number)
    drops.drop(name, apply_tree_edits(data, edits))


@given(number=batch_numbers, edit=document_edits())
@example(number=0, edit=("encoding", ENCODINGS[3]))  # UTF-16 with its BOM, as Windows tools save it
@example(number=0, edit=("prolog", PROLOGS[1]))  # entity expansion
def test_encodings_and_prologs(drops, number, edit):
    name, data = batch(number)
    drops.drop(name, apply_document_edit(data, edit))


@given(number=batch_numbers, edits=byte_edits())
def test_byte_mutations(drops, number, edits):
    name, data = batch(number)
    drops.drop(name, apply_byte_edits(data, edits))


def test_the_log_still_chains_after_the_fuzz(hub):
    report = hub.log.verify_chain(raise_on_error=False)
    assert report.ok, report.reason
    assert report.records > 3 * 150 * 0.5
