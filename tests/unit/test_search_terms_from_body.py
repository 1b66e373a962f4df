"""Search terms read from a body the pipeline holds are the terms the log would read from its envelope.

The pipeline hands the log the terms of the body it has just mapped, so the
signed envelope is not parsed a second time to index it; for every canonical
sample, the body's own tree and the envelope built around it must give the
same terms, and a body still inside a larger tree is not read that way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.envelope import canonical_envelope, new_header
from hub.messagelog import search
from hub.pipeline import _body_terms
from hub.xmlsafe import parse_xml

SAMPLES = sorted(p for p in (Path(__file__).parents[1] / "samples" / "canonical").glob("*.xml")
                 if not p.name.startswith("envelope-") and p.stem != "Fault")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_the_body_gives_the_envelopes_terms(path):
    body = parse_xml(path.read_bytes())
    header = new_header(message_type=path.stem, source_agency="police", source_system="border",
                        destination="licensing", raw_payload=b"raw")
    from_envelope = search.terms_of(path.stem, canonical_envelope(header, body))
    assert list(search.terms_in(path.stem, body)) == from_envelope
    assert _body_terms(path.stem, body) == tuple(from_envelope)


def test_a_listed_type_has_terms_and_a_body_inside_another_tree_is_left_to_the_envelope():
    body = parse_xml((Path(__file__).parents[1] / "samples" / "canonical" / "WorkerArrival.xml").read_bytes())
    assert search.terms_in("WorkerArrival", body)  # names and numbers found: the comparison above is not empty
    holder = etree.Element("holder")
    holder.append(body)
    assert _body_terms("WorkerArrival", body) is None


def test_a_body_s_terms_are_the_words_of_each_text_in_order_once_each():
    """ASCII texts are split together, others text by text: either way, words() of each text, in order, once."""
    line = ("<rabt:SalaryLine><rabt:EmployeeCivilNumber>{number}</rabt:EmployeeCivilNumber>"
            "<rabt:EmployeeName>{name}</rabt:EmployeeName></rabt:SalaryLine>")
    names = [("12345678", "  Rajesh\tKUMAR "), ("87654321", "kumar " + "x" * 70 + " Rajesh"), ("12345678", "Ali")]
    for extra in ([], [("23456789", "أحْمَد  Rājesh")]):
        rows = names + extra
        body = parse_xml(('<rabt:SalaryBatch xmlns:rabt="urn:rabt:canonical:v1">'
                          + "".join(line.format(number=n, name=name) for n, name in rows)
                          + "</rabt:SalaryBatch>").encode())
        expected = list(dict.fromkeys(w for n, name in rows for text in (n, name) for w in search.words(text)))
        assert list(search.terms_in("SalaryBatch", body)) == expected
    assert expected[:5] == ["12345678", "rajesh", "kumar", "87654321", "x" * search.TERM_LENGTH]
    assert expected[-2:] == ["23456789", "احمد"]
