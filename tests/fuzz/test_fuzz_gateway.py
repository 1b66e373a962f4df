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
    ENCODINGS,
    PROLOGS,
    apply_byte_edits,
    apply_document_edit,
    apply_tree_edits,
    byte_edits,
    document_edits,
    tree_edits,
)
from fuzz_support import ONE_WAY, PoliceGateway

operations = st.sampled_from(ONE_WAY)
#: element indexes in a signed request: 0 the Envelope, 1 the Body, 2 the payload, 3 its MsgId
ENVELOPE, BODY, PAYLOAD, MSG_ID = range(4)


@pytest.fixture(scope="module")
def gateway(hub, pki_dir) -> PoliceGateway:
    return PoliceGateway(hub, pki_dir)


def test_the_unmutated_requests_are_accepted(gateway):
    """The baseline: without a mutation every operation gets its receipt (else the fuzz proves nothing)."""
    for operation in ONE_WAY:
        data, payload = gateway.signed_request(operation)
        assert gateway.post(data, gateway.expected_body(operation, payload)) == "accepted"


@given(operation=operations, edits=byte_edits())
@example(operation="NotifyArrival", edits=[("truncate", 0, 0)])  # an empty body
@example(operation="NotifyArrival", edits=[("insert", 60, b"\x00")])
@example(operation="NotifyDeparture", edits=[("truncate", 600, 0)])
def test_byte_mutations(gateway, operation, edits):
    data, payload = gateway.signed_request(operation)
    gateway.post(apply_byte_edits(data, edits), gateway.expected_body(operation, payload))


@given(operation=operations, edits=tree_edits())
@example(operation="NotifyArrival", edits=[("move_signature", ENVELOPE, 0)])
@example(operation="NotifyArrival", edits=[("move_signature", BODY, 0)])
@example(operation="NotifyArrival", edits=[("wrap", PAYLOAD, "{urn:x}Wrapper")])
@example(operation="NotifyArrival", edits=[("duplicate", PAYLOAD, 0)])  # the signed copy and another
@example(operation="NotifyArrival", edits=[("deep", MSG_ID, 300)])
@example(operation="NotifyArrival", edits=[("text", MSG_ID, b"&xxe;")])
@example(operation="NotifyArrival", edits=[("text", MSG_ID, b"<![CDATA[ROP-1]]>")])
@example(operation="ReportVisaIssued", edits=[("attribute", PAYLOAD, b'xmlns:ds="urn:evil"')])
@example(operation="ReportVisaIssued", edits=[("attribute", ENVELOPE, b'soap:mustUnderstand="1"')])
@example(operation="NotifyDeparture", edits=[("tail", PAYLOAD, b"9" * 300_000)])  # over the size limit
def test_xml_mutations_of_signed_requests(gateway, operation, edits):
    data, payload = gateway.signed_request(operation)
    gateway.post(apply_tree_edits(data, edits), gateway.expected_body(operation, payload))


@given(operation=operations, edit=document_edits(), edits=st.lists(tree_edits(1), max_size=1))
@example(operation="NotifyArrival", edit=("encoding", ENCODINGS[3]), edits=[])  # UTF-16 with its BOM: accepted
@example(operation="NotifyArrival", edit=("prolog", PROLOGS[0]), edits=[])  # an external entity
@example(operation="NotifyArrival", edit=("prolog", PROLOGS[1]), edits=[])  # entity expansion
@example(operation="NotifyArrival", edit=("encoding", ENCODINGS[-1]), edits=[])  # UTF-7 declared
def test_encodings_and_prologs(gateway, operation, edit, edits):
    data, payload = gateway.signed_request(operation)
    mutated = apply_tree_edits(data, edits[0]) if edits else data
    gateway.post(apply_document_edit(mutated, edit), gateway.expected_body(operation, payload))


CONTENT_TYPES = ["text/xml", "text/xml; charset=utf-16", "text/xml; charset=iso-8859-1", "TEXT/XML; charset=UTF-8",
                 "text/xml;charset=", "text/xml; boundary=x", "application/soap+xml", "text/xml, application/json",
                 "multipart/related; type=\"text/xml\"", "", " text/xml", "text/xml\t; charset=utf-8"]


@given(operation=operations, content_type=st.one_of(st.sampled_from(CONTENT_TYPES),
                                                    st.text(st.characters(min_codepoint=32, max_codepoint=126))))
def test_content_types(gateway, operation, content_type):
    data, payload = gateway.signed_request(operation)
    gateway.post(data, gateway.expected_body(operation, payload), content_type=content_type)


def test_the_log_still_chains_after_the_fuzz(hub):
    report = hub.log.verify_chain(raise_on_error=False)
    assert report.ok, report.reason
    assert report.records > 4 * 150 * 0.5  # every example added a refusal or a message to the chain
