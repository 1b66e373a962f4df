"""Mutated police requests against the real gateway app: a Fault naming the problem, or a faithful receipt.

Each example signs a fresh request for one of the police's one-way operations
(border events, visa issued), mutates it, and posts it to
``hub.bootstrap.gateway_app`` over a real hub (SQLite log and broker). The
checks are in :class:`fuzz_support.PoliceGateway`: a ``Client`` fault that is
recorded and counted and publishes nothing, or — when the mutation left the
signed content intact — a receipt for a message equal to the original's.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_mutations import (
    apply_byte_edits,
    apply_document_edit,
    apply_tree_edits,
    byte_edits,
    document_edits,
    tree_edits,
)
from fuzz_support import ONE_WAY, PoliceGateway

operations = st.sampled_from(ONE_WAY)


@pytest.fixture(scope="module")
def gateway(hub, pki_dir) -> PoliceGateway:
    return PoliceGateway(hub, pki_dir)


def test_the_unmutated_requests_are_accepted(gateway):
    """The baseline: without a mutation every operation gets its receipt (else the fuzz proves nothing)."""
    for operation in ONE_WAY:
        data, payload = gateway.signed_request(operation)
        assert gateway.post(data, gateway.expected_body(operation, payload)) == "accepted"


@given(operation=operations, edits=byte_edits())
def test_byte_mutations(gateway, operation, edits):
    data, payload = gateway.signed_request(operation)
    gateway.post(apply_byte_edits(data, edits), gateway.expected_body(operation, payload))


@given(operation=operations, edits=tree_edits())
def test_xml_mutations_of_signed_requests(gateway, operation, edits):
    data, payload = gateway.signed_request(operation)
    gateway.post(apply_tree_edits(data, edits), gateway.expected_body(operation, payload))


@given(operation=operations, edit=document_edits(), edits=st.lists(tree_edits(1), max_size=1))
def test_encodings_and_prologs(gateway, operation, edit, edits):
    data, payload = gateway.signed_request(operation)
    mutated = apply_tree_edits(data, edits[0]) if edits else data
    gateway.post(apply_document_edit(mutated, edit), gateway.expected_body(operation, payload))


def test_the_log_still_chains_after_the_fuzz(hub):
    report = hub.log.verify_chain(raise_on_error=False)
    assert report.ok, report.reason
    assert report.records > 4 * 150 * 0.5  # every example added a refusal or a message to the chain
